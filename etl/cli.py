"""The ``prolific-etl`` command: a thin click layer over the library.

Outcomes become exit codes here and nowhere else; EXIT_CODES_HELP lists them for ``--help``.
"""

from __future__ import annotations

import logging
import math
import os
import shlex
import signal
import sys
import threading
from pathlib import Path

import click
from click.core import ParameterSource
from sqlalchemy.engine import make_url

from . import __version__
from .config import (
    Settings,
    export_network_settings,
    load_database_url,
    load_settings,
)
from .demo import DEFAULT_DATABASE as DEMO_DATABASE
from .demo import DEFAULT_NIGHTS as DEMO_NIGHTS
from .errors import (
    ApiUnreachableError,
    ConfigError,
    DatabaseUnavailableError,
    EtlError,
    InputFileError,
    RunLockedError,
    SchemaVersionError,
    TokenRejectedError,
    UnknownRunError,
)
from .job import DEFAULT_CHUNK_SIZE, DEFAULT_CONCURRENCY, SyncOptions, SyncResult, sync
from .launch import hand_over_signals, signals_before_start
from .output import LOG_FORMATS, NORMAL, QUIET, VERBOSE, configure_logging, progress_bar
from .reporting.export import DEFAULT_CHUNK_SIZE as DEFAULT_EXPORT_CHUNK_SIZE
from .reporting.export import FORMATS as EXPORT_FORMATS
from .reporting.export import export_relation, format_for, open_database
from .reporting.labels import LABEL_FORMATS, export_labels
from .reporting.report_data import DEFAULT_DAYS as REPORT_DEFAULT_DAYS
from .reporting.report_data import MAX_DAYS as REPORT_MAX_DAYS
from .reporting.report_labels import DEFAULT_THRESHOLD as AGREEMENT_THRESHOLD
from .reporting.run_history import (
    DEFAULT_LIMIT,
    MAX_RUN_ID,
    open_run_log,
    recent_runs,
    run_details,
    run_details_json,
    run_details_text,
    runs_json,
    runs_table,
)
from .run.runner import INTERRUPTED_BEFORE_START
from .samples import DEFAULT_BATCHES as DEFAULT_SAMPLE_BATCHES
from .samples import ERROR_KIND_NAMES
from .source.client import RetryPolicy
from .source.ids import read_id_file
from .store.runlog import Failure, utcnow
from .store.schema import DIALECTS, ddl
from .text import redact, redact_api_url, redact_url

# The one place where outcomes become exit codes.
EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_FATAL, EXIT_LOCKED = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130  # the shell's convention for a run stopped by a signal
_EXIT_BY_STATUS = {"succeeded": EXIT_OK, "partial": EXIT_PARTIAL, "aborted": EXIT_INTERRUPTED}
_EXIT_BY_ERROR: tuple[tuple[type[EtlError], int], ...] = (
    (ConfigError, EXIT_USAGE),
    (InputFileError, EXIT_USAGE),
    (SchemaVersionError, EXIT_USAGE),
    (TokenRejectedError, EXIT_FATAL),
    (ApiUnreachableError, EXIT_FATAL),
    (DatabaseUnavailableError, EXIT_FATAL),
    (RunLockedError, EXIT_LOCKED),
    (UnknownRunError, EXIT_USAGE),
)

EXIT_CODES_HELP = """\b
Exit codes:
  0    every batch loaded
  1    some batches or ID lines failed; the rest loaded
  2    usage or configuration error (bad flag, missing token,
       unreadable ID file, or one with no valid batch ID,
       database schema outdated: run `db upgrade`)
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


OUTPUT_HELP = """\b
Output:
  stdout     one summary line at the end, whatever the flags
  stderr     failed batches, warnings and errors; a progress
             bar with counts when stderr is a terminal
  -v         also a line per batch and per retry
  --quiet    only errors: no warnings, no progress bar
  --log-format json
             stderr as JSON lines (ts, level, event, message,
             run_id, batch_id, duration) and no progress bar;
             run_started and run_finished events always
             (with --quiet only run_finished)
"""

log = logging.getLogger("etl")


class FiniteFloatRange(click.FloatRange):
    """A number within bounds that is neither nan nor infinite: nan passes every comparison,
    so ``FloatRange`` alone would let ``--max-rps nan`` through (and hang the pacing)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


# Every command that touches the database takes the same option, resolved the same way.
database_url_option = click.option(
    "--database-url",
    metavar="URL",
    help="SQLAlchemy database URL [env DATABASE_URL; default sqlite:///prolific.db].",
)


def _configure_logging(verbose: bool, *, quiet: bool = False, log_format: str = "text") -> None:
    configure_logging(VERBOSE if verbose else QUIET if quiet else NORMAL, log_format)


def _error(message: str, *, exit_code: int, event: str = "error", **fields) -> None:
    """An error on stderr, through logging so that --log-format json keeps it one JSON line."""
    message = redact_api_url(message)
    log.error("%s", message, extra={"event": event, "exit_code": exit_code, **fields})


