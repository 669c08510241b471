"""A study's cost (``GET /api/v1/studies/{id}/cost/``) and its submissions counted per status
(``GET /api/v1/studies/{id}/submissions/counts/``), stored together: one ``study_costs`` row
per study and one ``study_submission_counts`` row per status it has, replaced whole when
anything changed.

Amounts are in minor units (cents, pence), as the API sends them. The cost is as of
``last_changed_at``: a sync that finds it the same writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import BigInteger, Column, Double, ForeignKey, String, Table

from ..errors import RowsRefusedError
from .columns import MYSQL_OPTIONS, ShortText, Status, change_columns, metadata
from .kind import Children, Kind, content_hash
from .payload import SpecModel

Number = int | float


class Amount(SpecModel):
    """``AmountAndCurrency``."""

    amount: Number
    currency: Annotated[str, Field(max_length=16)] | None = None


class CostBreakdown(SpecModel):
    """``StudyCostBreakdown``."""

    rewards: Amount | None = None
    fees: Amount | None = None
    tax: Amount | None = None


class StudyCost(SpecModel):
    """``StudyTotalCost``."""

    rewards: CostBreakdown
    bonuses: CostBreakdown | None = None


# Counts per status: keys as sent ("AWAITING REVIEW"), whole numbers sent as JSON numbers.
StatusCounts = dict[Annotated[str, Field(min_length=1, max_length=64)], Number]

COST_CONTENT_COLUMNS = (
    "rewards",
    "reward_fees",
    "reward_tax",
    "bonuses",
    "bonus_fees",
    "bonus_tax",
    "currency",
)


@dataclass(frozen=True)
class StudyCostRows:
    """A study's cost row, its counts per status, and a hash of both."""

    study_id: str
    batch_id: str
    cost: dict[str, Any]
    counts: tuple[dict[str, Any], ...]
    content_hash: str


def flatten_cost(
    study_id: str, batch_id: str, cost: StudyCost, counts: dict[str, Number]
) -> StudyCostRows:
    """The cost and counts of a study as rows (``TOTAL`` is left out: it is their sum)."""
    bonuses = cost.bonuses or CostBreakdown()
    amounts = (cost.rewards.rewards, cost.rewards.fees, cost.rewards.tax)
    amounts += (bonuses.rewards, bonuses.fees, bonuses.tax)
    row: dict[str, Any] = {"study_id": study_id}
    for column, amount in zip(COST_CONTENT_COLUMNS, amounts, strict=False):
        row[column] = None if amount is None else float(amount.amount)
    row["currency"] = next((a.currency for a in amounts if a is not None and a.currency), None)
    count_rows = tuple(
        {"study_id": study_id, "status": status, "submissions": int(count)}
        for status, count in sorted(counts.items())
        if status != "TOTAL"
    )
    hashed = content_hash(
        {
            "cost": {column: row[column] for column in COST_CONTENT_COLUMNS},
            "counts": [[r["status"], r["submissions"]] for r in count_rows],
        }
    )
    return StudyCostRows(study_id, batch_id, row, count_rows, hashed)


study_costs = Table(
    "study_costs",
    metadata,
    Column(
        "study_id",
        ShortText,
        ForeignKey("studies.study_id", ondelete="CASCADE"),
        primary_key=True,
        comment="The study.",
    ),
    Column("rewards", Double, comment="Rewards paid, in minor units (rewards.rewards)."),
    Column("reward_fees", Double, comment="Prolific's fees on the rewards (rewards.fees)."),
    Column("reward_tax", Double, comment="Tax on the rewards and their fees (rewards.tax)."),
    Column("bonuses", Double, comment="Bonuses paid, in minor units (bonuses.rewards)."),
    Column("bonus_fees", Double, comment="Fees on the bonuses (bonuses.fees)."),
    Column("bonus_tax", Double, comment="Tax on the bonuses and their fees (bonuses.tax)."),
    Column("currency", String(16), comment="Currency of the amounts, as sent (GBP, USD)."),
    Column(
        "content_hash",
        String(64),
        nullable=False,
        comment="SHA-256 of the cost and the counts; rewritten only when they change.",
    ),
    *change_columns("it", "it: the cost is as of then"),
    comment="One row per stored study: what it has cost so far (not projected), in minor units.",
    **MYSQL_OPTIONS,
)

study_submission_counts = Table(
    "study_submission_counts",
    metadata,
    Column(
        "study_id",
        ShortText,
        ForeignKey("study_costs.study_id", ondelete="CASCADE"),
        primary_key=True,
        comment="The study.",
    ),
    Column("status", Status, primary_key=True, comment="A submission status, as sent."),
    Column("submissions", BigInteger, nullable=False, comment="Its submissions in that status."),
    comment=(
        "The API's count of each study's submissions per status (submissions/counts/), as of "
        "study_costs.last_changed_at; TOTAL is left out (it is their sum)."
    ),
    **MYSQL_OPTIONS,
)


STUDY_COST: Kind[StudyCostRows] = Kind(
    name="study cost",
    table=study_costs,
    key="study_id",
    content_columns=COST_CONTENT_COLUMNS,
    key_of=lambda rows: rows.study_id,
    row_of=lambda rows: rows.cost,
    refused=lambda rows, message, field: RowsRefusedError(
        rows.batch_id, f"study {rows.study_id}'s cost: {message}", field=field, stage="costs"
    ),
    hash_column="content_hash",
    hash_of=lambda rows: rows.content_hash,
    children=(Children(study_submission_counts, "study_id", lambda rows: rows.counts),),
)
