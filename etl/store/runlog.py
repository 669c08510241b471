"""The run log: ``etl_runs`` (one row per run) and ``etl_failures`` (what failed, and why)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import DBAPIError

from .. import __version__
from ..errors import ItemError, Subject
from ..text import redact, storable
from .db import database_errors
from .schema import etl_failures, etl_runs

if TYPE_CHECKING:  # the input side's type; the store does not import the source at run time
    from ..source.ids import BadIdLine

_MESSAGE_LENGTH = 2000


@dataclass(frozen=True)
class Failure:
    """One row of ``etl_failures``, before it is written.

    Its text (message, input line, field) is made storable on construction: it may quote the
    API or the ID file, and must reach every database and stderr as one visible line.
    """

    stage: str
    error_kind: str
    message: str
    batch_id: str | None = None
    input_line: str | None = None
    line_number: int | None = None
    http_status: int | None = None
    field: str | None = None
    workspace_id: str | None = None
    dataset_id: str | None = None
    response_id: str | None = None

    def __post_init__(self) -> None:
        for name in ("message", "input_line", "field"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, storable(value))

    @classmethod
    def from_bad_line(cls, bad: BadIdLine, token: str = "") -> Failure:
        """A failure for a bad ID line; a line holding part of the token is not repeated."""
        if token and redact(bad.text, token) != bad.text:
            bad = replace(bad, text="<hidden: the line holds part of the API token>")
        return cls(
            stage="input",
            error_kind="bad_id_line",
            message=str(bad),
            input_line=bad.text,
            line_number=bad.line_number,
        )

    @classmethod
    def from_item_error(cls, error: ItemError) -> Failure:
        return cls(
            stage=error.stage,
            error_kind=error.kind,
            message=error.message,
            batch_id=error.batch_id,
            http_status=error.http_status,
            field=error.field,
            workspace_id=error.workspace_id,
            dataset_id=error.dataset_id,
            response_id=error.response_id,
        )

    def redacted(self, token: str) -> Failure:
        """This failure with every echo of the token replaced by ``***`` (see ``etl.text``)."""
        input_line = redact(self.input_line, token) if self.input_line is not None else None
        return replace(self, message=redact(self.message, token), input_line=input_line)

    @property
    def subject(self) -> Subject:
        """What failed (see Subject): the same words wherever the failure is shown."""
        return Subject.of(self)

    def __str__(self) -> str:
        if self.subject.kind == "line":  # the message names the file and the line already
            return self.message
        return f"{self.subject}: {self.stage} failed ({self.error_kind}): {self.message}"


# How far the run log's clock is set back (``clock_set_back``); zero but in the demo.
_clock_offset = timedelta(0)


def utcnow() -> datetime:
    """Now, in UTC: every timestamp a run writes comes from here."""
    return datetime.now(timezone.utc) - _clock_offset


@contextmanager
def clock_set_back(by: timedelta) -> Iterator[None]:
    """Write the timestamps of the runs inside the block as if it were ``by`` earlier.

    ``prolific-etl demo`` runs its nights one after the other, each dated the night it stands
    for, so that the history reads as days apart. Not for concurrent runs in one process.
    """
    global _clock_offset
    before, _clock_offset = _clock_offset, by
    try:
        yield
    finally:
        _clock_offset = before


def latest_running_run(engine: Engine) -> tuple[int, datetime] | None:
    """The id and start of the newest run still ``running``, or None (nor any run log yet).

    While a run holds the lock, the run that holds it: a run marks every other ``running`` row
    aborted as it starts. Reading is best effort, for a message: any error is None.
    """
    try:
        with engine.connect() as connection:
            row = connection.execute(
                select(etl_runs.c.run_id, etl_runs.c.started_at)
                .where(etl_runs.c.status == "running")
                .order_by(etl_runs.c.run_id.desc())
                .limit(1)
            ).first()
    except DBAPIError:  # no etl_runs yet, or the database is busy: no one to name
        return None
    return (int(row.run_id), row.started_at) if row is not None else None


def start_run(engine: Engine, *, id_source: str, ids_read: int) -> int:
    """Insert the run's row (status ``running``) and return its id."""
    id_source = storable(id_source)  # a path from the command line may hold any byte
    with database_errors("cannot record the run"), engine.begin() as connection:
        result = connection.execute(
            insert(etl_runs).values(
                started_at=utcnow(),
                status="running",
                ids_read=ids_read,
                tool_version=__version__,
                id_source=id_source,
            )
        )
        return int(result.inserted_primary_key[0])


def mark_interrupted_runs(engine: Engine, by_run: int) -> int:
    """Mark runs still ``running`` as ``aborted``; call only while holding the run lock.

    A run holding the lock is the only one alive, so any other ``running`` row belongs to a run
    that was killed (kill -9, reboot, OOM) before it could close its row.
    """
    with database_errors("cannot mark interrupted runs"), engine.begin() as connection:
        result = connection.execute(
            update(etl_runs)
            .where(etl_runs.c.status == "running", etl_runs.c.run_id != by_run)
            .values(
                status="aborted",
                error_message=f"interrupted before it finished; found by run {by_run}",
            )
        )
        return result.rowcount


def record_progress(connection: Connection, run_id: int, counts: dict[str, int]) -> None:
    """Write the run's counters so far, inside the caller's transaction (a chunk's), so that
    ``prolific-etl runs`` shows a running run's progress and the counters match the rows."""
    connection.execute(update(etl_runs).where(etl_runs.c.run_id == run_id).values(**counts))


def record_failures(engine: Engine, run_id: int, failures: Sequence[Failure]) -> None:
    """Append failures to ``etl_failures``, and count them in the run's row, in one
    transaction."""
    if not failures:
        return
    now = utcnow()
    with database_errors("cannot record failures"), engine.begin() as connection:
        connection.execute(
            update(etl_runs)
            .where(etl_runs.c.run_id == run_id)
            .values(failed=etl_runs.c.failed + len(failures))
        )
        connection.execute(
            insert(etl_failures),
            [
                {
                    "run_id": run_id,
                    "batch_id": f.batch_id,
                    "workspace_id": f.workspace_id,
                    "dataset_id": f.dataset_id,
                    "response_id": f.response_id,
                    "input_line": f.input_line,
                    "line_number": f.line_number,
                    "stage": f.stage,
                    "http_status": f.http_status,
                    "error_kind": f.error_kind,
                    "field": f.field,
                    "message": f.message[:_MESSAGE_LENGTH],
                    "occurred_at": now,
                }
                for f in failures
            ],
        )


def finish_run(
    engine: Engine,
    run_id: int,
    *,
    status: str,
    counts: dict[str, int],
    error_message: str | None = None,
) -> None:
    """Close the run's row with its outcome and counts (``error_message`` made storable)."""
    if error_message is not None:
        error_message = storable(error_message)
    with database_errors("cannot record the end of the run"), engine.begin() as connection:
        connection.execute(
            update(etl_runs)
            .where(etl_runs.c.run_id == run_id)
            .values(finished_at=utcnow(), status=status, error_message=error_message, **counts)
        )
