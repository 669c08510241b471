"""Reading the run log back: the last runs, and one run with its failures (``prolific-etl runs``).

Read only: nothing here creates a table, and a SQLite file that does not exist is not created.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.exc import DBAPIError

from ..errors import DatabaseUnavailableError, Subject, UnknownRunError
from ..rows import RUN_COUNTS
from ..store.db import connect_existing, first_line
from ..store.migrate import require_readable_schema
from ..store.schema import etl_failures, etl_runs
from ..text import duration_text, one_line, redact_url, shorten

DEFAULT_LIMIT = 20
# etl_runs.run_id is an INTEGER: 32 bits on PostgreSQL and MySQL/MariaDB, which refuse a larger
# number in the query (SQLite one past 64 bits); `runs show` and `runs --limit` stop there.
MAX_RUN_ID = 2**31 - 1
_ERROR_WIDTH = 48  # the error column of the runs table; `runs show` gives the whole message


@dataclass(frozen=True)
class RunRecord:
    """One row of ``etl_runs``."""

    run_id: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    ids_read: int
    listed: int
    fetched: int
    inserted: int
    updated: int
    unchanged: int
    failed: int
    retries: int
    responses_inserted: int
    responses_updated: int
    responses_unchanged: int
    studies_written: int
    studies_unchanged: int
    submissions_written: int
    submissions_unchanged: int
    responses_skipped: int
    error_message: str | None
    tool_version: str
    id_source: str | None

    def duration(self, now: datetime) -> float:
        """Seconds the run took; for a run still ``running``, the seconds since it started."""
        end = self.finished_at if self.finished_at is not None else now
        return max(0.0, (end - self.started_at).total_seconds())

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration_seconds": round(self.duration(now), 3),
            **{name: getattr(self, name) for name in RUN_COUNTS},
            "error_message": self.error_message,
            "tool_version": self.tool_version,
            "id_source": self.id_source,
        }


@dataclass(frozen=True)
class FailureRecord:
    """One row of ``etl_failures``: a failed batch (``batch_id``) or ID line (``line_number``)."""

    failure_id: int
    batch_id: str | None
    workspace_id: str | None
    dataset_id: str | None
    response_id: str | None
    input_line: str | None
    line_number: int | None
    stage: str
    error_kind: str
    http_status: int | None
    field: str | None
    message: str
    occurred_at: datetime

    @property
    def subject(self) -> Subject:
        """What failed, in the words the run's own log used."""
        return Subject.of(self)

    def to_json(self) -> dict[str, Any]:
        return {
            "failure_id": self.failure_id,
            "batch_id": self.batch_id,
            "workspace_id": self.workspace_id,
            "dataset_id": self.dataset_id,
            "response_id": self.response_id,
            "line_number": self.line_number,
            "input_line": self.input_line,
            "stage": self.stage,
            "error_kind": self.error_kind,
            "http_status": self.http_status,
            "field": self.field,
            "message": self.message,
            "occurred_at": _iso(self.occurred_at),
        }


@dataclass(frozen=True)
class RunDetails:
    """A run and everything that failed in it, in the order it was recorded."""

    run: RunRecord
    failures: tuple[FailureRecord, ...]

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {**self.run.to_json(now), "failures": [f.to_json() for f in self.failures]}


# --- reading ---------------------------------------------------------------------------------


@contextmanager
def open_run_log(database_url: str) -> Iterator[Engine | None]:
    """An engine on the database, or None when it is a SQLite file that does not exist yet.

    Raises DatabaseUnavailableError when the database cannot be reached, SchemaVersionError
    when its schema is not this version's (the run log's columns differ).
    """
    engine = connect_existing(database_url)
    if engine is None:
        yield None
        return
    try:
        require_readable_schema(engine, "read the run log")
        yield engine
    finally:
        engine.dispose()


def recent_runs(engine: Engine, limit: int = DEFAULT_LIMIT) -> list[RunRecord]:
    """The last ``limit`` runs, newest first; empty when no run was ever recorded."""
    with _reading("read etl_runs"):
        if not _has_run_log(engine):
            return []
        with engine.connect() as connection:
            rows = connection.execute(
                select(etl_runs).order_by(etl_runs.c.run_id.desc()).limit(limit)
            )
            return [_run_record(row._mapping) for row in rows]


def runs_since(engine: Engine, since: datetime, limit: int) -> list[RunRecord]:
    """The runs started at or after ``since``, newest first, at most ``limit`` of them."""
    with _reading("read etl_runs"), engine.connect() as connection:
        rows = connection.execute(
            select(etl_runs)
            .where(etl_runs.c.started_at >= since)
            .order_by(etl_runs.c.run_id.desc())
            .limit(limit)
        )
        return [_run_record(row._mapping) for row in rows]


def run_record(engine: Engine, run_id: int) -> RunRecord | None:
    """Run ``run_id``'s row, or None when there is no such run."""
    with _reading("read etl_runs"), engine.connect() as connection:
        row = connection.execute(select(etl_runs).where(etl_runs.c.run_id == run_id)).first()
        return _run_record(row._mapping) if row is not None else None