def _fail(error: EtlError, token: str = "", *, report: _RunReport | None = None) -> None:
    """Print ``error`` and exit with the code its class maps to (after writing ``report``)."""
    code = next((code for cls, code in _EXIT_BY_ERROR if isinstance(error, cls)), EXIT_FATAL)
    for bad in getattr(error, "bad_lines", ()):
        failure = Failure.from_bad_line(bad, token)
        _error(str(failure), exit_code=code, event="bad_id_line", line_number=failure.line_number)
    run_id = error.run_result.run_id if error.run_result is not None else None
    _error(redact(error.for_command(), token), exit_code=code, run_id=run_id)
    if error.run_result is not None:
        click.echo(error.run_result.summary())
    if report is not None:
        report.write_for(error.run_result, redact(str(error), token))
    sys.exit(code)


class _Main(click.Group):
    """The command group: a reader of stdout that stops early (`export ... | head`) ends the
    command quietly with exit 0; it has what it wanted."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # What is still buffered for stdout goes nowhere, instead of failing again at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            sys.exit(EXIT_OK)


agreement_threshold_option = click.option(
    "--agreement-threshold",
    type=click.FloatRange(-1, 1),
    default=AGREEMENT_THRESHOLD,
    show_default=True,
    help="The report lists the instructions whose Krippendorff's alpha is below this "
    "(0.667: Krippendorff's lowest for tentative conclusions).",
)


@click.group(cls=_Main, epilog=EXIT_CODES_HELP)
@click.version_option(__version__, prog_name="prolific-etl")
def main() -> None:
    """Export Prolific AI Task Builder batches into SQLite, PostgreSQL or MySQL/MariaDB."""
    hand_over_signals(click.get_current_context().invoked_subcommand)
    _configure_logging(False)  # errors on this stderr; `sync` refines it with its flags


class _SyncCommand(click.Command):
    """``sync``, which needs at least one source of batches; checked while parsing, so that a
    unit file or crontab line without one is refused as any other bad command line is."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        params = ctx.params
        if params.get("ids_path") is None and not (
            params.get("workspaces") or params.get("all_workspaces")
        ):
            raise click.UsageError(
                "nothing to sync: give --ids FILE, --workspace ID or --all-workspaces", ctx
            )
        return rest


def _refuse_flag_clashes(*, quiet: bool, verbose: int, report, dry_run: bool) -> None:
    """A usage error for flags sync cannot take together."""
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose cannot be used together")
    if report is not None and dry_run:
        raise click.UsageError(
            "--report and --dry-run cannot be used together: a dry run writes nothing"
        )


