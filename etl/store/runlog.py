"""The run log: ``etl_runs`` (one row per run) and ``etl_failures`` (what failed, and why)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import DBAPIError

from .. import __version__
from ..config import redact_api_url
from ..errors import BatchError, DatabaseUnavailableError, InvalidPayloadError
from .db import first_line
from .schema import etl_failures, etl_runs

if TYPE_CHECKING:  # the input side's type; the store does not import the source at run time
    from ..source.ids import BadIdLine

_MESSAGE_LENGTH = 2000


@dataclass(frozen=True)
class Failure:
    """One row of ``etl_failures``, before it is written."""

    stage: str
    error_kind: str
    message: str
    batch_id: str | None = None
    input_line: str | None = None
    line_number: int | None = None
    http_status: int | None = None
    field: str | None = None

    @classmethod
    def from_bad_line(cls, bad: BadIdLine, token: str = "") -> Failure:
        """A failure for a bad ID line; a line holding part of the token is not repeated."""
        if token and _shares_a_run_with(bad.text, token):
            bad = replace(bad, text="<hidden: the line holds part of the API token>")
        return cls(
            stage="input",
            error_kind="bad_id_line",
            message=str(bad),
            input_line=bad.text,
            line_number=bad.line_number,
        )

    @classmethod
    def from_batch_error(cls, error: BatchError) -> Failure:
        return cls(
            stage=error.stage,
            error_kind=error.kind,
            message=error.message,
            batch_id=error.batch_id,
            http_status=error.http_status,
            field=error.field if isinstance(error, InvalidPayloadError) else None,
        )

    def redacted(self, token: str) -> Failure:
        """This failure with the token replaced by ``***`` in its message."""
        return replace(self, message=redact(self.message, token))

    def __str__(self) -> str:
        if self.batch_id:
            return f"batch {self.batch_id}: {self.stage} failed ({self.error_kind}): {self.message}"
        return f"{self.message}"


def redact(text: str, token: str) -> str:
    """``text`` with the token, and the user and password of any API URL, replaced by ``***``."""
    return redact_api_url(text.replace(token, "***") if token else text)


def _shares_a_run_with(text: str, token: str, length: int = 8) -> bool:
    # A shortened line may hold only the start of the token, so look for any 8 characters of it.
    return any(token[i : i + length] in text for i in range(max(1, len(token) - length + 1)))


@contextmanager
def _recording(what: str) -> Iterator[None]:
    """Turn a database error while writing the run log into DatabaseUnavailableError."""
    try:
        yield
    except DBAPIError as exc:
        raise DatabaseUnavailableError(f"cannot {what}: {first_line(exc.orig)}") from exc


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def start_run(engine: Engine, *, id_source: str, ids_read: int) -> int:
    """Insert the run's row (status ``running``) and return its id."""
    id_source = id_source.encode("utf-8", "backslashreplace").decode("utf-8")
    with _recording("record the run"), engine.begin() as connection:
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
    with _recording("mark interrupted runs"), engine.begin() as connection:
        result = connection.execute(
            update(etl_runs)
            .where(etl_runs.c.status == "running", etl_runs.c.run_id != by_run)
            .values(
                status="aborted",
                error_message=f"interrupted before it finished; found by run {by_run}",
            )
        )
        return result.rowcount


def record_failures(engine: Engine, run_id: int, failures: Sequence[Failure]) -> None:
    """Append failures to ``etl_failures`` in one transaction."""
    if not failures:
        return
    now = utcnow()
    with _recording("record failures"), engine.begin() as connection:
        connection.execute(
            insert(etl_failures),
            [
                {
                    "run_id": run_id,
                    "batch_id": f.batch_id,
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
    """Close the run's row with its outcome and counts."""
    with _recording("record the end of the run"), engine.begin() as connection:
        connection.execute(
            update(etl_runs)
            .where(etl_runs.c.run_id == run_id)
            .values(finished_at=utcnow(), status=status, error_message=error_message, **counts)
        )
