"""Label quality for the morning report (issue #25), read from what ``sync --responses``
computes: ``v_agreement`` (per batch and instruction: units, annotators, percent agreement,
Krippendorff's alpha) and ``annotator_agreement`` (per batch, instruction and participant:
answers compared with the consensus, agreed), beside each annotator's approval rate from
``v_participants`` (with ``sync --submissions``).

A database where nothing was computed yet yields None, and the report says how to get it
instead of failing. Read only and bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Float, func, inspect, select
from sqlalchemy.sql import column, table

from ..store.label_quality import annotator_agreement, label_agreement
from ..store.schema import batches
from ..store.views import VIEWS_BY_NAME, ratio

DEFAULT_THRESHOLD = 0.667  # Krippendorff: below 0.667, draw no conclusions from the labels
LISTED = 50  # batches and instructions listed; the views have them all
ANNOTATORS = 10  # the annotators furthest from consensus
MIN_COMPARED = 5  # answers compared with a consensus before an annotator is ranked

v_agreement = table(
    "v_agreement",
    *(column(name) for name in ("batch_id", "instruction_id", "level", "units", "annotators")),
    column("percent_agreement", Float),
    column("krippendorff_alpha", Float),
)


@dataclass(frozen=True)
class BatchAgreement:
    batch_id: str
    name: str | None
    instructions: int
    units: int
    annotators: int
    mean_alpha: float | None
    lowest_alpha: float | None
    mean_percent: float | None


@dataclass(frozen=True)
class LowInstruction:
    batch_id: str
    name: str | None
    instruction_id: str
    level: str
    units: int
    annotators: int
    krippendorff_alpha: float
    percent_agreement: float | None


@dataclass(frozen=True)
class Annotator:
    participant_id: str
    batches: int
    compared: int
    agreed: int
    agreement: float
    approval_rate: float | None  # None without submissions, or before any review


@dataclass(frozen=True)
class LabelQuality:
    threshold: float
    batches: tuple[BatchAgreement, ...]  # the lowest mean alpha first
    batch_total: int
    low: tuple[LowInstruction, ...]  # below the threshold, the lowest first
    low_total: int
    annotators: tuple[Annotator, ...]  # the least agreement with consensus first


def has_label_quality(connection: Connection) -> bool:
    """Whether a sync has computed any label quality in this database."""
    if label_agreement.name not in inspect(connection).get_table_names():
        return False
    return connection.execute(select(label_agreement.c.batch_id).limit(1)).first() is not None


def label_quality(connection: Connection, threshold: float) -> LabelQuality | None:
    """Agreement per batch, the instructions whose alpha is below ``threshold``, and the
    annotators furthest from consensus; None when nothing was computed yet."""
    if not has_label_quality(connection):
        return None
    a, b = v_agreement, batches
    current = b.c.removed_upstream_at.is_(None)
    mean_alpha = func.avg(a.c.krippendorff_alpha)
    per_batch = (
        select(
            b.c.batch_id,
            b.c.name,
            func.count().label("instructions"),
            func.max(a.c.units).label("units"),
            func.max(a.c.annotators).label("annotators"),
            mean_alpha.label("mean_alpha"),
            func.min(a.c.krippendorff_alpha).label("lowest_alpha"),
            func.avg(a.c.percent_agreement).label("mean_percent"),
        )
        .join_from(a, b, b.c.batch_id == a.c.batch_id)
        .where(current)
        .group_by(b.c.batch_id, b.c.name)
    )
    rows = connection.execute(per_batch).all()
    ranked = sorted(rows, key=lambda r: (r.mean_alpha is None, r.mean_alpha or 0.0, r.batch_id))
    below = (a.c.krippendorff_alpha < threshold, current)
    joined = a.join(b, b.c.batch_id == a.c.batch_id)
    low_total = connection.execute(select(func.count()).select_from(joined).where(*below)).scalar()
    low = connection.execute(
        select(
            b.c.batch_id,
            b.c.name,
            a.c.instruction_id,
            a.c.level,
            a.c.units,
            a.c.annotators,
            a.c.krippendorff_alpha,
            a.c.percent_agreement,
        )
        .select_from(joined)
        .where(*below)
        .order_by(a.c.krippendorff_alpha, a.c.batch_id, a.c.instruction_id)
        .limit(LISTED)
    )
    return LabelQuality(
        threshold=threshold,
        batches=tuple(_batch(row) for row in ranked[:LISTED]),
        batch_total=len(rows),
        low=tuple(_low(row) for row in low),
        low_total=int(low_total),
        annotators=_annotators(connection),
    )


def _annotators(connection: Connection) -> tuple[Annotator, ...]:
    q, b = annotator_agreement, batches
    compared, agreed = func.sum(q.c.compared), func.sum(q.c.agreed)
    agreement = ratio(agreed, compared)
    ranked = (
        select(
            q.c.participant_id,
            func.count(q.c.batch_id.distinct()).label("batches"),
            compared.label("compared"),
            agreed.label("agreed"),
            agreement.label("agreement"),
        )
        .join_from(q, b, b.c.batch_id == q.c.batch_id)
        .where(b.c.removed_upstream_at.is_(None))
        .group_by(q.c.participant_id)
        .having(compared >= MIN_COMPARED)
        .order_by(agreement, q.c.participant_id)
        .limit(ANNOTATORS)
        .subquery("ranked")
    )
    p = VIEWS_BY_NAME["v_participants"].table
    rows = connection.execute(
        select(ranked, p.c.approval_rate)
        .outerjoin(p, p.c.participant_id == ranked.c.participant_id)
        .order_by(ranked.c.agreement, ranked.c.participant_id)
    )
    return tuple(
        Annotator(
            r.participant_id,
            int(r.batches),
            int(r.compared),
            int(r.agreed),
            r.agreement,
            _float(r.approval_rate),
        )
        for r in rows
    )


def _batch(row) -> BatchAgreement:
    return BatchAgreement(
        row.batch_id,
        row.name,
        int(row.instructions),
        int(row.units),
        int(row.annotators),
        _float(row.mean_alpha),
        _float(row.lowest_alpha),
        _float(row.mean_percent),
    )


def _low(row) -> LowInstruction:
    return LowInstruction(
        row.batch_id,
        row.name,
        row.instruction_id,
        row.level,
        int(row.units),
        int(row.annotators),
        float(row.krippendorff_alpha),
        _float(row.percent_agreement),
    )


def _float(value) -> float | None:
    return None if value is None else float(value)
