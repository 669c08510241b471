"""Alembic's entry point. The job runs migrations on its own connection (etl/store/migrate.py);
there is no alembic.ini, so the connection always comes in ``config.attributes``."""

from alembic import context

from etl.store.migrate import VERSION_TABLE
from etl.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    # SQLite cannot ALTER most things; batch mode recreates the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