@main.command("sync", cls=_SyncCommand, epilog=OUTPUT_HELP + "\n" + EXIT_CODES_HELP)
@click.option(
    "--ids",
    "ids_path",
    metavar="FILE",
    help="File of batch IDs, one a line ('-' for stdin).",
)
@click.option(
    "--workspace",
    "workspaces",
    multiple=True,
    metavar="ID",
    help="Also load every batch of this workspace, from its listing (repeatable).",
)
@click.option(
    "--all-workspaces",
    is_flag=True,
    help="Also load every batch of every workspace the token can see.",
)
@click.option(
    "--responses/--no-responses",
    "responses",
    default=None,
    help="Also load every synced batch's responses (what participants answered): one request "
    "and possibly many megabytes per batch [env ETL_RESPONSES; default off].",
)
@click.option(
    "--submissions/--no-submissions",
    "submissions",
    default=None,
    help="Also load the studies that recruit for the synced batches, their submissions "
    "(approved, rejected, ...), counts and costs; with --responses, a batch whose studies are "
    "complete and whose responses were loaded since is not downloaded again "
    "[env ETL_SUBMISSIONS; default off].",
)
@click.option(
    "--demographics",
    is_flag=True,
    help="With --submissions, also store each participant's demographics (PERSONAL DATA: "
    "date of birth, sex, ethnicity...). Off by default; the IP address is never stored.",
)
@click.option(
    "--full-refresh",
    is_flag=True,
    help="Download every synced batch's responses, even those --submissions knows are settled.",
)
@click.option(
    "--no-dataset-details",
    "dataset_details",
    is_flag=True,
    flag_value=False,
    default=True,
    help="Do not fetch the details (name, status, schema, imports) of new or changed datasets.",
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
@database_url_option
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
    help="Most seconds without a byte from the API; an attempt also ends after connect + read "
    "timeout in all [env ETL_READ_TIMEOUT; default 30].",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="Most requests in flight at once (the pace itself adapts to the API).",
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
    type=FiniteFloatRange(min=0.01),
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
    type=FiniteFloatRange(0, 3600),
    default=RetryPolicy.max_total_wait,
    show_default=True,
    metavar="SECONDS",
    help="Most time spent waiting between attempts for one batch.",
)
@click.option(
    "--fail-fast", is_flag=True, help="Stop at the first failed batch or ID line (exit 1)."
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Fetch and validate every batch and say what would change; write nothing at all. "
    "Responses are not fetched or compared (--responses is said to be ignored).",
)
@click.option(
    "--auto-migrate",
    is_flag=True,
    help="Upgrade an outdated database schema first (as `db upgrade` does) instead of exiting 2.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="At the end, whatever the outcome, write the morning report (an HTML page, as "
    "`prolific-etl report` does) to FILE; a report that cannot be written is said on stderr "
    "and leaves the exit code alone.",
)
@agreement_threshold_option
@click.option("-v", "--verbose", is_flag=True, help="Also log every batch and every retry.")
@click.option(
    "-q", "--quiet", is_flag=True, help="Log only errors; no progress bar. The summary stays."
)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="text",
    show_default=True,
    help="Logs on stderr as text, or as JSON lines for a log shipper.",
)
def sync_command(
    ids_path,
    workspaces,
    all_workspaces,
    responses,
    submissions,
    demographics,
    full_refresh,
    dataset_details,
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
    dry_run,
    auto_migrate,
    report_path,
    agreement_threshold,
    verbose,
    quiet,
    log_format,
) -> None:
    """Fetch batches and upsert them into the database.

    The batches come from an ID file (--ids), from workspaces' batch listings (--workspace,
    --all-workspaces), or both; at least one is needed.
    """
    _refuse_flag_clashes(quiet=quiet, verbose=verbose, report=report_path, dry_run=dry_run)
    _configure_logging(verbose, quiet=quiet, log_format=log_format)
    stop = _stop_on_signals()
    token = ""
    report = _RunReport(report_path, database_url, agreement_threshold=agreement_threshold)
    try:
        export_network_settings()
        settings = load_settings(
            api_token=token_flag,
            api_url=api_url,
            database_url=database_url,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        token = settings.api_token
        options = SyncOptions(
            concurrency=concurrency,
            chunk_size=chunk_size,
            retry_policy=RetryPolicy(max_attempts=max_attempts, max_total_wait=max_retry_wait),
            max_requests_per_second=max_rps,
            fail_fast=fail_fast,
            dataset_details=dataset_details,
            responses=settings.responses if responses is None else responses,
            submissions=settings.submissions if submissions is None else submissions,
            demographics=demographics,
            full_refresh=full_refresh,
            auto_migrate=auto_migrate,
            dry_run=dry_run,
        )
        show_bar = sys.stderr.isatty() and not quiet and log_format == "text"
        sources = (ids_path, workspaces, all_workspaces)
        result = _sync_with_progress(settings, *sources, options, show_bar=show_bar, stop=stop)
    except EtlError as error:
        _fail(error, token, report=report)
    except KeyboardInterrupt:  # only before the handlers were in place
        _error("interrupted; nothing was written", exit_code=EXIT_INTERRUPTED)
        report.write(status="did not run", message="interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # a bug: say so plainly, never as "some batches failed"
        message = redact(f"{type(exc).__name__}: {exc}", token)
        _error(f"internal error: {message}", exit_code=EXIT_FATAL)
        report.write(status="failed", message=f"internal error: {message}")
        sys.exit(EXIT_FATAL)
    _end_sync(result, report)


def _sync_with_progress(
    settings: Settings,
    ids_path: str | None,
    workspaces: tuple[str, ...],
    all_workspaces: bool,
    options: SyncOptions,
    *,
    show_bar: bool,
    stop: threading.Event,
) -> SyncResult:
    """``sync()`` with a progress bar on a terminal."""
    # Read here, so that the bar knows the file's share of the total from the start.
    id_file = read_id_file(ids_path) if ids_path is not None else None
    total = len(id_file.batch_ids) if id_file is not None else 0
    with progress_bar(total, show=show_bar) as on_progress:
        return sync(
            settings,
            id_file,
            workspaces=workspaces,
            all_workspaces=all_workspaces,
            options=options,
            on_progress=on_progress,
            stop=stop,
        )


def _end_sync(result: SyncResult, report: _RunReport) -> None:
    """The summary on stdout, the run's error on stderr, the report, and the exit code."""
    click.echo(result.summary())
    if result.status == "aborted":
        _error(_interrupted(result), exit_code=EXIT_INTERRUPTED, run_id=result.run_id)
    elif result.error_message:
        _error(result.error_message, exit_code=exit_code_for(result), run_id=result.run_id)
    report.write_for(result)
    sys.exit(exit_code_for(result))


class _RunReport:
    """``sync --report FILE``: the morning report, written once the run's outcome is known.

    Its failure is said on stderr and changes nothing else: the run is recorded already, and
    its exit code stays the run's. Without ``--report`` it does nothing.
    """

    def __init__(
        self,
        path: Path | None,
        database_url: str | None,
        *,
        days: int = REPORT_DEFAULT_DAYS,
        agreement_threshold: float = AGREEMENT_THRESHOLD,
    ) -> None:
        self.path = path
        self.database_url = database_url
        self.days = days
        self.agreement_threshold = agreement_threshold

    def write_for(self, result: SyncResult | None, message: str | None = None) -> bool:
        if result is None or result.run_id is None:
            return self.write(status="did not run", message=message)
        return self.write(
            status=result.status,
            message=message or result.error_message,
            run_id=result.run_id,
            recorded=result.recorded,
        )

    def write(self, **this_run) -> bool:
        """Write the report about this run (etl.reporting.report.ThisRun's fields); whether it
        was written."""
        if self.path is None:
            return False
        from .reporting.report import ThisRun, write_report

        try:
            write_report(
                self.path,
                load_database_url(self.database_url),
                days=self.days,
                this_run=ThisRun(**this_run),
                agreement_threshold=self.agreement_threshold,
            )
        except Exception as exc:  # any failure, a bug included: said, and the run's code kept
            message = str(exc) if isinstance(exc, EtlError) else f"{type(exc).__name__}: {exc}"
            _error(
                f"the report was not written: {message}", exit_code=None, event="report_not_written"
            )
            return False
        return True


def _interrupted(result: SyncResult) -> str:
    if result.dry_run:
        return "interrupted; nothing was written"
    if result.run_id is None:
        return "interrupted before the run started; nothing was written"
    if result.error_message == INTERRUPTED_BEFORE_START:
        return (
            f"interrupted before the run started; nothing was fetched; run {result.run_id} "
            "is recorded as aborted"
        )
    if result.recorded:
        return f"interrupted; run {result.run_id} is recorded as aborted"
    return (
        f"interrupted; could not record run {result.run_id} as aborted (see above); "
        "the next run will mark it aborted"
    )


def _stop_on_signals() -> threading.Event:
    """An event that SIGINT and SIGTERM set, asking the run to stop.

    A signal never raises inside the run (it could land in the middle of a database write):
    the run sees the event between batches, lets the chunk being written commit, and records
    itself as aborted. A second signal is only acknowledged; the stop is already under way.
    """
    stop = threading.Event()
    if signals_before_start():  # while the command was still being imported
        stop.set()

    def request_stop(signum, frame):
        if stop.is_set():
            log.warning(
                "%s again: already stopping; recording the run as aborted",
                signal.Signals(signum).name,
                extra={"event": "stopping"},
            )
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, request_stop)
    return stop


def _interrupt_on_sigterm() -> None:
    """Let SIGTERM end a command that has nothing to record (fake-api) as Ctrl-C does."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


@main.command("check")
@click.option("--ids", "ids_path", metavar="FILE", help="Also check this ID file ('-' for stdin).")
@click.option(
    "--token", "token_flag", metavar="TOKEN", help="Prolific API token [env PROLIFIC_API_TOKEN]."
)
@click.option("--api-url", metavar="URL", help="API base URL [env PROLIFIC_API_URL].")
@database_url_option
def check_command(ids_path, token_flag, api_url, database_url) -> None:
    """Check the setup: settings, token, database, schema and ID file; keep nothing.

    Asks the API for a batch ID nobody has, then for the workspaces, to see whether the token
    is accepted and the URL answers as the API does; writes to the database in a transaction
    it rolls back, to see whether a sync could. Exits 0 when every check passed or was
    skipped, 1 when any failed.
    """
    from .check import render, run_checks

    checks = run_checks(
        api_token=token_flag, api_url=api_url, database_url=database_url, ids_path=ids_path
    )
    render(checks, click.echo)
    failed = sum(check.failed for check in checks)
    click.echo(f"{failed} check(s) failed" if failed else "ready: every check passed")
    sys.exit(EXIT_PARTIAL if failed else EXIT_OK)


_RUNS_EXIT_CODES_HELP = """\b
Exit codes:
  0  done (also when no run is recorded yet)
  2  usage error, or the schema is outdated (run
     `db upgrade`)
  3  the database cannot be read
"""
_RUNS_SHOW_EXIT_CODES_HELP = """\b
Exit codes:
  0  shown
  2  usage error, or no such run (also when no run
     is recorded yet), or the schema is outdated
     (run `db upgrade`)
  3  the database cannot be read
"""


def _no_runs(url: str) -> str:
    """There are no runs in ``url``, and what to do about it."""
    message = (
        f"no runs recorded in {redact_url(url)}: if the job writes elsewhere, give "
        "--database-url or set DATABASE_URL"
    )
    demo = DEMO_DATABASE.resolve()
    if demo.is_file() and _sqlite_path(url) != demo:
        message += (
            f"; the demo's runs are in {DEMO_DATABASE}: {command_name()} runs "
            f"--database-url sqlite:///{DEMO_DATABASE}"
        )
    return message


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database).resolve()


def _runs_options(command):
    command = click.option(
        "--format",
        "output_format",
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
        help="A table for people, or JSON (timestamps ISO 8601 in UTC).",
    )(command)
    return database_url_option(command)


@main.group("runs", invoke_without_command=True, epilog=_RUNS_EXIT_CODES_HELP)
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_RUN_ID),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="How many runs to list, newest first.",
)
@_runs_options
@click.pass_context
def runs_group(ctx: click.Context, limit: int, output_format: str, database_url: str | None):
    """List the last runs from etl_runs, newest first; no token needed.

    JSON is one array of objects. `prolific-etl runs show RUN_ID` shows one run and its failures.
    """
    if ctx.invoked_subcommand is not None:
        return
    try:
        url = load_database_url(database_url)
        with open_run_log(url) as engine:
            runs = recent_runs(engine, limit) if engine is not None else []
    except EtlError as error:
        _fail(error)
    if not runs:
        click.echo(f"prolific-etl: {_no_runs(url)}", err=True)
    if output_format == "json":
        click.echo(runs_json(runs, utcnow()))
    elif runs:
        click.echo(runs_table(runs, utcnow()))


@runs_group.command("show", epilog=_RUNS_SHOW_EXIT_CODES_HELP)
@click.argument("run_id", type=click.IntRange(1, MAX_RUN_ID))
@_runs_options
@click.pass_context
def runs_show_command(
    ctx: click.Context, run_id: int, output_format: str, database_url: str | None
) -> None:
    """Show run RUN_ID in full, with its failures from etl_failures."""
    # `runs --format json show 3` means the same as `runs show 3 --format json`.
    if ctx.get_parameter_source("output_format") is ParameterSource.DEFAULT:
        output_format = ctx.parent.params["output_format"]
    try:
        url = load_database_url(database_url or ctx.parent.params["database_url"])
        with open_run_log(url) as engine:
            if engine is None or not recent_runs(engine, 1):
                raise UnknownRunError(_no_runs(url))
            details = run_details(engine, run_id)
    except EtlError as error:
        _fail(error)
    if output_format == "json":
        click.echo(run_details_json(details, utcnow()))
    else:
        click.echo(run_details_text(details, utcnow()))


@main.group("db")
def db_group() -> None:
    """Database schema commands."""


@db_group.command("upgrade")
@database_url_option
def upgrade_command(database_url: str | None) -> None:
    """Bring the database's schema up to this version, in place, keeping every row.

    Creates the schema in an empty database; does nothing when it is already current. Waits for
    no one: if a sync is running on the database, exits 4.
    """
    from .store.db import connect
    from .store.lock import run_lock
    from .store.migrate import upgrade

    try:
        url = load_database_url(database_url)
        engine = connect(url)
        try:
            with run_lock(engine):
                before = upgrade(engine)
        finally:
            engine.dispose()
    except EtlError as error:
        _fail(error)
    where = redact_url(url)
    if before.is_current:
        click.echo(f"{where}: already at revision {before.head}; nothing to do")
    elif before.is_empty:
        click.echo(f"{where}: created the schema at revision {before.head}")
    else:
        click.echo(f"{where}: upgraded from revision {before.current} to {before.head}")


def _dialect_option(what: str):
    """``--dialect`` for `db ddl` and `db views`: the databases DATABASE_URL takes, mariadb
    (which mariadb:// URLs name) printing the same SQL as mysql."""
    return click.option(
        "--dialect",
        type=click.Choice((*DIALECTS, "mariadb")),
        default="sqlite",
        show_default=True,
        callback=lambda ctx, param, value: "mysql" if value == "mariadb" else value,
        help=f"The database to print {what} for; mariadb is the same as mysql.",
    )


@db_group.command("ddl")
@_dialect_option("the tables' CREATE statements")
def ddl_command(dialect: str) -> None:
    """Print the CREATE statements for a database dialect."""
    click.echo(ddl(dialect), nl=False)


@db_group.command("queries")
@click.argument("name", required=False)
def queries_command(name: str | None) -> None:
    """List the example queries (each reads the reporting views, on every dialect), or print
    query NAME's SQL: `prolific-etl db queries time_to_ready | sqlite3 prolific.db`."""
    from .resources import example_queries

    _print_shipped(example_queries(), name and name.removesuffix(".sql"), "example query")


@main.command("examples")
@click.argument("name", required=False)
def examples_command(name: str | None) -> None:
    """List the example files (an ID file, the settings, systemd units, a crontab), or print
    file NAME: `prolific-etl examples batch_ids.txt > batch_ids.txt`."""
    from .resources import example_files

    _print_shipped(example_files(), name, "example file")


def _print_shipped(texts: dict[str, str], name: str | None, what: str) -> None:
    """Print the text of ``name``, or with no name each name and what its first line says."""
    from .resources import first_line

    if name is None:
        width = max(map(len, texts))
        for known, text in texts.items():
            click.echo(f"{known.ljust(width)}  {first_line(text)}")
    elif name in texts:
        click.echo(texts[name], nl=False)
    else:
        raise click.BadParameter(
            f"no {what} {name!r}; there are: {', '.join(texts)}", param_hint="NAME"
        )


EXPORT_EXIT_CODES_HELP = """\b
Exit codes:
  0  written
  2  no such table or view (the message lists them),
     bad option, unwritable file, an --output that is
     not a regular file, Parquet to a terminal, an
     outdated schema (run `db upgrade`)
  3  the database is missing or unreachable
"""


@main.command("export", epilog=EXPORT_EXIT_CODES_HELP)
@click.argument("name")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    help="Output format [default: from the --output file's extension (.csv, .jsonl, .ndjson, "
    ".parquet); csv for stdout or a name without one; another extension needs --format].",
)
@click.option(
    "-o",
    "--output",
    default="-",
    metavar="FILE",
    help="Regular file to write, replaced once complete ('-' for stdout, the default).",
)
@database_url_option
@click.option(
    "--chunk-size",
    type=click.IntRange(1, 1_000_000),
    default=DEFAULT_EXPORT_CHUNK_SIZE,
    show_default=True,
    help="Rows read and written at a time (one Parquet row group each).",
)
def export_command(name: str, fmt: str | None, output: str, database_url, chunk_size) -> None:
    """Write table or view NAME to CSV, JSON Lines or Parquet, ordered by its key. No token
    needed."""
    to_stdout = output == "-"
    stdout = sys.stdout.buffer
    try:
        fmt = format_for(None if to_stdout else output, fmt)
        if not output:
            raise ConfigError("--output is empty: name a file, or '-' for standard output")
        if to_stdout and fmt == "parquet" and stdout.isatty():
            raise ConfigError(
                "Parquet is binary and stdout is a terminal: pass --output FILE or redirect stdout"
            )
        engine = open_database(load_database_url(database_url))
        try:
            rows = export_relation(
                engine, name, fmt, stdout if to_stdout else output, chunk_size=chunk_size
            )
        finally:
            engine.dispose()
    except EtlError as error:
        _fail(error)
    if not to_stdout:
        click.echo(f"{rows} rows of {name} written to {output} ({fmt})")


@main.command("labels", epilog=EXPORT_EXIT_CODES_HELP)
@click.option(
    "--batch",
    "batch_ids",
    multiple=True,
    metavar="ID",
    help="Only this batch (repeatable) [default: every batch].",
)
@click.option(
    "--approved-only",
    is_flag=True,
    help="Only answers of APPROVED submissions (needs sync --submissions).",
)
@click.option(
    "--min-support",
    type=click.FloatRange(0, 1),
    metavar="N",
    help="Only consensus labels with at least this support (votes / answers, 0 to 1), no "
    "ties; tasks with none left are left out.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(LABEL_FORMATS),
    default="jsonl",
    show_default=True,
    help="jsonl: one line per task; csv: one row per task and instruction.",
)
@click.option(
    "-o",
    "--output",
    default="-",
    metavar="FILE",
    help="Regular file to write, replaced once complete ('-' for stdout, the default).",
)
@database_url_option
def labels_command(
    batch_ids: tuple[str, ...],
    approved_only: bool,
    min_support: float | None,
    fmt: str,
    output: str,
    database_url,
) -> None:
    """Write the training-ready labels: per task, the consensus of each instruction with its
    support and every individual answer, streamed. No token needed."""
    to_stdout = output == "-"
    try:
        if not output:
            raise ConfigError("--output is empty: name a file, or '-' for standard output")
        engine = open_database(load_database_url(database_url))
        try:
            tasks = export_labels(
                engine,
                sys.stdout.buffer if to_stdout else output,
                fmt=fmt,
                batch_ids=batch_ids,
                approved_only=approved_only,
                min_support=min_support,
            )
        finally:
            engine.dispose()
    except EtlError as error:
        _fail(error)
    if not to_stdout:
        click.echo(f"{tasks} tasks' labels written to {output} ({fmt})")


REPORT_EXIT_CODES_HELP = """\b
Exit codes:
  0  written (also for a database with no run yet:
     the page says there is nothing yet)
  2  bad option, unwritable file, database schema
     outdated (run `db upgrade`)
  3  the database is unreachable
"""


@main.command("report", epilog=REPORT_EXIT_CODES_HELP)
@click.option(
    "-o",
    "--output",
    default="prolific-report.html",
    show_default=True,
    metavar="FILE",
    help="HTML file to write, replaced once complete ('-' for stdout).",
)
@click.option(
    "--days",
    type=click.IntRange(1, REPORT_MAX_DAYS),
    default=REPORT_DEFAULT_DAYS,
    show_default=True,
    help="How many days of history the charts and tables cover (UTC days, today included).",
)
@agreement_threshold_option
@database_url_option
def report_command(
    output: str, days: int, agreement_threshold: float, database_url: str | None
) -> None:
    """Write the morning report: one self-contained HTML page with the last run, batches per
    status over time, time to ready, the runs and their failures. No token needed."""
    from .reporting.report import write_report

    try:
        written = write_report(
            output,
            load_database_url(database_url),
            days=days,
            agreement_threshold=agreement_threshold,
        )
    except EtlError as error:
        _fail(error)
    if written is not None:
        click.echo(f"report written to {written}")


@db_group.command("views")
@_dialect_option("the views' SQL")
def views_command(dialect: str) -> None:
    """Print the reporting views' DROP and CREATE VIEW statements for a database dialect."""
    from .store.views import views_sql

    click.echo(views_sql(dialect), nl=False)


@db_group.command("docs")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the dictionary to FILE instead of standard output.",
)
def docs_command(output: Path | None) -> None:
    """Print the data dictionary (tables, views, ER diagram) as Markdown."""
    from .reporting.docs import data_dictionary

    text = data_dictionary()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


