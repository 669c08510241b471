"""What the morning report shows, read from the store.

Everything here is an aggregate (counts per day, per status, per kind, the top few) or a
bounded list (at most ``MAX_RUNS`` runs), so that the page stays small however many months of
history and batches the database holds. Read only: nothing is created or written.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Connection, Engine, func, or_, select

from ..rows import BATCH_STATUSES
from ..store.schema import (
    batch_datasets,
    batches,
    datasets,
    etl_failures,
    etl_runs,
    responses,
)
from ..store.views import utc_day, v_batch_processing_time, v_batch_status_intervals
from ..text import one_line, shorten
from .report_changes import (
    BatchFailure,
    BatchList,
    RunChanges,
    failed_batches,
    removed_batches,
    run_changes,
    stuck_batches,
)
from .report_labels import DEFAULT_THRESHOLD, LabelQuality, label_quality
from .run_history import RunRecord, recent_runs, run_record, runs_since

DEFAULT_DAYS = 30
MAX_DAYS = 366
MAX_RUNS = 120  # runs listed and charted; a window with more says how many it left out
TOP = 10  # rows of each "most ..." list
_MESSAGE_LENGTH = 300

# Time to ready, in buckets that read at a glance; times are as precise as the syncs' interval.
READY_BUCKETS: tuple[tuple[str, float], ...] = (
    ("< 1 h", 3600),
    ("1–6 h", 6 * 3600),
    ("6–24 h", 86400),
    ("1–2 d", 2 * 86400),
    ("2–3 d", 3 * 86400),
    ("3–7 d", 7 * 86400),
    ("1–2 wk", 14 * 86400),
    ("≥ 2 wk", float("inf")),
)


@dataclass(frozen=True)
class FailureKind:
    """Failures of one kind: how many, in how many runs, and one message as an example."""

    stage: str
    error_kind: str
    http_status: int | None
    failures: int
    runs: int
    example: str


@dataclass(frozen=True)
class StatusDay:
    """How many batches were in each status at the end of a day (UTC), as the syncs saw it."""

    day: date
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class ProcessingTimes:
    """Time from PROCESSING to READY for the batches that became READY in the window."""

    buckets: tuple[tuple[str, int], ...]
    ready: int
    errored: int
    median_seconds: float | None
    p90_seconds: float | None
    still_processing: int
    processing_since: datetime | None  # the oldest batch still processing: seen so since


@dataclass(frozen=True)
class ReusedDataset:
    dataset_id: str
    filename: str
    total_datapoint_count: int
    batches_using: int


@dataclass(frozen=True)
class DatasetReuse:
    datasets: int
    reused: int  # datasets that two or more batches list
    top: tuple[ReusedDataset, ...]


@dataclass(frozen=True)
class BatchResponses:
    batch_id: str
    batch_name: str | None
    responses: int


@dataclass(frozen=True)
class Responses:
    total: int
    in_window: int
    batches: int
    per_day: tuple[tuple[date, int], ...]
    top_batches: tuple[BatchResponses, ...]
    time_column: str


@dataclass(frozen=True)
class ReportData:
    """Everything the page shows. ``run`` is the run the report is about (the latest, unless
    a sync asked for a report on its own run)."""

    generated_at: datetime
    days: int
    since: datetime
    run: RunRecord | None = None
    run_failures: tuple[FailureKind, ...] = ()
    runs: tuple[RunRecord, ...] = ()  # in the window, newest first, at most MAX_RUNS
    runs_in_window: int = 0
    runs_recorded: int = 0
    window_failures: tuple[FailureKind, ...] = ()
    batches_now: dict[str, int] = field(default_factory=dict)
    status_days: tuple[StatusDay, ...] = ()
    processing: ProcessingTimes | None = None
    datasets: DatasetReuse | None = None
    responses: Responses | None = None
    removed_count: int = 0  # batches gone upstream: left out of batches_now
    changes: RunChanges | None = None
    stuck: BatchList | None = None
    removed: BatchList | None = None
    batch_failures: tuple[BatchFailure, ...] = ()
    batch_failure_total: int = 0
    labels: LabelQuality | None = None  # None when the agreement views are not there
    agreement_threshold: float = DEFAULT_THRESHOLD

    @property
    def is_empty(self) -> bool:
        return self.run is None


def window_start(now: datetime, days: int) -> datetime:
    """Midnight UTC at the start of the window: today and the ``days - 1`` days before it."""
    first = now.astimezone(timezone.utc).date() - timedelta(days=days - 1)
    return datetime.combine(first, time(0), tzinfo=timezone.utc)


def empty_report(now: datetime, days: int) -> ReportData:
    return ReportData(generated_at=now, days=days, since=window_start(now, days))


def read_report_data(
    engine: Engine,
    *,
    days: int,
    now: datetime,
    run_id: int | None = None,
    agreement_threshold: float = DEFAULT_THRESHOLD,
) -> ReportData:
    """The report's numbers from a database with this version's schema.

    ``run_id`` picks the run the report is about; the latest when None (or when that run is
    not recorded). Instructions whose Krippendorff's alpha is below ``agreement_threshold``
    are listed. Raises DBAPIError as it comes: the caller says what it could not read.
    """
    since = window_start(now, days)
    latest = recent_runs(engine, 1)
    if not latest:
        return empty_report(now, days)
    run = (run_record(engine, run_id) if run_id is not None else None) or latest[0]
    with engine.connect() as connection:
        runs_recorded = connection.execute(select(func.count()).select_from(etl_runs)).scalar()
        runs_in_window = connection.execute(
            select(func.count()).select_from(etl_runs).where(etl_runs.c.started_at >= since)
        ).scalar()
        batch_failures, batch_failure_total = failed_batches(connection, run.run_id)
        data = ReportData(
            generated_at=now,
            days=days,
            since=since,
            run=run,
            run_failures=_failure_kinds(connection, etl_failures.c.run_id == run.run_id),
            runs=tuple(runs_since(engine, since, MAX_RUNS)),
            runs_in_window=runs_in_window,
            runs_recorded=runs_recorded,
            window_failures=_failure_kinds(connection, etl_failures.c.occurred_at >= since),
            batches_now=_batches_now(connection),
            removed_count=_removed_count(connection),
            status_days=_status_days(connection, since, now),
            processing=_processing_times(connection, since),
            datasets=_dataset_reuse(connection),
            responses=_responses(connection, since),
            changes=run_changes(connection, run.run_id, run.started_at),
            stuck=stuck_batches(connection, now),
            removed=removed_batches(connection),
            batch_failures=batch_failures,
            batch_failure_total=batch_failure_total,
            labels=label_quality(connection, agreement_threshold),
            agreement_threshold=agreement_threshold,
        )
    return data


def _failure_kinds(connection: Connection, where) -> tuple[FailureKind, ...]:
    f = etl_failures
    rows = connection.execute(
        select(
            f.c.stage,
            f.c.error_kind,
            f.c.http_status,
            func.count().label("failures"),
            func.count(f.c.run_id.distinct()).label("runs"),
            func.min(f.c.message).label("example"),
        )
        .where(where)
        .group_by(f.c.stage, f.c.error_kind, f.c.http_status)
    )
    kinds = [
        FailureKind(
            stage=row.stage,
            error_kind=row.error_kind,
            http_status=row.http_status,
            failures=int(row.failures),
            runs=int(row.runs),
            example=shorten(one_line(row.example or ""), _MESSAGE_LENGTH),
        )
        for row in rows
    ]
    kinds.sort(key=lambda k: (-k.failures, k.stage, k.error_kind, k.http_status or 0))
    return tuple(kinds)


def _batches_now(connection: Connection) -> dict[str, int]:
    """Batches per status, of those still upstream: a batch deleted upstream is not current."""
    counts = dict.fromkeys(BATCH_STATUSES, 0)
    rows = connection.execute(
        select(batches.c.status, func.count())
        .where(batches.c.removed_upstream_at.is_(None))
        .group_by(batches.c.status)
    ).all()
    counts.update({status: int(n) for status, n in rows})
    return counts


def _removed_count(connection: Connection) -> int:
    gone = batches.c.removed_upstream_at.is_not(None)
    return int(connection.execute(select(func.count()).where(gone)).scalar())


def _utc_day(column):
    """The UTC calendar day of a timestamp column, as the views compute it."""
    return utc_day(column)


def _status_days(connection: Connection, since: datetime, now: datetime) -> tuple[StatusDay, ...]:
    """Batches per status at the end of each day of the window, from the status intervals
    (v_batch_status_intervals), counted per status and the days each began and ended: those
    open when the window starts, plus each day's entries, minus each day's exits. A batch
    removed upstream counts until the day a sync found it gone, so that today's counts are
    the current batches'."""
    iv, b = v_batch_status_intervals.table, batches
    entered, left = _utc_day(iv.c.entered_at), _utc_day(iv.c.left_at)
    removed = _utc_day(b.c.removed_upstream_at)
    first = since.date()
    running: Counter = Counter()
    changes: Counter = Counter()
    for status, entered_on, left_on, removed_on, n in connection.execute(
        select(iv.c.status, entered, left, removed, func.count())
        .join_from(iv, b, b.c.batch_id == iv.c.batch_id)
        .where(
            or_(iv.c.left_at.is_(None), iv.c.left_at >= since),
            or_(b.c.removed_upstream_at.is_(None), b.c.removed_upstream_at >= since),
        )
        .group_by(iv.c.status, entered, left, removed)
    ):
        entered_on = _as_date(entered_on)
        left_on = min((_as_date(d) for d in (left_on, removed_on) if d is not None), default=None)
        if left_on is not None and left_on < entered_on:
            continue  # a status seen only after the batch was found gone
        if entered_on < first:
            running[status] += int(n)
        else:
            changes[(entered_on, status)] += int(n)
        if left_on is not None:
            changes[(left_on, status)] -= int(n)
    days = []
    today = now.astimezone(timezone.utc).date()
    day = first
    while day <= today:
        for status in BATCH_STATUSES:
            running[status] += changes.get((day, status), 0)
        days.append(StatusDay(day, {s: int(running[s]) for s in BATCH_STATUSES}))
        day += timedelta(days=1)
    while days and days[0].total == 0:  # before the first batch was seen: nothing to draw
        days.pop(0)
    return tuple(days)


