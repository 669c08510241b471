"""The ``prolific-etl`` command: a thin click layer over the library.

Exit codes (also in ``--help``):
  0  every batch loaded
  1  some batches or ID lines failed; the rest loaded
  2  usage or configuration error (bad flag, missing token, unreadable or empty ID file)
  3  fatal: token rejected, database unreachable
  4  another run holds the database's lock; nothing was done
  130  stopped by SIGINT or SIGTERM; the run is recorded as aborted
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

import click

from . import __version__
from .client import RetryPolicy
from .config import load_settings
from .errors import (
    ApiUnreachableError,
    ConfigError,
    DatabaseUnavailableError,
    EtlError,
    InputFileError,
    RunLockedError,
    TokenRejectedError,
)
from .ids import read_id_file
from .runs import Failure
from .schema import DIALECTS, ddl
from .sync import DEFAULT_CHUNK_SIZE, DEFAULT_CONCURRENCY, SyncResult, sync

# The one place where outcomes become exit codes.
EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_FATAL, EXIT_LOCKED = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130  # the shell's convention for a run stopped by a signal
_EXIT_BY_STATUS = {"succeeded": EXIT_OK, "partial": EXIT_PARTIAL}
_EXIT_BY_ERROR: tuple[tuple[type[EtlError], int], ...] = (
    (ConfigError, EXIT_USAGE),
    (InputFileError, EXIT_USAGE),
    (TokenRejectedError, EXIT_FATAL),
    (ApiUnreachableError, EXIT_FATAL),
    (DatabaseUnavailableError, EXIT_FATAL),
    (RunLockedError, EXIT_LOCKED),
)

EXIT_CODES_HELP = """\b
Exit codes:
  0    every batch loaded
  1    some batches or ID lines failed; the rest loaded
  2    usage or configuration error (bad flag, missing token,
       unreadable ID file, or one with no valid batch ID)
  3    fatal: the token was rejected, the API cannot be
       reached at all, the database is unreachable or
       stopped accepting writes, or an internal error
  4    another run is in progress on this database;
       this one did nothing
  130  stopped by SIGINT or SIGTERM; the run is
       recorded as aborted
"""


def exit_code_for(result: SyncResult) -> int:
    """The exit code for a run that ended without raising."""
    return _EXIT_BY_STATUS.get(result.status, EXIT_FATAL)


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


def _fail(error: EtlError, token: str = "") -> None:
    """Print ``error`` and exit with the code its class maps to."""
    code = next((code for cls, code in _EXIT_BY_ERROR if isinstance(error, cls)), EXIT_FATAL)
    for bad in getattr(error, "bad_lines", ()):
        click.echo(f"prolific-etl: error: {Failure.from_bad_line(bad, token)}", err=True)
    click.echo(f"prolific-etl: error: {error}", err=True)
    if error.run_result is not None:
        click.echo(error.run_result.summary())
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
    "token_flag",
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
@click.option(
    "--max-rps",
    type=click.FloatRange(min=0.01),
    metavar="N",
    help="Most requests per second, retries included (to stay under an API quota).",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(1, 20),
    default=RetryPolicy.max_attempts,
    show_default=True,
    help="Attempts per batch on 429, 5xx, timeouts and dropped connections.",
)
@click.option(
    "--max-retry-wait",
    type=click.FloatRange(0, 3600),
    default=RetryPolicy.max_total_wait,
    show_default=True,
    metavar="SECONDS",
    help="Most time spent waiting between attempts for one batch.",
)
@click.option(
    "--fail-fast", is_flag=True, help="Stop at the first failed batch or ID line (exit 1)."
)
@click.option("-v", "--verbose", is_flag=True, help="Print what happens to every batch.")
def sync_command(
    ids_path,
    token_flag,
    api_url,
    database_url,
    connect_timeout,
    read_timeout,
    concurrency,
    chunk_size,
    max_rps,
    max_attempts,
    max_retry_wait,
    fail_fast,
    verbose,
) -> None:
    """Fetch the batches listed in FILE and upsert them into the database."""
    _configure_logging(verbose)
    _stop_on_sigterm()
    token = ""
    try:
        settings = load_settings(
            api_token=token_flag,
            api_url=api_url,
            database_url=database_url,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        token = settings.api_token
        result = sync(
            settings,
            ids_path,
            concurrency=concurrency,
            chunk_size=chunk_size,
            retry_policy=RetryPolicy(max_attempts=max_attempts, max_total_wait=max_retry_wait),
            fail_fast=fail_fast,
            max_requests_per_second=max_rps,
        )
    except EtlError as error:
        _fail(error, token)
    except KeyboardInterrupt:
        click.echo("prolific-etl: error: interrupted; the run is recorded as aborted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # a bug: say so plainly, never as "some batches failed"
        message = f"{type(exc).__name__}: {exc}".replace(token, "***") if token else str(exc)
        click.echo(f"prolific-etl: internal error: {message}", err=True)
        sys.exit(EXIT_FATAL)
    click.echo(result.summary())
    if result.error_message:
        click.echo(f"prolific-etl: error: {result.error_message}", err=True)
    sys.exit(exit_code_for(result))


def _stop_on_sigterm() -> None:
    """Let SIGTERM (systemd, timeout(1), an orchestrator) end the run as cleanly as Ctrl-C."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