DEMO_EXIT_CODES_HELP = """\b
Exit codes:
  0  every night ran, and failed only where the demo
     means it to (the batch deleted upstream)
  1  something else failed too (see `runs show`)
  2  --database names the database `sync` writes to,
     or one holding anything but an earlier demo
  3  an internal error
"""


@main.command("demo", epilog=DEMO_EXIT_CODES_HELP)
@click.option(
    "--database",
    "database_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEMO_DATABASE,
    show_default=True,
    help="SQLite file to fill: a new one, or an earlier demo's, which is replaced.",
)
@click.option(
    "--batches",
    "batch_count",
    type=click.IntRange(1, 100_000),
    default=DEFAULT_SAMPLE_BATCHES,
    show_default=True,
    help="How many sample batches the local API serves on the first night.",
)
@click.option(
    "--nights",
    type=click.IntRange(1, REPORT_MAX_DAYS),
    default=DEMO_NIGHTS,
    show_default=True,
    help="How many nightly runs, the first N-1 days ago; between them the batches move on.",
)
@click.option(
    "--responses/--no-responses",
    default=True,
    show_default=True,
    help="Load the batches' responses too, as sync --responses does.",
)
def demo_command(database_path: Path, batch_count: int, nights: int, responses: bool) -> None:
    """Run the real sync, night after night, against a local imitation of the API; no token
    needed. Between nights the imitation moves batches through their statuses, links and
    unlinks datasets, adds a batch and deletes one, and a crowd of annotators (one careless)
    answers tasks for label quality. Then the morning report, the commands that read the
    demo's database, and three questions answered from the views."""
    from .demo import answer_questions, run_demo

    _configure_logging(False)
    try:
        try:
            protected = load_database_url()
        except ConfigError:
            protected = None  # a malformed DATABASE_URL is not the demo's business
        demo = run_demo(
            database_path,
            batch_count,
            nights,
            responses=responses,
            protected_url=protected,
            on_night=lambda night: click.echo(_night_line(night, nights)),
        )
    except EtlError as error:
        _fail(error)
    if demo.deleted_batch is not None and nights > 1:
        click.echo(
            f"\nThe batch deleted upstream after night 1 ({demo.deleted_batch}) is still in the "
            "demo's ID file, so every later night records it as not_found: a failure on "
            "purpose, for the failure views to show."
        )
    report_path = database_path.with_suffix(".html")
    last = demo.nights[-1].result
    days = max(REPORT_DEFAULT_DAYS, nights)
    if _RunReport(report_path, demo.database_url, days=days).write_for(last):
        click.echo(f"\nThe morning report is in {report_path.resolve()}: open it in a browser.")
    command = command_name()
    where = f"--database-url {shlex.quote(demo.database_url)}"
    click.echo(f"\nThe batches are in {database_path.resolve()}. Read them with {where}:\n")
    for line in (
        f"{command} runs {where}",
        f"{command} runs show {demo.last_run_id} {where}",
        f"{command} export v_batches {where} | head",
        f"{command} report --days {days} {where}",
        f"{command} db queries time_to_ready | sqlite3 {shlex.quote(str(database_path))}"
        "   # `db queries` lists the example queries",
    ):
        click.echo(f"  {line}")
    click.echo("\nThree questions, answered from the views:")
    for answer in answer_questions(demo.database_url):
        click.echo("")
        for line in answer.lines():
            click.echo(line)
    unexpected = demo.unexpected_failures
    if unexpected:
        _error(
            f"{len(unexpected)} failure(s) the demo did not plan; `runs show` says which",
            exit_code=EXIT_PARTIAL,
        )
    sys.exit(EXIT_PARTIAL if unexpected else EXIT_OK)