def _processing_times(connection: Connection, since: datetime) -> ProcessingTimes:
    pt = v_batch_processing_time.table
    rows = connection.execute(
        select(pt.c.final_status, pt.c.seconds_processing, pt.c.processing_started_at).where(
            or_(pt.c.finished_at >= since, pt.c.finished_at.is_(None))
        )
    ).all()
    ready = sorted(float(s) for status, s, _ in rows if status == "READY" and s is not None)
    processing = [started for status, _, started in rows if status is None]
    buckets: Counter = Counter()
    for seconds in ready:
        buckets[next(label for label, limit in READY_BUCKETS if seconds < limit)] += 1
    return ProcessingTimes(
        buckets=tuple((label, buckets[label]) for label, _ in READY_BUCKETS),
        ready=len(ready),
        errored=sum(1 for status, _, _ in rows if status == "ERROR"),
        median_seconds=statistics.median(ready) if ready else None,
        p90_seconds=_percentile(ready, 0.9),
        still_processing=len(processing),
        processing_since=min(processing, default=None),
    )


def _dataset_reuse(connection: Connection) -> DatasetReuse:
    link = batch_datasets
    using = (
        select(link.c.dataset_id, func.count().label("batches_using"))
        .group_by(link.c.dataset_id)
        .subquery("using")
    )
    total = connection.execute(select(func.count()).select_from(datasets)).scalar()
    reused = connection.execute(
        select(func.count()).select_from(using).where(using.c.batches_using >= 2)
    ).scalar()
    top = connection.execute(
        select(
            datasets.c.dataset_id,
            datasets.c.filename,
            datasets.c.total_datapoint_count,
            using.c.batches_using,
        )
        .join_from(datasets, using, using.c.dataset_id == datasets.c.dataset_id)
        .where(using.c.batches_using >= 2)
        .order_by(using.c.batches_using.desc(), datasets.c.dataset_id)
        .limit(TOP)
    )
    return DatasetReuse(
        datasets=int(total),
        reused=int(reused),
        top=tuple(
            ReusedDataset(
                row.dataset_id, row.filename, int(row.total_datapoint_count), int(row.batches_using)
            )
            for row in top
        ),
    )


