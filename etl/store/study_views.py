"""The reporting views over studies, submissions and costs (``sync --submissions``): which
labels a team can use, what they cost, and who gets rejected. Built with ``etl.store.views``'
helpers and listed in its VIEWS.

Submissions and studies removed upstream are left out throughout, and so are responses
removed upstream (``views._current_responses``).
"""

from __future__ import annotations

from sqlalchemy import and_, case, func, select

from ..kinds.study import studies
from ..kinds.study_cost import study_costs
from ..kinds.submission import OPEN_SUBMISSION_STATUSES, submissions
from .schema import batches, response_answers, responses
from .views import View, _current_responses, _integer, _view, ratio

APPROVED = "APPROVED"


def _live_submissions():
    """Submissions of studies still upstream, themselves still upstream."""
    return and_(
        submissions.c.removed_upstream_at.is_(None),
        studies.c.removed_upstream_at.is_(None),
        submissions.c.study_id == studies.c.study_id,
    )


def _count_where(condition) -> object:
    return _integer(func.coalesce(func.sum(case((condition, 1), else_=0)), 0))


def _approved_answers_view() -> View:
    r, a, s = responses, response_answers, submissions
    query = (
        select(
            r.c.batch_id,
            r.c.instruction_id,
            r.c.task_id,
            r.c.response_id,
            a.c.position,
            r.c.response_type,
            a.c.value_text,
            a.c.value_number,
            a.c.value_boolean,
            a.c.unit,
            a.c.explanation,
            r.c.participant_id,
            r.c.submission_id,
            r.c.created_at,
        )
        .join_from(a, r, r.c.response_id == a.c.response_id)
        .join(s, s.c.submission_id == r.c.submission_id)
        .join(studies, _live_submissions())
        .where(_current_responses(), s.c.status == APPROVED)
    )
    return _view(
        "v_approved_answers",
        "One row per answer value of a response whose submission was APPROVED: the labels a "
        "team can train on, per batch and instruction (needs sync --responses --submissions).",
        query,
        {},
    )


def _review_status_view() -> View:
    s, st = submissions, studies
    status = s.c.status
    query = (
        select(
            st.c.batch_id,
            st.c.study_id,
            st.c.name.label("study_name"),
            st.c.status.label("study_status"),
            _count_where(status == APPROVED).label("approved"),
            _count_where(status == "REJECTED").label("rejected"),
            _count_where(status == "RETURNED").label("returned"),
            _count_where(status == "AWAITING REVIEW").label("awaiting_review"),
            _count_where(status.in_(("ACTIVE", "RESERVED"))).label("in_progress"),
            _integer(func.count(s.c.submission_id)).label("submissions"),
        )
        .select_from(
            st.outerjoin(s, and_(s.c.study_id == st.c.study_id, s.c.removed_upstream_at.is_(None)))
        )
        .where(st.c.removed_upstream_at.is_(None))
        .group_by(st.c.batch_id, st.c.study_id, st.c.name, st.c.status)
    )
    return _view(
        "v_study_review_status",
        "One row per batch and study: its submissions approved, rejected, returned, awaiting "
        "review and in progress (sum over a batch's rows for the batch).",
        query,
        {
            "study_name": studies.c.name.comment,
            "study_status": studies.c.status.comment,
            "approved": "Submissions APPROVED.",
            "rejected": "Submissions REJECTED.",
            "returned": "Submissions RETURNED by the participant.",
            "awaiting_review": "Submissions AWAITING REVIEW.",
            "in_progress": "Submissions ACTIVE or RESERVED.",
            "submissions": "Every submission, whatever its status (timed out, screened out...).",
        },
    )


def _task_time_view() -> View:
    s, r = submissions, responses
    tasks = (
        select(r.c.submission_id, func.count(r.c.task_id.distinct()).label("tasks"))
        .where(_current_responses(), r.c.submission_id.is_not(None))
        .group_by(r.c.submission_id)
        .subquery("tasks")
    )
    task_count = _integer(func.coalesce(tasks.c.tasks, 0))
    query = (
        select(
            studies.c.batch_id,
            s.c.study_id,
            s.c.submission_id,
            s.c.participant_id,
            s.c.status,
            s.c.time_taken,
            task_count.label("tasks"),
            ratio(s.c.time_taken, task_count).label("seconds_per_task"),
        )
        .select_from(
            s.join(studies, _live_submissions()).outerjoin(
                tasks, tasks.c.submission_id == s.c.submission_id
            )
        )
        .where(s.c.time_taken.is_not(None))
    )
    return _view(
        "v_submission_task_time",
        "One row per submission with a time taken: the tasks its responses answered and the "
        "seconds per task (NULL when no response of it is loaded).",
        query,
        {
            "tasks": "Distinct tasks its loaded responses answer.",
            "seconds_per_task": "time_taken / tasks; NULL when tasks is 0.",
        },
    )


