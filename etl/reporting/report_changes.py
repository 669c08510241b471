"""What the morning report says about batches by name: what the run changed, which batches are
stuck or gone upstream, and which failed. Read only, and bounded: each list holds at most
``LISTED`` rows and says how many there are in all.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from ..store.change_views import changes_in_run
from ..store.schema import batches, etl_failures
from ..store.views import v_batch_status_intervals
from ..text import one_line, shorten

LISTED = 50  # rows of each list of batches; the view or query named beside it has them all
STUCK_AFTER = timedelta(hours=24)  # PROCESSING for longer than this is "stuck"
_MESSAGE_LENGTH = 200


@dataclass(frozen=True)
class BatchChange:
    """A batch the run touched, as ``v_changes_last_run`` has it."""

    batch_id: str
    name: str | None
    change: str  # new, changed, removed, unchanged (its responses or submissions moved)
    old_status: str | None
    new_status: str | None
    status: str
    new_responses: int
    changed_responses: int
    new_submissions: int
    submission_status_moves: int


@dataclass(frozen=True)
class RunChanges:
    """What the run changed: totals over every batch, and the first ``LISTED`` batches."""

    counts: dict[str, int]  # new, changed, removed, unchanged batches
    status_moves: int
    new_responses: int
    changed_responses: int
    new_submissions: int
    submission_status_moves: int
    batches: tuple[BatchChange, ...]
    total: int  # batches touched

    @property
    def any(self) -> bool:
        return self.total > 0


@dataclass(frozen=True)
class NamedBatch:
    """A batch listed by name, with the moment that puts it on its list."""

    batch_id: str
    name: str | None
    status: str
    since: datetime | None


@dataclass(frozen=True)
class BatchList:
    rows: tuple[NamedBatch, ...]
    total: int


@dataclass(frozen=True)
class BatchFailure:
    batch_id: str
    name: str | None
    stage: str
    error_kind: str
    http_status: int | None
    message: str


_ORDER = {"removed": 0, "new": 1, "changed": 2, "unchanged": 3}


def run_changes(connection: Connection, run_id: int, started_at: datetime) -> RunChanges:
    """What run ``run_id``, started at ``started_at``, changed, batch by batch (the query of
    ``v_changes_last_run``)."""
    query = changes_in_run(run_id, started_at)
    rows = [BatchChange(**_fields(row)) for row in connection.execute(query)]
    rows.sort(key=lambda c: (_ORDER.get(c.change, 9), (c.name or "").lower(), c.batch_id))
    kinds = Counter(c.change for c in rows)
    return RunChanges(
        counts={change: kinds[change] for change in _ORDER},
        status_moves=sum(1 for c in rows if c.old_status is not None),
        new_responses=sum(c.new_responses for c in rows),
        changed_responses=sum(c.changed_responses for c in rows),
        new_submissions=sum(c.new_submissions for c in rows),
        submission_status_moves=sum(c.submission_status_moves for c in rows),
        batches=tuple(rows[:LISTED]),
        total=len(rows),
    )


def _fields(row) -> dict:
    names = [name for name in BatchChange.__dataclass_fields__ if name != "change"]
    values = {name: getattr(row, name) for name in names}
    values["change"] = row.change_type
    for name in ("new_responses", "changed_responses", "new_submissions"):
        values[name] = int(values[name])
    values["submission_status_moves"] = int(values["submission_status_moves"])
    return values


def stuck_batches(connection: Connection, now: datetime) -> BatchList:
    """Batches still upstream that have been PROCESSING for longer than ``STUCK_AFTER``, by
    how long (the longest first)."""
    iv = v_batch_status_intervals.table
    b = batches
    where = (
        iv.c.left_at.is_(None),
        iv.c.status == "PROCESSING",
        iv.c.entered_at < now - STUCK_AFTER,
        b.c.removed_upstream_at.is_(None),
    )
    joined = iv.join(b, b.c.batch_id == iv.c.batch_id)
    total = connection.execute(select(func.count()).select_from(joined).where(*where)).scalar()
    rows = connection.execute(
        select(b.c.batch_id, b.c.name, b.c.status, iv.c.entered_at)
        .select_from(joined)
        .where(*where)
        .order_by(iv.c.entered_at, b.c.batch_id)
        .limit(LISTED)
    )
    return BatchList(tuple(NamedBatch(*row) for row in rows), int(total))


def removed_batches(connection: Connection) -> BatchList:
    """Batches found gone from their workspace's listing, the latest removals first."""
    b = batches
    gone = b.c.removed_upstream_at.is_not(None)
    total = connection.execute(select(func.count()).where(gone)).scalar()
    rows = connection.execute(
        select(b.c.batch_id, b.c.name, b.c.status, b.c.removed_upstream_at)
        .where(gone)
        .order_by(b.c.removed_upstream_at.desc(), b.c.batch_id)
        .limit(LISTED)
    )
    return BatchList(tuple(NamedBatch(*row) for row in rows), int(total))


def failed_batches(connection: Connection, run_id: int) -> tuple[tuple[BatchFailure, ...], int]:
    """The run's failures of a batch, with the batch's name, in the order they happened, and
    how many there are in all."""
    f, b = etl_failures, batches
    where = (f.c.run_id == run_id, f.c.batch_id.is_not(None))
    total = connection.execute(select(func.count()).select_from(f).where(*where)).scalar()
    rows = connection.execute(
        select(f.c.batch_id, b.c.name, f.c.stage, f.c.error_kind, f.c.http_status, f.c.message)
        .join_from(f, b, b.c.batch_id == f.c.batch_id, isouter=True)
        .where(*where)
        .order_by(f.c.failure_id)
        .limit(LISTED)
    )
    failures = tuple(
        BatchFailure(
            row.batch_id,
            row.name,
            row.stage,
            row.error_kind,
            row.http_status,
            shorten(one_line(row.message or ""), _MESSAGE_LENGTH),
        )
        for row in rows
    )
    return failures, int(total)
