"""Responses only where they can still change: which batches' responses a run with
``--responses --submissions`` need not download again.

A batch is settled when every study that recruits for it (one at least, none removed upstream)
is COMPLETED, none of their submissions is still open (ACTIVE, RESERVED, AWAITING REVIEW), and
its responses were last loaded whole (``batch_responses_loaded``) after the last change any of
those studies or submissions had. Nothing new can then arrive: participants answer within an
open submission.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Column, Engine, ForeignKey, Integer, Table, and_, exists, or_, select

from ..kinds.columns import MYSQL_OPTIONS, UTCDateTime, Uuid, metadata
from ..kinds.study import studies
from ..kinds.submission import OPEN_SUBMISSION_STATUSES, submissions
from .db import database_errors
from .writer import stamp

SETTLED_STUDY_STATUS = "COMPLETED"

batch_responses_loaded = Table(
    "batch_responses_loaded",
    metadata,
    Column(
        "batch_id",
        Uuid,
        ForeignKey("batches.batch_id", ondelete="CASCADE"),
        primary_key=True,
        comment="The batch.",
    ),
    Column(
        "loaded_at",
        UTCDateTime,
        nullable=False,
        comment="When a sync last read its responses whole (every one its meta.count "
        "promised, none failed to load).",
    ),
    Column(
        "run_id",
        Integer,
        ForeignKey("etl_runs.run_id"),
        nullable=False,
        comment="Run that last read them whole.",
    ),
    comment=(
        "When each batch's responses were last loaded whole: with --submissions, a batch whose "
        "studies are complete and whose responses were loaded after their last change is not "
        "downloaded again (see etl/store/settled.py)."
    ),
    **MYSQL_OPTIONS,
)


def note_responses_loaded(engine: Engine, batch_id: str, run_id: int, now: datetime) -> None:
    """Record that ``batch_id``'s responses were loaded whole, as the API had them at ``now``
    (when they were asked for: a change upstream after it is not in them)."""
    stamp(
        engine, batch_responses_loaded, {"batch_id": batch_id, "loaded_at": now, "run_id": run_id}
    )


def settled_batches(engine: Engine, batch_ids: Sequence[str]) -> set[str]:
    """Those of ``batch_ids`` whose responses cannot change any more (see the module)."""
    if not batch_ids:
        return set()
    loaded = batch_responses_loaded
    live = studies.c.removed_upstream_at.is_(None)
    of_batch = and_(studies.c.batch_id == loaded.c.batch_id, live)
    unsettled_study = exists().where(
        of_batch,
        or_(
            studies.c.status != SETTLED_STUDY_STATUS,
            studies.c.last_changed_at > loaded.c.loaded_at,
        ),
    )
    open_or_newer_submission = exists().where(
        of_batch,
        submissions.c.study_id == studies.c.study_id,
        submissions.c.removed_upstream_at.is_(None),
        or_(
            submissions.c.status.in_(OPEN_SUBMISSION_STATUSES),
            submissions.c.last_changed_at > loaded.c.loaded_at,
        ),
    )
    has_study = exists().where(of_batch)
    query = select(loaded.c.batch_id).where(has_study, ~unsettled_study, ~open_or_newer_submission)
    settled: set[str] = set()
    with database_errors("cannot read which batches are settled"), engine.connect() as connection:
        for start in range(0, len(batch_ids), 1000):
            chunk = list(batch_ids[start : start + 1000])
            settled |= set(connection.execute(query.where(loaded.c.batch_id.in_(chunk))).scalars())
    return settled


__all__ = ["batch_responses_loaded", "note_responses_loaded", "settled_batches"]