def _batch_cost_view() -> View:
    c, st, b = study_costs, studies, batches
    parts = (c.c.rewards, c.c.reward_fees, c.c.reward_tax, c.c.bonuses, c.c.bonus_fees)
    total = sum((func.coalesce(part, 0) for part in parts), func.coalesce(c.c.bonus_tax, 0))
    costs = (
        select(
            st.c.batch_id,
            func.count(st.c.study_id).label("studies"),
            func.sum(total).label("total_cost"),
            func.min(c.c.currency).label("currency"),
            func.count(c.c.currency.distinct()).label("currencies"),
        )
        .join_from(st, c, c.c.study_id == st.c.study_id)
        .where(st.c.removed_upstream_at.is_(None))
        .group_by(st.c.batch_id)
        .subquery("costs")
    )
    r, s = responses, submissions
    approved = (
        select(r.c.batch_id, func.count().label("approved_responses"))
        .join_from(r, s, s.c.submission_id == r.c.submission_id)
        .join(studies, _live_submissions())
        .where(_current_responses(), s.c.status == APPROVED)
        .group_by(r.c.batch_id)
        .subquery("approved")
    )
    approved_count = _integer(func.coalesce(approved.c.approved_responses, 0))
    query = (
        select(
            b.c.batch_id,
            b.c.name,
            _integer(costs.c.studies).label("studies"),
            costs.c.total_cost,
            costs.c.currency,
            approved_count.label("approved_responses"),
            ratio(costs.c.total_cost, approved_count).label("cost_per_approved_response"),
        )
        .select_from(
            b.join(costs, costs.c.batch_id == b.c.batch_id).outerjoin(
                approved, approved.c.batch_id == b.c.batch_id
            )
        )
        .where(costs.c.currencies <= 1)
    )
    return _view(
        "v_batch_cost",
        "One row per batch with a stored study cost: what its studies have cost (rewards, "
        "bonuses, fees and tax, in minor units) and the cost per approved response. A batch "
        "whose studies are paid in more than one currency is left out.",
        query,
        {
            "studies": "Its studies with a cost stored.",
            "total_cost": "Rewards, bonuses, their fees and tax over its studies, in minor "
            "units (cents, pence) of currency.",
            "currency": "The currency of the amounts.",
            "approved_responses": "Its loaded responses whose submission is APPROVED.",
            "cost_per_approved_response": "total_cost / approved_responses; NULL when none.",
        },
    )


def _participants_view() -> View:
    s = submissions
    live = select(s.c.participant_id, s.c.status, s.c.time_taken).join_from(
        s, studies, _live_submissions()
    )
    timed = live.where(s.c.time_taken.is_not(None)).subquery("timed")
    ranked = select(
        timed.c.participant_id,
        timed.c.time_taken,
        func.row_number()
        .over(partition_by=timed.c.participant_id, order_by=timed.c.time_taken)
        .label("position"),
        func.count().over(partition_by=timed.c.participant_id).label("timed"),
    ).subquery("ranked")
    # The middle one (odd count) or the middle two (even count), averaged: an exact median
    # with window functions every supported database has, and no division by an integer.
    middle = and_(
        2 * ranked.c.position >= ranked.c.timed, 2 * ranked.c.position <= ranked.c.timed + 2
    )
    medians = (
        select(ranked.c.participant_id, func.avg(ranked.c.time_taken).label("median"))
        .where(middle)
        .group_by(ranked.c.participant_id)
        .subquery("medians")
    )
    counts = live.subquery("live")
    approved = _count_where(counts.c.status == APPROVED)
    rejected = _count_where(counts.c.status == "REJECTED")
    per = (
        select(
            counts.c.participant_id,
            _integer(func.count()).label("submissions"),
            approved.label("approved"),
            rejected.label("rejected"),
            _count_where(counts.c.status == "RETURNED").label("returned"),
        )
        .group_by(counts.c.participant_id)
        .subquery("per")
    )
    query = select(
        per.c.participant_id,
        per.c.submissions,
        per.c.approved,
        per.c.rejected,
        per.c.returned,
        ratio(per.c.approved, per.c.approved + per.c.rejected).label("approval_rate"),
        ratio(medians.c.median, 1).label("median_time_taken"),
    ).select_from(per.outerjoin(medians, medians.c.participant_id == per.c.participant_id))
    return _view(
        "v_participants",
        "One row per participant with a stored submission: their submissions, how many were "
        "approved, rejected and returned, their approval rate and their median time taken.",
        query,
        {
            "participant_id": submissions.c.participant_id.comment,
            "submissions": "Their submissions (to studies of synced batches).",
            "approved": "Of them APPROVED.",
            "rejected": "Of them REJECTED.",
            "returned": "Of them RETURNED.",
            "approval_rate": "approved / (approved + rejected); NULL before any review.",
            "median_time_taken": "Median seconds taken over their submissions with a time (the "
            "mean of the middle two for an even count); NULL when none has one.",
        },
    )


STUDY_VIEWS: tuple[View, ...] = (
    _approved_answers_view(),
    _review_status_view(),
    _task_time_view(),
    _batch_cost_view(),
    _participants_view(),
)

__all__ = ["OPEN_SUBMISSION_STATUSES", "STUDY_VIEWS"]
