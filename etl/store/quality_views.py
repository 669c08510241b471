"""The reporting views over label quality (issue #25): agreement per batch and instruction,
consensus labels per task, and annotators' agreement with the consensus beside their approval
rate. Built with ``etl.store.views``' helpers and listed in its VIEWS, after the study views
(``v_annotator_quality`` reads ``v_participants``).

The rows they read are written by the job's quality phase (``etl.run.quality``), so they hold
what the last run that changed a batch computed; batches removed upstream are left out.
"""

from __future__ import annotations

from sqlalchemy import func, select

from .label_quality import annotator_agreement, consensus_labels, label_agreement
from .schema import batches
from .views import View, _integer, _view, ratio


def _live(table) -> object:
    """Rows of batches not removed upstream."""
    removed = select(batches.c.batch_id).where(batches.c.removed_upstream_at.is_not(None))
    return table.c.batch_id.not_in(removed)


def _agreement_view() -> View:
    a = label_agreement
    query = select(
        a.c.batch_id,
        batches.c.name.label("batch_name"),
        a.c.instruction_id,
        a.c.response_type,
        a.c.level,
        a.c.units,
        a.c.pairable_units,
        a.c.annotators,
        a.c.answers,
        a.c.pairable_values,
        a.c.percent_agreement,
        a.c.krippendorff_alpha,
        a.c.not_computed,
        a.c.excluded_answers,
        a.c.superseded_answers,
        a.c.computed_at,
        a.c.computed_run_id,
    ).join_from(a, batches, batches.c.batch_id == a.c.batch_id)
    return _view(
        "v_agreement",
        "One row per batch and instruction: how far its annotators agree (Krippendorff's alpha "
        "at the level its answers allow, percent agreement) and what that rests on. Free text, "
        "file uploads and multiple selections have no alpha; not_computed says why.",
        query.where(_live(a)),
        {"batch_name": "The batch's name."},
    )


def _consensus_view() -> View:
    c = consensus_labels
    query = select(
        c.c.batch_id,
        c.c.instruction_id,
        c.c.task_id,
        c.c.consensus,
        c.c.support,
        c.c.votes,
        c.c.answers,
        c.c.is_tie,
        c.c.tied_values,
        c.c.computed_at,
    ).where(_live(c))
    return _view(
        "v_consensus_labels",
        "One row per task and instruction with comparable answers: the majority answer, its "
        "support and whether it is a tie (then consensus is NULL and tied_values lists them).",
        query,
        {},
    )


def _annotator_quality_view(participants: View) -> View:
    q = annotator_agreement
    per = (
        select(
            q.c.participant_id,
            _integer(func.count(func.distinct(q.c.batch_id))).label("batches"),
            _integer(func.sum(q.c.answers)).label("answers"),
            _integer(func.sum(q.c.compared)).label("compared"),
            _integer(func.sum(q.c.agreed)).label("agreed"),
        )
        .where(_live(q))
        .group_by(q.c.participant_id)
        .subquery("per")
    )
    p = participants.table
    query = select(
        per.c.participant_id,
        per.c.batches,
        per.c.answers,
        per.c.compared,
        per.c.agreed,
        ratio(per.c.agreed, per.c.compared).label("agreement"),
        p.c.submissions,
        p.c.approved,
        p.c.rejected,
        p.c.returned,
        p.c.approval_rate,
    ).select_from(per.outerjoin(p, p.c.participant_id == per.c.participant_id))
    return _view(
        "v_annotator_quality",
        "One row per annotator: their answers over every batch and instruction, how often they "
        "agree with the consensus, and (with sync --submissions) their approval rate. Per batch "
        "and instruction, read the annotator_agreement table.",
        query,
        {
            "participant_id": q.c.participant_id.comment,
            "batches": "Batches they answered.",
            "answers": "Answers they gave (REJECTED and RETURNED submissions left out).",
            "compared": "Of those, answers on tasks with two answers or more and no tie.",
            "agreed": "Of those, answers equal to the task's consensus.",
            "agreement": "agreed / compared; NULL when nothing could be compared.",
            "submissions": "Their submissions (NULL without sync --submissions).",
            "approved": "Of them APPROVED.",
            "rejected": "Of them REJECTED.",
            "returned": "Of them RETURNED.",
            "approval_rate": "approved / (approved + rejected); NULL before any review.",
        },
    )


def quality_views(participants: View) -> tuple[View, ...]:
    """The label-quality views, given ``v_participants`` (which one of them reads)."""
    return (_agreement_view(), _consensus_view(), _annotator_quality_view(participants))


__all__ = ["quality_views"]
