"""Storing studies, submissions and costs: thin adapters over the one writer
(``etl.store.writer``), and which workspaces a run's batches are in."""

from __future__ import annotations

from collections.abc import Container, Sequence
from datetime import datetime

from sqlalchemy import Engine, select

from ..kinds.batch import batches
from ..kinds.study import STUDY, StudyRows
from ..kinds.study_cost import STUDY_COST, StudyCostRows
from ..kinds.submission import SUBMISSION, SubmissionRows
from . import writer
from .db import database_errors
from .writer import LoadOutcome


def workspaces_of(engine: Engine, batch_ids: Sequence[str]) -> list[str]:
    """The workspaces the stored batches ``batch_ids`` belong to, in order."""
    found: set[str] = set()
    with database_errors(writer.WRITES_STOPPED), engine.connect() as connection:
        for start in range(0, len(batch_ids), 1000):
            chunk = list(batch_ids[start : start + 1000])
            query = select(batches.c.workspace_id).where(batches.c.batch_id.in_(chunk)).distinct()
            found |= set(connection.execute(query).scalars())
    return sorted(found)


def store_studies(
    engine: Engine, rows: Sequence[StudyRows], run_id: int, now: datetime
) -> LoadOutcome:
    """Write the studies that are new or changed; one the database refuses fails alone."""
    return writer.write(engine, STUDY, rows, run_id, now)


def store_submissions(
    engine: Engine, rows: Sequence[SubmissionRows], run_id: int, now: datetime
) -> LoadOutcome:
    """Write the submissions that are new or changed, with a status history row for each
    status first seen."""
    return writer.write(engine, SUBMISSION, rows, run_id, now)


def store_cost(engine: Engine, rows: StudyCostRows, run_id: int, now: datetime) -> LoadOutcome:
    """Write a study's cost and counts when they changed."""
    return writer.write(engine, STUDY_COST, [rows], run_id, now)


def mark_removed_studies(
    engine: Engine, project_id: str, listed: Container[str], now: datetime
) -> list[str]:
    """Mark the stored studies of ``project_id`` its complete listing no longer held."""
    return writer.mark_removed(engine, STUDY, project_id, None, now, seen=listed)


def mark_removed_submissions(
    engine: Engine, study_id: str, listed: Container[str], now: datetime
) -> list[str]:
    """Mark the stored submissions of ``study_id`` its complete listing no longer held."""
    return writer.mark_removed(engine, SUBMISSION, study_id, None, now, seen=listed)
