"""The morning report: one self-contained HTML page about the last run and what moved.

``write_report`` is the library API behind ``prolific-etl report`` and ``sync --report``: it
reads the store (report_data.py), renders the page (report_html.py) and writes it beside its
final name, renaming it into place once complete, so that a reader (a mailer, a web server)
never sees half a page. Read only: a SQLite file that does not exist is not created.
"""

from __future__ import annotations

import contextlib
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from ..errors import ConfigError, DatabaseUnavailableError, SchemaVersionError
from ..store.db import connect_existing, first_line
from ..store.migrate import schema_state
from ..text import redact_url
from .report_data import DEFAULT_DAYS, MAX_DAYS, ReportData, empty_report, read_report_data
from .report_html import ThisRun, headline, render_report
from .report_labels import DEFAULT_THRESHOLD

__all__ = [
    "DEFAULT_DAYS",
    "DEFAULT_THRESHOLD",
    "MAX_DAYS",
    "ThisRun",
    "build_report",
    "headline",
    "write_report",
]


def build_report(
    database_url: str,
    *,
    days: int = DEFAULT_DAYS,
    this_run: ThisRun | None = None,
    now: datetime | None = None,
    agreement_threshold: float = DEFAULT_THRESHOLD,
) -> str:
    """The report as HTML text.

    ``this_run`` is what a sync knows of the run it just ended; the page then leads with that
    run, and when the database cannot be read it still says how the run ended (and why the
    rest is missing) instead of raising. Without it, raises DatabaseUnavailableError when the
    database cannot be read and SchemaVersionError when its schema is not this version's.
    Instructions whose Krippendorff's alpha is below ``agreement_threshold`` are listed under
    label quality.
    """
    if not 1 <= days <= MAX_DAYS:
        raise ConfigError(f"--days must be between 1 and {MAX_DAYS}, got {days}")
    now = now or datetime.now(timezone.utc)
    database = redact_url(database_url)
    run_id = this_run.run_id if this_run is not None else None
    try:
        data = _read(database_url, days=days, now=now, run_id=run_id, threshold=agreement_threshold)
    except (DatabaseUnavailableError, SchemaVersionError) as error:
        if this_run is None:
            raise
        return render_report(
            empty_report(now, days), database=database, this_run=this_run, problem=str(error)
        )
    return render_report(data, database=database, this_run=this_run)


def write_report(
    path: str | os.PathLike,
    database_url: str,
    *,
    days: int = DEFAULT_DAYS,
    this_run: ThisRun | None = None,
    now: datetime | None = None,
    agreement_threshold: float = DEFAULT_THRESHOLD,
) -> Path | None:
    """Write the report to ``path`` (``-`` for standard output) and return the path written.

    The file appears only once complete: the page is written beside it and renamed over it.
    Raises ConfigError when the file cannot be written, and what ``build_report`` raises.
    """
    page = build_report(
        database_url,
        days=days,
        this_run=this_run,
        now=now,
        agreement_threshold=agreement_threshold,
    )
    if str(path) == "-":
        sys.stdout.write(page)
        sys.stdout.flush()
        return None
    target = Path(path)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        partial.write_text(page, encoding="utf-8")
        os.replace(partial, target)
    except OSError as exc:
        # On a read-only file system unlink fails with EROFS even for a file that is not there.
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise ConfigError(f"cannot write the report to {target}: {exc.strerror}") from exc
    return target


def _read(
    database_url: str, *, days: int, now: datetime, run_id: int | None, threshold: float
) -> ReportData:
    engine = connect_existing(database_url)
    if engine is None:
        return empty_report(now, days)
    try:
        state = schema_state(engine)
        if state.is_empty:
            return empty_report(now, days)
        if not state.is_current:
            raise SchemaVersionError(f"cannot report: the database schema is at {state.describe()}")
        try:
            return read_report_data(
                engine, days=days, now=now, run_id=run_id, agreement_threshold=threshold
            )
        except DBAPIError as exc:
            raise DatabaseUnavailableError(
                f"cannot read the store for the report: {first_line(exc.orig)}"
            ) from exc
    finally:
        engine.dispose()