@main.group("db")
def db_group() -> None:
    """Database schema commands."""


@db_group.command("ddl")
@click.option("--dialect", type=click.Choice(DIALECTS), default="sqlite", show_default=True)
def ddl_command(dialect: str) -> None:
    """Print the CREATE statements for a database dialect."""
    click.echo(ddl(dialect), nl=False)


@db_group.command("views")
@click.option("--dialect", type=click.Choice(DIALECTS), default="sqlite", show_default=True)
def views_command(dialect: str) -> None:
    """Print the reporting views' DROP and CREATE VIEW statements for a database dialect."""
    from .views import views_sql

    click.echo(views_sql(dialect), nl=False)


@db_group.command("docs")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the dictionary to FILE instead of standard output.",
)
def docs_command(output: Path | None) -> None:
    """Print the data dictionary (tables, views, ER diagram) as Markdown."""
    from .docs import data_dictionary

    text = data_dictionary()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


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
    from .demo import DEMO_QUERIES, run_demo

    _configure_logging(False)
    try:
        result = run_demo(database_path, batch_count)
    except EtlError as error:
        _fail(error)
    click.echo(result.summary())
    click.echo(f"\nThe batches are in {database_path.resolve()}. Try:\n")
    for query in DEMO_QUERIES:
        click.echo(f'  sqlite3 {database_path} "{query}"')
    sys.exit(exit_code_for(result))


@main.command("fake-api")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port on 127.0.0.1 (0 picks a free one).",
)
@click.option(
    "--token", default="fake-token", show_default=True, help="The token the imitation accepts."
)
@click.option(
    "--latency",
    type=click.FloatRange(0, 60),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="Added to every response.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed for the generated batches."
)
@click.option(
    "--preload",
    "preload_path",
    type=click.Path(exists=True, dir_okay=False),
    help="ID file whose batches are generated before serving starts.",
)
def fake_api_command(
    port: int, token: str, latency: float, seed: int, preload_path: str | None
) -> None:
    """Serve a local imitation of the API: any UUID is a generated batch.

    Prints the base URL on the first line, then serves until interrupted. For trying the job
    without a token, and for the benchmark.
    """
    from .fake_api import serve

    serve(
        port=port,
        token=token,
        latency=latency,
        seed=seed,
        preload=read_id_file(preload_path).batch_ids if preload_path else (),
        on_ready=lambda url: click.echo(url) or sys.stdout.flush(),
        before_serving=_stop_on_sigterm,
    )


if __name__ == "__main__":  # pragma: no cover
    main()