def _responses(connection: Connection, since: datetime) -> Responses | None:
    """Responses per day and per batch (those the API still returns), when there are any."""
    current = responses.c.removed_upstream_at.is_(None)
    total = connection.execute(select(func.count()).where(current)).scalar()
    if not total:
        return None
    when = responses.c.created_at
    day = _utc_day(when)
    per_day = connection.execute(
        select(day, func.count()).where(current, when >= since).group_by(day).order_by(day)
    ).all()
    batch_count = connection.execute(
        select(func.count(responses.c.batch_id.distinct())).where(current)
    ).scalar()
    counts = (
        select(responses.c.batch_id, func.count().label("responses"))
        .where(current)
        .group_by(responses.c.batch_id)
        .subquery("counts")
    )
    top = connection.execute(
        select(counts, batches.c.name)
        .join_from(counts, batches, batches.c.batch_id == counts.c.batch_id, isouter=True)
        .order_by(counts.c.responses.desc(), counts.c.batch_id)
        .limit(TOP)
    )
    return Responses(
        total=int(total),
        in_window=sum(int(n) for _, n in per_day),
        batches=int(batch_count),
        per_day=tuple((_as_date(d), int(n)) for d, n in per_day),
        top_batches=tuple(
            BatchResponses(row.batch_id, row.name, int(row.responses)) for row in top
        ),
        time_column=when.name,
    )


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of sorted ``values`` (linear between the two nearest), None if empty."""
    if not values:
        return None
    position = (len(values) - 1) * q
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)