def _night_line(night, nights: int) -> str:
    when = {0: "today", 1: "yesterday"}.get(nights - night.number)
    when = when or f"{nights - night.number} days ago"
    line = f"Night {night.number} of {nights} ({when}): {night.result.summary()}"
    if night.changes is not None:
        line = f"  upstream since: {night.changes.describe()}\n{line}"
    return line


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
    type=FiniteFloatRange(0, 60),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="Added to every response.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed for the made-up batches."
)
@click.option(
    "--preload",
    "preload_path",
    type=click.Path(exists=True, dir_okay=False),
    help="ID file whose batches are made up before serving starts.",
)
@click.option(
    "--rate-limit",
    type=FiniteFloatRange(min=0.01),
    metavar="RPS",
    help="Refuse requests over this many per second with 429 and no Retry-After, as the real "
    "API does at its (unpublished) limit; a token bucket.",
)
@click.option(
    "--responses",
    "responses_per_batch",
    type=click.IntRange(0, 1_000_000),
    default=0,
    show_default=True,
    metavar="N",
    help="Made-up responses each batch without responses of its own answers (GET "
    ".../batches/{id}/responses): made-up batch ids and --preload's; the sample world's "
    "batches keep theirs.",
)
@click.option(
    "--rate-burst",
    type=FiniteFloatRange(min=1),
    metavar="N",
    help="Requests the bucket lets through at once [default: one second's worth].",
)
@click.option(
    "--error-rate",
    type=FiniteFloatRange(0, 1),
    default=0.0,
    show_default=True,
    metavar="FRACTION",
    help="Answer this share of requests (0 to 1) with an error instead, at random, as a "
    "struggling API would; the job retries all but html200.",
)
@click.option(
    "--error-kind",
    "error_kinds",
    type=click.Choice(ERROR_KIND_NAMES),
    multiple=True,
    help="What such an error is (repeatable; each error picks one): HTTP 503, 500 or 429, a "
    "dropped connection, a truncated body, a proxy's HTML error page (html: 502), or an HTML "
    "page with 200 (html200, not retried) [default: 503].",
)
@click.option(
    "--status-progression",
    type=FiniteFloatRange(min=0.01),
    metavar="SECONDS",
    help="Every SECONDS a night passes for the sample batches: they move on a status "
    "(UNINITIALISED → PROCESSING → READY or ERROR), datasets are linked and unlinked, a batch "
    "is added, and the first time one is deleted [default: never].",
)
def fake_api_command(
    port: int,
    token: str,
    latency: float,
    seed: int,
    preload_path: str | None,
    rate_limit: float | None,
    rate_burst: float | None,
    responses_per_batch: int,
    error_rate: float,
    error_kinds: tuple[str, ...],
    status_progression: float | None,
) -> None:
    """Serve a local imitation of the API: sample batches in workspaces, and any other UUID
    as a batch made up on the spot (with awkward text: quotes, emoji, SQL in names).

    Prints the base URL on the first line, then the token it accepts and the commands that
    point `check` and `sync` at it; serves until interrupted. For trying the job without a
    token, and for the benchmark. GET /_fake/stats counts the requests received and those
    refused by --rate-limit.
    """
    from .imitation.world import serve

    def ready(url: str, world) -> None:
        click.echo(url)
        for line in fake_api_banner(
            url,
            token,
            world,
            error_rate=error_rate,
            error_kinds=error_kinds or ("503",),
            status_progression=status_progression,
        ):
            click.echo(line)
        sys.stdout.flush()

    serve(
        port=port,
        token=token,
        latency=latency,
        seed=seed,
        preload=read_id_file(preload_path).batch_ids if preload_path else (),
        rate_limit=rate_limit,
        rate_burst=rate_burst,
        responses_per_batch=responses_per_batch,
        error_rate=error_rate,
        error_kinds=error_kinds or ("503",),
        status_progression=status_progression,
        on_ready=ready,
        before_serving=_interrupt_on_sigterm,
    )


