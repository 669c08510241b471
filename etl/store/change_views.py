"""What one run changed, batch by batch: the view ``v_changes_last_run`` and the query behind
it, which the morning report runs for the run it is about. Built with ``etl.store.views``'
helpers and listed in its VIEWS.

A run is told apart by its id where the rows keep one (``first_seen_run_id``,
``last_changed_run_id``, ``run_id`` of the status histories) and by its start time where they
keep a time only (a removal upstream, a response or submission first stored): runs never
overlap (the run lock), so whatever was stored at or after a run's start belongs to it when it
is the latest run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, func, literal, or_, select, union_all
from sqlalchemy.sql import ColumnElement, Select

from ..kinds.study import studies
from ..kinds.submission import submission_status_history, submissions
from .schema import batch_status_history, batches, etl_runs, responses
from .views import View, _integer, _view

CHANGES = ("new", "changed", "removed", "unchanged")


def changes_in_run(
    run_id: ColumnElement | int | None = None, started_at: datetime | None = None
) -> Select:
    """One row per batch the run touched: stored first, changed, found removed upstream, a
    status move, or new responses or submissions. ``run_id`` is the latest run when None.

    ``started_at`` is the run's start, when the caller knows it: a value the planner sees
    (PostgreSQL then reads the run's responses through the index instead of every one)."""
    if run_id is None:
        run_id = select(func.max(etl_runs.c.run_id)).scalar_subquery()
    elif isinstance(run_id, int):
        run_id = literal(run_id)
    if started_at is None:
        started = select(etl_runs.c.started_at).where(etl_runs.c.run_id == run_id).scalar_subquery()
    else:
        started = literal(started_at, etl_runs.c.started_at.type)
    h = batch_status_history
    moves = (
        select(
            h.c.batch_id,
            func.min(h.c.old_status).label("old_status"),
            func.max(h.c.new_status).label("new_status"),
        )
        .where(h.c.run_id == run_id, h.c.old_status.is_not(None))
        .group_by(h.c.batch_id)
        .subquery("moves")
    )
    answers, new_submissions, submission_moves = _counts(run_id, started)
    b = batches
    removed = and_(b.c.removed_upstream_at.is_not(None), b.c.removed_upstream_at >= started)
    change = case(
        (b.c.first_seen_run_id == run_id, "new"),
        (removed, "removed"),
        (b.c.last_changed_run_id == run_id, "changed"),
        else_="unchanged",
    )
    counts = (answers, new_submissions, submission_moves)
    query = select(
        _integer(run_id).label("run_id"),
        b.c.batch_id,
        b.c.name,
        b.c.workspace_id,
        change.label("change_type"),
        moves.c.old_status,
        moves.c.new_status,
        b.c.status,
        b.c.removed_upstream_at,
        _integer(func.coalesce(answers.c.new, 0)).label("new_responses"),
        _integer(func.coalesce(answers.c.changed, 0)).label("changed_responses"),
        _integer(func.coalesce(new_submissions.c.n, 0)).label("new_submissions"),
        _integer(func.coalesce(submission_moves.c.n, 0)).label("submission_status_moves"),
    ).select_from(
        _outer_joins(b, (moves, *counts)),
    )
    return query.where(
        or_(
            b.c.first_seen_run_id == run_id,
            b.c.last_changed_run_id == run_id,
            removed,
            moves.c.batch_id.is_not(None),
            *(sub.c.batch_id.is_not(None) for sub in counts),
        )
    )


def _counts(run_id: ColumnElement, started: ColumnElement) -> tuple:
    """Per batch: responses stored new and changed, submissions stored new, and submission
    status moves, in the run."""
    r = responses
    # The responses (a table of millions) the run stored or changed, each half through its
    # own index: written as one OR, no database used either index and all read every row.
    touched = union_all(
        select(r.c.batch_id, literal(1).label("new"), literal(0).label("changed")).where(
            r.c.first_seen_at >= started
        ),
        select(r.c.batch_id, literal(0), literal(1)).where(
            r.c.last_changed_run_id == run_id, r.c.first_seen_at < started
        ),
    ).subquery("touched")
    answers = (
        select(
            touched.c.batch_id,
            func.sum(touched.c.new).label("new"),
            func.sum(touched.c.changed).label("changed"),
        )
        .group_by(touched.c.batch_id)
        .subquery("answers")
    )
    s, st, sh = submissions, studies, submission_status_history
    new_submissions = (
        select(st.c.batch_id, func.count().label("n"))
        .join_from(s, st, st.c.study_id == s.c.study_id)
        .where(s.c.first_seen_at >= started)
        .group_by(st.c.batch_id)
        .subquery("new_submissions")
    )
    submission_moves = (
        select(st.c.batch_id, func.count().label("n"))
        .select_from(
            sh.join(s, s.c.submission_id == sh.c.submission_id).join(
                st, st.c.study_id == s.c.study_id
            )
        )
        .where(sh.c.run_id == run_id, sh.c.old_status.is_not(None))
        .group_by(st.c.batch_id)
        .subquery("submission_moves")
    )
    return answers, new_submissions, submission_moves


def _outer_joins(base, subqueries):
    joined = base
    for sub in subqueries:
        joined = joined.outerjoin(sub, sub.c.batch_id == base.c.batch_id)
    return joined


def _changes_view() -> View:
    return _view(
        "v_changes_last_run",
        "What the latest run changed: one row per batch it stored first, changed, found "
        "removed upstream, saw change status, or stored new responses or submissions of. "
        "Batches it left as they were are not listed.",
        changes_in_run(),
        {
            "run_id": "The latest run.",
            "name": None,
            "change_type": "new (first stored by the run), removed (found gone from its "
            "workspace's listing by the run), changed (its content changed), or unchanged "
            "(the batch did not change; its responses or submissions did).",
            "old_status": "Its status before the run, when the run saw the status change; "
            "NULL otherwise.",
            "new_status": "Its status after the run, when the run saw the status change; "
            "NULL otherwise.",
            "status": "Its status now.",
            "new_responses": "Its responses the run stored for the first time.",
            "changed_responses": "Its responses, stored before, whose content the run found "
            "changed (a response gone upstream is marked removed, not counted here).",
            "new_submissions": "Submissions to its studies the run stored for the first time.",
            "submission_status_moves": "Submissions to its studies whose status the run saw "
            "change (a review: AWAITING REVIEW to APPROVED).",
        },
    )


v_changes_last_run = _changes_view()
CHANGE_VIEWS: tuple[View, ...] = (v_changes_last_run,)
