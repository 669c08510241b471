"""prolific-etl: export Prolific AI Task Builder batches into a SQL database."""

__version__ = "0.1.0"
