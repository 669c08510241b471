"""The ``prolific-etl`` command: a thin click layer over the library.

Exit codes (also in ``--help``):
  0  every batch loaded
  1  some batches or ID lines failed; the rest loaded
  2  usage or configuration error (bad flag, missing token, unreadable or empty ID file)
  3  fatal: token rejected, database unreachable
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from . import __version__
from .config import load_settings
from .errors import (
    ConfigError,
    DatabaseUnavailableError,
    EtlError,
    InputFileError,
    TokenRejectedError,
)
from .schema import DIALECTS, ddl
from .sync import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CONCURRENCY,
    EXIT_FATAL,
    EXIT_USAGE,
    sync,
)

EXIT_CODES_HELP = """\b
Exit codes:
  0  every batch loaded
  1  some batches or ID lines failed; the rest loaded
  2  usage or configuration error (bad flag, missing token,
     unreadable ID file, or one with no valid batch ID)
  3  fatal: the token was rejected, or the database is
     unreachable or stopped answering
"""

_EXIT_BY_ERROR: tuple[tuple[type[EtlError], int], ...] = (
    (ConfigError, EXIT_USAGE),
    (InputFileError, EXIT_USAGE),
    (TokenRejectedError, EXIT_FATAL),
    (DatabaseUnavailableError, EXIT_FATAL),
)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = "error: " if record.levelno >= logging.WARNING else ""
        return f"prolific-etl: {prefix}{record.getMessage()}"


def _configure_logging(verbose: bool) -> None:
    logger = logging.getLogger("etl")
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    logger.propagate = False


def _fail(error: EtlError) -> None:
    """Print ``error`` and exit with the code its class maps to."""
    code = next((code for cls, code in _EXIT_BY_ERROR if isinstance(error, cls)), EXIT_FATAL)
    for bad in getattr(error, "bad_lines", ()):
        click.echo(f"prolific-etl: error: {bad}", err=True)
    click.echo(f"prolific-etl: error: {error}", err=True)
    sys.exit(code)


@click.group(epilog=EXIT_CODES_HELP)
@click.version_option(__version__, prog_name="prolific-etl")
def main() -> None:
    """Export Prolific AI Task Builder batches into SQLite, PostgreSQL or MySQL/MariaDB."""


@main.command("sync", epilog=EXIT_CODES_HELP)
@click.option(
    "--ids",
    "ids_path",
    required=True,
    metavar="FILE",
    help="File of batch IDs, one a line ('-' for stdin).",
)
@click.option(
    "--token",
    metavar="TOKEN",
    help="Prolific API token [env PROLIFIC_API_TOKEN]. Prefer the environment or .env: "
    "a flag is visible in the process list.",
)
@click.option(
    "--api-url",
    metavar="URL",
    help="API base URL [env PROLIFIC_API_URL; default https://api.prolific.com].",
)
@click.option(
    "--database-url",
    metavar="URL",
    help="SQLAlchemy database URL [env DATABASE_URL; default sqlite:///prolific.db].",
)
@click.option(
    "--connect-timeout",
    type=float,
    metavar="SECONDS",
    help="Connect timeout per request [env ETL_CONNECT_TIMEOUT; default 10].",
)
@click.option(
    "--read-timeout",
    type=float,
    metavar="SECONDS",
    help="Read timeout per request [env ETL_READ_TIMEOUT; default 30].",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="Batches fetched at once.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(1, 5000),
    default=DEFAULT_CHUNK_SIZE,
    show_default=True,
    help="Batches loaded per database transaction.",
)
@click.option("-v", "--verbose", is_flag=True, help="Print what happens to every batch.")
def sync_command(
    ids_path,
    token,
    api_url,
    database_url,
    connect_timeout,
    read_timeout,
    concurrency,
    chunk_size,
    verbose,
) -> None:
    """Fetch the batches listed in FILE and upsert them into the database."""
    _configure_logging(verbose)
    try:
        settings = load_settings(
            api_token=token,
            api_url=api_url,
            database_url=database_url,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        result = sync(settings, ids_path, concurrency=concurrency, chunk_size=chunk_size)
    except EtlError as error:
        _fail(error)
    click.echo(result.summary())
    sys.exit(result.exit_code)


@main.group("db")
def db_group() -> None:
    """Database schema commands."""


@db_group.command("ddl")
@click.option("--dialect", type=click.Choice(DIALECTS), default="sqlite", show_default=True)
def ddl_command(dialect: str) -> None:
    """Print the CREATE statements for a database dialect."""
    click.echo(ddl(dialect), nl=False)


@main.command("demo")
@click.option(
    "--database",
    "database_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("prolific-demo.db"),
    show_default=True,
    help="SQLite file to fill.",
)
@click.option(
    "--batches",
    "batch_count",
    type=click.IntRange(1, 100_000),
    default=50,
    show_default=True,
    help="How many sample batches the local API serves.",
)
def demo_command(database_path: Path, batch_count: int) -> None:
    """Run the real sync against a local imitation of the API; no token needed."""
    from .demo import run_demo

    _configure_logging(False)
    try:
        result = run_demo(database_path, batch_count)
    except EtlError as error:
        _fail(error)
    click.echo(result.summary())
    click.echo(f"\nThe batches are in {database_path.resolve()}. Try:\n")
    for query in DEMO_QUERIES:
        click.echo(f'  sqlite3 {database_path} "{query}"')
    sys.exit(result.exit_code)


DEMO_QUERIES = (
    "SELECT status, COUNT(*) FROM batches GROUP BY status",
    "SELECT b.name, COUNT(l.dataset_id) AS datasets FROM batches b "
    "LEFT JOIN batch_datasets l ON l.batch_id = b.batch_id GROUP BY b.batch_id LIMIT 10",
    "SELECT run_id, status, inserted, updated, unchanged, failed FROM etl_runs",
)


if __name__ == "__main__":  # pragma: no cover
    main()
