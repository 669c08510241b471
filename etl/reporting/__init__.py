"""Reading the store for people and BI tools: exports, the data dictionary, the run history."""