def run_details(engine: Engine, run_id: int) -> RunDetails:
    """Run ``run_id`` and its failures. Raises UnknownRunError when there is no such run."""
    where = redact_url(engine.url.render_as_string(hide_password=False))
    with _reading("read etl_runs"):
        if not _has_run_log(engine):
            raise UnknownRunError(f"no runs recorded in {where}")
        with engine.connect() as connection:
            run = connection.execute(
                select(etl_runs).where(etl_runs.c.run_id == run_id)
            ).one_or_none()
            if run is None:
                first, last = connection.execute(
                    select(func.min(etl_runs.c.run_id), func.max(etl_runs.c.run_id))
                ).one()
                held = "none" if first is None else f"{first} to {last}"
                raise UnknownRunError(
                    f"no run {run_id} recorded in {where} (its runs: {held}); "
                    "`prolific-etl runs` lists them. For a run in another database, give "
                    "--database-url or set DATABASE_URL"
                )
            failures = connection.execute(
                select(etl_failures)
                .where(etl_failures.c.run_id == run_id)
                .order_by(etl_failures.c.failure_id)
            )
            return RunDetails(
                run=_run_record(run._mapping),
                failures=tuple(_failure_record(row._mapping) for row in failures),
            )


def _has_run_log(engine: Engine) -> bool:
    return inspect(engine).has_table(etl_runs.name)


@contextmanager
def _reading(what: str) -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        raise DatabaseUnavailableError(f"cannot {what}: {first_line(exc.orig)}") from exc


def _run_record(row) -> RunRecord:
    return RunRecord(**{name: row[name] for name in RunRecord.__dataclass_fields__})


def _failure_record(row) -> FailureRecord:
    return FailureRecord(**{name: row[name] for name in FailureRecord.__dataclass_fields__})


# --- showing ---------------------------------------------------------------------------------


def runs_json(runs: Sequence[RunRecord], now: datetime) -> str:
    """The runs as one JSON array (newest first), timestamps ISO 8601 in UTC."""
    return json.dumps([run.to_json(now) for run in runs], indent=2, ensure_ascii=False)


def run_details_json(details: RunDetails, now: datetime) -> str:
    """The run as one JSON object, its failures under ``failures``."""
    return json.dumps(details.to_json(now), indent=2, ensure_ascii=False)


_RUN_COLUMNS = (
    ("run", ">"),
    ("status", "<"),
    ("started (UTC)", "<"),
    ("duration", ">"),
    ("ids", ">"),
    ("fetched", ">"),
    ("inserted", ">"),
    ("updated", ">"),
    ("unchanged", ">"),
    ("failed", ">"),
    ("retries", ">"),
    ("error", "<"),
)


def runs_table(runs: Sequence[RunRecord], now: datetime) -> str:
    """The runs as a text table, newest first; long error messages are shortened."""
    rows = [
        (
            str(run.run_id),
            run.status,
            _clock(run.started_at),
            _duration_text(run, now),
            *(
                str(n)
                for n in (
                    run.ids_read,
                    run.fetched,
                    run.inserted,
                    run.updated,
                    run.unchanged,
                    run.failed,
                    run.retries,
                )
            ),
            shorten(one_line(run.error_message or ""), _ERROR_WIDTH, marker="..."),
        )
        for run in runs
    ]
    return _table(_RUN_COLUMNS, rows)


_FAILURE_COLUMNS = (
    ("what failed", "<"),
    ("stage", "<"),
    ("kind", "<"),
    ("http", ">"),
    ("field", "<"),
    ("message", "<"),
)


def run_details_text(details: RunDetails, now: datetime) -> str:
    """The run's row in full, then a table of its failures."""
    run = details.run
    fields = (
        ("run", str(run.run_id)),
        ("status", run.status),
        ("started", f"{_clock(run.started_at)} UTC"),
        ("finished", f"{_clock(run.finished_at)} UTC" if run.finished_at else "-"),
        ("duration", _duration_text(run, now)),
        ("ids read", str(run.ids_read)),
        ("listed", str(run.listed)),
        ("fetched", str(run.fetched)),
        ("inserted", str(run.inserted)),
        ("updated", str(run.updated)),
        ("unchanged", str(run.unchanged)),
        ("failed", str(run.failed)),
        ("retries", str(run.retries)),
        (
            "responses",
            f"{run.responses_inserted} inserted, {run.responses_updated} updated, "
            f"{run.responses_unchanged} unchanged",
        ),
        ("studies", f"{run.studies_written} written, {run.studies_unchanged} unchanged"),
        (
            "submissions",
            f"{run.submissions_written} written, {run.submissions_unchanged} unchanged",
        ),
        ("responses skipped", f"{run.responses_skipped} batches (settled)"),
        ("version", run.tool_version),
        ("id source", run.id_source or "-"),
        ("error", run.error_message or "-"),
    )
    width = max(len(name) for name, _ in fields)
    lines = [f"{name:<{width}}  {value}" for name, value in fields]
    if not details.failures:
        lines += ["", "no failures recorded"]
        return "\n".join(lines)
    rows = [
        (
            str(f.subject),
            f.stage,
            f.error_kind,
            str(f.http_status) if f.http_status is not None else "-",
            f.field or "-",
            one_line(f.message),
        )
        for f in details.failures
    ]
    lines += ["", f"failures ({len(rows)}):", _table(_FAILURE_COLUMNS, rows)]
    return "\n".join(lines)


def _table(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[str]]) -> str:
    widths = [
        max([len(name)] + [len(row[i]) for row in rows]) for i, (name, _) in enumerate(columns)
    ]

    def line(cells: Sequence[str]) -> str:
        text = "  ".join(
            f"{cell:{align}{width}}"
            for cell, (_, align), width in zip(cells, columns, widths, strict=True)
        )
        return text.rstrip()

    return "\n".join([line([name for name, _ in columns]), *(line(row) for row in rows)])


def _duration_text(run: RunRecord, now: datetime) -> str:
    text = duration_text(run.duration(now))
    return f"{text} so far" if run.status == "running" else text


def _clock(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