FAKE_API_DATABASE_URL = "sqlite:///prolific-fake-api.db"


def fake_api_banner(
    url: str,
    token: str,
    world,
    *,
    error_rate: float = 0.0,
    error_kinds: tuple[str, ...] = ("503",),
    status_progression: float | None = None,
) -> list[str]:
    """What `fake-api` says after its URL: what it serves, its token, and the commands."""
    env = (
        f"PROLIFIC_API_URL={shlex.quote(url)} PROLIFIC_API_TOKEN={shlex.quote(token)} "
        f"DATABASE_URL={FAKE_API_DATABASE_URL}"
    )
    command = command_name()
    lines = [
        f"A local imitation of Prolific's API: {len(world.batches)} sample batches in "
        f"{len(world.workspaces)} workspaces, and any other batch ID (a UUID) as a batch made "
        f"up on the spot. It accepts the token {token}.",
        "Point `check` and `sync` at it from another terminal (a database of its own keeps "
        "the made-up batches out of yours):",
        "",
        f"  {env} {command} check",
        f"  {env} {command} sync --all-workspaces",
        "",
    ]
    if status_progression:
        lines.append(
            f"Every {status_progression:g} seconds a night passes: batches move on a status, "
            "datasets are linked and unlinked, a batch is added (and the first time one is "
            "deleted); sync again to see it."
        )
    if error_rate:
        lines.append(
            f"{error_rate:.0%} of requests fail ({', '.join(error_kinds)}); "
            + (
                "the job retries them, but not html200 (an HTML page with 200: that batch fails)."
                if "html200" in error_kinds
                else "the job retries them."
            )
        )
    lines.append("Ctrl-C stops it.")
    return lines


def command_name() -> str:
    """How the user runs this program, for commands to paste: the wrapper sets it to the
    path it was started as (./prolific-etl); otherwise the installed name."""
    return os.environ.get("PROLIFIC_ETL_COMMAND") or "prolific-etl"


if __name__ == "__main__":  # pragma: no cover
    main()
