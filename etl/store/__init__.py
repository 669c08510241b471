"""Everything that writes the database: the schema, dialects, loading, the run lock, migrations,
the run log and the reporting views. Never imports etl.source."""
