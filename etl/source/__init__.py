"""Everything that talks to the API: the client and its pacing, the ID file, fetching,
validating and flattening batches, and the local imitation of the API."""
