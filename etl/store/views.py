"""Reporting views for BI tools, defined once and compiled for each dialect.

Each view is a SQLAlchemy Core select with a description of the view and of every column (the
data dictionary is generated from them). ``create_views`` and ``drop_views`` manage them on a
live database; ``views_sql`` gives the same statements as text, shipped in ``sql/views/``.
The few places where the dialects differ (seconds between two timestamps, a cast to a
double) are small ``@compiles`` constructs, so that a view reads the same everywhere and
returns the same types: counts are integers and rates and durations are doubles on every
dialect (MySQL would otherwise return DECIMAL, PostgreSQL NUMERIC).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Float,
    String,
    and_,
    case,
    cast,
    create_mock_engine,
    func,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import ExecutableDDLElement
from sqlalchemy.sql import ColumnElement, Select, TableClause, column, table, visitors
from sqlalchemy.sql.functions import FunctionElement

from ..rows import BATCH_STATUSES
from .schema import (
    DIALECTS,
    UTCDateTime,
    batch_datasets,
    batch_last_seen,
    batch_status_history,
    batches,
    dataset_imports,
    datasets,
    etl_failures,
    etl_runs,
    response_answers,
    responses,
    workspaces,
)

# --- what differs between dialects -------------------------------------------------------------


class seconds_between(FunctionElement):  # noqa: N801 - reads like the SQL function it is
    """Seconds from the first timestamp to the second, as a double; NULL when either is NULL.

    SQLite keeps UTC text and its date functions read milliseconds only, so it is rounded to
    the millisecond there; PostgreSQL and MySQL/MariaDB are exact to the microsecond.
    """

    type = Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element, compiler, **kw) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"ROUND((julianday({end}) - julianday({start})) * 86400, 3)"


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element, compiler, **kw) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM {end} - {start}) AS DOUBLE PRECISION)"


@compiles(seconds_between, "mysql")
@compiles(seconds_between, "mariadb")
def _seconds_mysql(element, compiler, **kw) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"TIMESTAMPDIFF(MICROSECOND, {start}, {end}) / 1e6"


class ratio(FunctionElement):  # noqa: N801
    """The first argument divided by the second, as a double; NULL when the second is 0.

    Without the cast, SQLite and PostgreSQL would divide integers to an integer and MySQL would
    return a DECIMAL. MySQL needs 8.0.17 or MariaDB 10.4.5 for the cast.
    """

    type = Float()
    name = "ratio"
    inherit_cache = True


_DOUBLE = {
    "sqlite": "REAL",
    "postgresql": "DOUBLE PRECISION",
    "mysql": "DOUBLE",
    "mariadb": "DOUBLE",
}


@compiles(ratio, "sqlite")
@compiles(ratio, "postgresql")
@compiles(ratio, "mysql")
@compiles(ratio, "mariadb")
def _ratio(element, compiler, **kw) -> str:
    numerator, denominator = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST({numerator} AS {_DOUBLE[compiler.dialect.name]}) / NULLIF({denominator}, 0)"


class utc_day(FunctionElement):  # noqa: N801
    """The UTC calendar day of a timestamp, as a date.

    PostgreSQL keeps ``timestamptz``, whose date would otherwise follow the session's time
    zone (a BI tool's); SQLite and MySQL/MariaDB keep UTC wall time already.
    """

    type = Date()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element, compiler, **kw) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element, compiler, **kw) -> str:
    return f"CAST(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC' AS DATE)"


@compiles(utc_day, "mysql")
@compiles(utc_day, "mariadb")
def _utc_day_mysql(element, compiler, **kw) -> str:
    return f"DATE({compiler.process(element.clauses, **kw)})"


@compiles(seconds_between)
@compiles(ratio)
@compiles(utc_day)
def _unsupported(element, compiler, **kw) -> str:
    raise CompileError(f"no {element.name} for database dialect {compiler.dialect.name!r}")


def _integer(expression: ColumnElement) -> ColumnElement:
    """A count or sum as a plain integer (PostgreSQL sums are NUMERIC, MySQL's DECIMAL)."""
    return cast(expression, BigInteger)


# --- the views ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """A reporting view: its name, what it shows, its query, and a description per column.

    ``columns`` lists the query's columns in order; a column described as ``None`` takes the
    comment of the table column it passes through unchanged.
    """

    name: str
    description: str
    query: Select
    columns: dict[str, str]
    reads: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        selected = [c.name for c in self.query.selected_columns]
        if selected != list(self.columns):
            raise ValueError(f"{self.name}: columns {selected} but described {list(self.columns)}")
        reads = sorted(
            {node.name for node in visitors.iterate(self.query) if isinstance(node, TableClause)}
        )
        object.__setattr__(self, "reads", tuple(reads))

    @property
    def table(self) -> TableClause:
        """The view as a table to select from, with the column types of its query."""
        return table(self.name, *(column(c.name, c.type) for c in self.query.selected_columns))


def _described(query: Select, described: dict[str, str | None]) -> dict[str, str]:
    """Fill in the descriptions of pass-through columns from the table columns' comments."""
    result = {}
    for selected in query.selected_columns:
        text = described.get(selected.name)
        if text is None:
            # Through labels and subqueries, to the table column it passes on unchanged.
            sources = getattr(selected, "element", selected).base_columns
            comments = {c.comment for c in sources if isinstance(c, Column)}
            text = comments.pop() if len(comments) == 1 else None
        if not text:
            raise ValueError(f"column {selected.name} has no description")
        result[selected.name] = text
    return result


def _view(name: str, description: str, query: Select, described: dict[str, str | None]) -> View:
    return View(name, description, query, _described(query, described))


def _batches_view() -> View:
    b, seen = batches, batch_last_seen
    totals = (
        select(
            batch_datasets.c.batch_id,
            func.count().label("dataset_count"),
            func.sum(datasets.c.total_datapoint_count).label("total_datapoint_count"),
        )
        .join_from(batch_datasets, datasets)
        .group_by(batch_datasets.c.batch_id)
        .subquery("dataset_totals")
    )
    query = select(
        b.c.batch_id,
        b.c.name,
        b.c.status,
        b.c.workspace_id,
        b.c.created_at,
        b.c.created_by,
        b.c.schema_version,
        b.c.total_task_count,
        b.c.total_instruction_count,
        b.c.total_task_groups,
        b.c.task_name,
        b.c.task_introduction,
        b.c.task_steps,
        b.c.auto_sync_enabled,
        _integer(func.coalesce(totals.c.dataset_count, 0)).label("dataset_count"),
        _integer(func.coalesce(totals.c.total_datapoint_count, 0)).label("total_datapoint_count"),
        workspaces.c.title.label("workspace_title"),
        b.c.removed_upstream_at,
        b.c.first_seen_at,
        b.c.last_changed_at,
        seen.c.last_seen_at,
        seen.c.last_listed_at,
    ).select_from(
        b.outerjoin(totals, totals.c.batch_id == b.c.batch_id)
        .outerjoin(seen, seen.c.batch_id == b.c.batch_id)
        .outerjoin(workspaces, workspaces.c.workspace_id == b.c.workspace_id)
    )
    return _view(
        "v_batches",
        "One row per batch: the batch, its task details, how many datasets it lists and their "
        "datapoints, its workspace's title, and when a sync last fetched and listed it. The "
        "JSON columns of batches (batch_items, extra_fields) are left to the table.",
        query,
        {
            "dataset_count": "Datasets the batch lists now (0 when none).",
            "total_datapoint_count": "Datapoints in those datasets, summed (0 when none).",
            "workspace_title": "Its workspace's title; NULL until a sync lists workspaces.",
        },
    )


v_batches = _batches_view()


def _workspace_summary_view() -> View:
    vb = v_batches.table
    per_status = [
        _integer(func.sum(case((vb.c.status == status, 1), else_=0))).label(
            f"{status.lower()}_batches"
        )
        for status in BATCH_STATUSES
    ]
    query = select(
        vb.c.workspace_id,
        _integer(func.count()).label("batch_count"),
        *per_status,
        _integer(func.sum(vb.c.total_task_count)).label("total_task_count"),
        _integer(func.sum(vb.c.total_instruction_count)).label("total_instruction_count"),
        _integer(func.sum(vb.c.total_datapoint_count)).label("total_datapoint_count"),
    ).group_by(vb.c.workspace_id)
    return _view(
        "v_workspace_summary",
        "One row per workspace: its batches, how many are in each status, and their tasks, "
        "instructions and datapoints.",
        query,
        {
            "workspace_id": batches.c.workspace_id.comment,
            "batch_count": "Batches in the workspace.",
            **{
                f"{status.lower()}_batches": f"Batches whose status is {status}."
                for status in BATCH_STATUSES
            },
            "total_task_count": "Tasks in the workspace's batches, summed.",
            "total_instruction_count": "Instructions in the workspace's batches, summed.",
            "total_datapoint_count": (
                "Datapoints in the datasets of the workspace's batches, summed per batch: a "
                "dataset shared by two batches counts twice (once per batch that uses it)."
            ),
        },
    )


v_workspace_summary = _workspace_summary_view()


def _dataset_usage_view() -> View:
    d, link, b = datasets, batch_datasets, batches
    query = select(
        d.c.dataset_id,
        d.c.filename,
        d.c.total_datapoint_count,
        _integer(func.count(link.c.batch_id).over(partition_by=d.c.dataset_id)).label(
            "batches_using"
        ),
        link.c.batch_id,
        b.c.name.label("batch_name"),
        b.c.status.label("batch_status"),
        b.c.workspace_id,
    ).select_from(
        d.outerjoin(link, link.c.dataset_id == d.c.dataset_id).outerjoin(
            b, b.c.batch_id == link.c.batch_id
        )
    )
    return _view(
        "v_dataset_usage",
        "One row per dataset and batch that lists it. A dataset that no batch lists any more "
        "(a batch dropped it) keeps one row, with the batch columns NULL and batches_using 0.",
        query,
        {
            "batches_using": "How many batches list the dataset now (0 when none).",
            "batch_id": "A batch that lists the dataset; NULL when none does.",
            "batch_name": "That batch's name; NULL when no batch lists the dataset.",
            "batch_status": "That batch's status; NULL when no batch lists the dataset.",
            "workspace_id": "That batch's workspace; NULL when no batch lists the dataset.",
        },
    )


v_dataset_usage = _dataset_usage_view()


def _status_intervals_view() -> View:
    h, b = batch_status_history, batches
    window = {"partition_by": h.c.batch_id, "order_by": (h.c.observed_at, h.c.history_id)}
    steps = select(
        h.c.history_id,
        h.c.batch_id,
        h.c.old_status,
        h.c.new_status,
        h.c.observed_at,
        func.lead(h.c.observed_at, type_=UTCDateTime).over(**window).label("left_at"),
        func.lead(h.c.new_status, type_=String(64)).over(**window).label("next_status"),
    ).subquery("steps")
    query = select(
        steps.c.history_id,
        steps.c.batch_id,
        b.c.name.label("batch_name"),
        b.c.workspace_id,
        steps.c.old_status.label("previous_status"),
        steps.c.new_status.label("status"),
        steps.c.observed_at.label("entered_at"),
        steps.c.left_at,
        steps.c.next_status,
        seconds_between(steps.c.observed_at, steps.c.left_at).label("seconds_in_status"),
    ).join_from(steps, b, b.c.batch_id == steps.c.batch_id)
    return _view(
        "v_batch_status_intervals",
        "Time in status: one row per row of batch_status_history, i.e. per status a batch was "
        "seen in, from the sync that saw it enter it to the sync that saw it leave. Times are "
        "when syncs observed the changes, so their precision is the interval between syncs.",
        query,
        {
            "history_id": "The batch_status_history row.",
            "batch_name": "Batch name.",
            "previous_status": "Status before; NULL on the batch's first observation.",
            "status": "The status.",
            "entered_at": (
                "When a sync first saw the batch in this status (UTC); it entered it at or "
                "before then."
            ),
            "left_at": "When a sync first saw the next status (UTC); NULL while current.",
            "next_status": "The status after this one; NULL while current.",
            "seconds_in_status": (
                "Seconds from entered_at to left_at (SQLite: to the millisecond); NULL while "
                "current."
            ),
        },
    )


v_batch_status_intervals = _status_intervals_view()


def _processing_time_view() -> View:
    steps, b = v_batch_status_intervals.table, batches
    starts = (
        select(steps.c.batch_id, func.min(steps.c.entered_at).label("processing_started_at"))
        .where(steps.c.status == "PROCESSING")
        .group_by(steps.c.batch_id)
        .subquery("starts")
    )
    ends = (
        select(
            steps.c.batch_id,
            steps.c.status,
            steps.c.entered_at,
            func.row_number()
            .over(partition_by=steps.c.batch_id, order_by=(steps.c.entered_at, steps.c.history_id))
            .label("nth"),
        )
        .join_from(steps, starts, starts.c.batch_id == steps.c.batch_id)
        .where(
            steps.c.status.in_(("READY", "ERROR")),
            steps.c.entered_at > starts.c.processing_started_at,
        )
        .subquery("ends")
    )
    query = select(
        starts.c.batch_id,
        b.c.name.label("batch_name"),
        b.c.workspace_id,
        b.c.status.label("current_status"),
        starts.c.processing_started_at,
        ends.c.entered_at.label("finished_at"),
        ends.c.status.label("final_status"),
        seconds_between(starts.c.processing_started_at, ends.c.entered_at).label(
            "seconds_processing"
        ),
    ).select_from(
        starts.join(b, b.c.batch_id == starts.c.batch_id).outerjoin(
            ends, and_(ends.c.batch_id == starts.c.batch_id, ends.c.nth == 1)
        )
    )
    return _view(
        "v_batch_processing_time",
        "One row per batch that a sync has seen PROCESSING: from the first time it was seen "
        "PROCESSING to the first time it was seen READY or ERROR after that. Batches first seen "
        "already READY or ERROR are not here: their processing time is unknown. For a batch "
        "stored before status history existed (upgraded from revision 0001), the first "
        "observation is dated when it last changed, so its time may be understated.",
        query,
        {
            "batch_id": batches.c.batch_id.comment,
            "batch_name": "Batch name.",
            "current_status": "The batch's status now.",
            "processing_started_at": "When a sync first saw the batch PROCESSING (UTC).",
            "finished_at": (
                "When a sync first saw it READY or ERROR after that (UTC); NULL while processing."
            ),
            "final_status": "READY or ERROR, whichever came first; NULL while processing.",
            "seconds_processing": (
                "Seconds from processing_started_at to finished_at (SQLite: to the "
                "millisecond); NULL while processing."
            ),
        },
    )


v_batch_processing_time = _processing_time_view()


def _run_health_view() -> View:
    r, f = etl_runs, etl_failures
    failures = (
        select(
            f.c.run_id,
            func.count(f.c.batch_id.distinct()).label("failed_batches"),
            func.sum(case((f.c.stage == "input", 1), else_=0)).label("bad_id_lines"),
        )
        .group_by(f.c.run_id)
        .subquery("failure_counts")
    )
    failed_batches = _integer(func.coalesce(failures.c.failed_batches, 0))
    query = select(
        r.c.run_id,
        r.c.status,
        r.c.started_at,
        r.c.finished_at,
        seconds_between(r.c.started_at, r.c.finished_at).label("duration_seconds"),
        r.c.ids_read,
        r.c.listed,
        r.c.fetched,
        r.c.inserted,
        r.c.updated,
        r.c.unchanged,
        r.c.failed,
        r.c.responses_inserted,
        r.c.responses_updated,
        r.c.responses_unchanged,
        r.c.studies_written,
        r.c.studies_unchanged,
        r.c.submissions_written,
        r.c.submissions_unchanged,
        r.c.responses_skipped,
        failed_batches.label("failed_batches"),
        _integer(func.coalesce(failures.c.bad_id_lines, 0)).label("bad_id_lines"),
        ratio(failed_batches, r.c.ids_read + r.c.listed).label("failure_rate"),
        r.c.retries,
        r.c.tool_version,
        r.c.id_source,
        r.c.error_message,
    ).select_from(r.outerjoin(failures, failures.c.run_id == r.c.run_id))
    return _view(
        "v_run_health",
        "One row per run: its outcome, counts, failure rate and duration.",
        query,
        {
            "duration_seconds": (
                "Seconds from started_at to finished_at (SQLite: to the millisecond); NULL "
                "while running or when the run was killed."
            ),
            "failed_batches": "Distinct batches that failed in the run.",
            "bad_id_lines": "ID file lines that were not batch IDs.",
            "failure_rate": (
                "failed_batches / (ids_read + listed), between 0 and 1; NULL when the run took "
                "on no batch. Bad ID lines are left out: they are not among ids_read."
            ),
        },
    )


v_run_health = _run_health_view()


def _latest_run_failures_view() -> View:
    r, f = etl_runs, etl_failures
    latest = select(func.max(r.c.run_id)).scalar_subquery()
    query = (
        select(
            f.c.run_id,
            r.c.status.label("run_status"),
            r.c.started_at.label("run_started_at"),
            f.c.failure_id,
            f.c.batch_id,
            f.c.workspace_id,
            f.c.dataset_id,
            f.c.response_id,
            f.c.line_number,
            f.c.input_line,
            f.c.stage,
            f.c.error_kind,
            f.c.http_status,
            f.c.field,
            f.c.message,
            f.c.occurred_at,
        )
        .join_from(f, r, r.c.run_id == f.c.run_id)
        .where(f.c.run_id == latest)
    )
    return _view(
        "v_latest_run_failures",
        "The failures of the latest run (the highest run_id, even while it is still running): "
        "one row per failed batch or bad ID line.",
        query,
        {
            "run_id": "The latest run.",
            "run_status": etl_runs.c.status.comment,
            "run_started_at": etl_runs.c.started_at.comment,
        },
    )


v_latest_run_failures = _latest_run_failures_view()


def _datasets_view() -> View:
    d, link, jobs = datasets, batch_datasets, dataset_imports
    using = (
        select(link.c.dataset_id, func.count().label("batches_using"))
        .group_by(link.c.dataset_id)
        .subquery("using")
    )
    latest = (
        select(
            jobs.c.dataset_id,
            jobs.c.status,
            func.row_number()
            .over(
                partition_by=jobs.c.dataset_id,
                order_by=(jobs.c.created_at.desc(), jobs.c.import_id.desc()),
            )
            .label("recency"),
        )
    ).subquery("ranked_imports")
    counts = (
        select(
            jobs.c.dataset_id,
            func.count().label("import_count"),
            func.sum(func.coalesce(jobs.c.accepted_count, 0)).label("accepted_count"),
            func.sum(func.coalesce(jobs.c.rejected_count, 0)).label("rejected_count"),
        )
        .group_by(jobs.c.dataset_id)
        .subquery("import_counts")
    )
    query = select(
        d.c.dataset_id,
        d.c.name,
        d.c.filename,
        d.c.total_datapoint_count,
        d.c.schema_version,
        func.coalesce(d.c.status, latest.c.status).label("status"),
        d.c.created_at,
        d.c.created_by,
        d.c.workspace_id,
        workspaces.c.title.label("workspace_title"),
        _integer(func.coalesce(using.c.batches_using, 0)).label("batches_using"),
        _integer(func.coalesce(counts.c.import_count, 0)).label("import_count"),
        _integer(func.coalesce(counts.c.accepted_count, 0)).label("accepted_count"),
        _integer(func.coalesce(counts.c.rejected_count, 0)).label("rejected_count"),
        d.c.details_synced_at,
        d.c.first_seen_at,
        d.c.last_changed_at,
    ).select_from(
        d.outerjoin(using, using.c.dataset_id == d.c.dataset_id)
        .outerjoin(latest, and_(latest.c.dataset_id == d.c.dataset_id, latest.c.recency == 1))
        .outerjoin(counts, counts.c.dataset_id == d.c.dataset_id)
        .outerjoin(workspaces, workspaces.c.workspace_id == d.c.workspace_id)
    )
    return _view(
        "v_datasets",
        "One row per dataset: its name and status, how many batches list it, and its import "
        "jobs summed. Details (name, status, ...) are NULL until a sync has fetched them.",
        query,
        {
            "status": "Its status: a version 3 dataset's own, else its latest import job's.",
            "workspace_title": "Its workspace's title; NULL until a sync lists workspaces.",
            "batches_using": "How many batches list it now (0 when none).",
            "import_count": "Its import jobs (version 4; 0 for version 3).",
            "accepted_count": "Records its import jobs ingested, summed.",
            "rejected_count": "Records its import jobs rejected, summed.",
        },
    )


v_datasets = _datasets_view()


def _removed_upstream_view() -> View:
    b, seen = batches, batch_last_seen
    query = (
        select(
            b.c.batch_id,
            b.c.name,
            b.c.status,
            b.c.workspace_id,
            workspaces.c.title.label("workspace_title"),
            b.c.removed_upstream_at,
            seen.c.last_listed_at,
            b.c.last_changed_at,
        )
        .select_from(
            b.outerjoin(seen, seen.c.batch_id == b.c.batch_id).outerjoin(
                workspaces, workspaces.c.workspace_id == b.c.workspace_id
            )
        )
        .where(b.c.removed_upstream_at.is_not(None))
    )
    return _view(
        "v_batches_removed_upstream",
        "Batches no longer in their workspace's listing: kept with their last known content, "
        "and since when they are gone.",
        query,
        {
            "workspace_title": "Its workspace's title; NULL until a sync lists workspaces.",
            "last_listed_at": "When a sync last found it listed (before it was gone).",
        },
    )


v_batches_removed_upstream = _removed_upstream_view()


def _current_responses():
    """Responses the API still returns: not removed upstream, and of a batch that is not
    either (a batch deleted upstream takes its responses with it)."""
    removed_batches = select(batches.c.batch_id).where(batches.c.removed_upstream_at.is_not(None))
    return responses.c.removed_upstream_at.is_(None) & responses.c.batch_id.not_in(removed_batches)


def _responses_per_day_view() -> View:
    r, b = responses, batches
    day = utc_day(r.c.created_at)
    query = (
        select(
            r.c.batch_id,
            b.c.name.label("batch_name"),
            b.c.workspace_id,
            day.label("day"),
            _integer(func.count()).label("responses"),
            _integer(func.count(r.c.participant_id.distinct())).label("participants"),
        )
        .join_from(r, b, b.c.batch_id == r.c.batch_id)
        .where(_current_responses())
        .group_by(r.c.batch_id, b.c.name, b.c.workspace_id, day)
    )
    return _view(
        "v_responses_per_day",
        "One row per batch and UTC day: the responses given that day and by how many "
        "participants (responses removed upstream, and those of batches removed upstream, left "
        "out).",
        query,
        {
            "batch_name": batches.c.name.comment,
            "day": "The UTC day the responses were given.",
            "responses": "Response records given that day.",
            "participants": "Distinct participants who gave them.",
        },
    )


v_responses_per_day = _responses_per_day_view()


def _batch_participants_view() -> View:
    r = responses
    query = (
        select(
            r.c.batch_id,
            r.c.participant_id,
            _integer(func.count()).label("responses"),
            _integer(func.count(r.c.task_id.distinct())).label("tasks"),
            func.min(r.c.created_at).label("first_response_at"),
            func.max(r.c.created_at).label("last_response_at"),
        )
        .where(_current_responses())
        .group_by(r.c.batch_id, r.c.participant_id)
    )
    return _view(
        "v_batch_participants",
        "One row per batch and participant: how many responses and tasks, first and last "
        "(responses removed upstream, and those of batches removed upstream, left out).",
        query,
        {
            "responses": "Response records the participant gave in the batch.",
            "tasks": "Distinct tasks they answered.",
            "first_response_at": "Their first response in the batch (UTC).",
            "last_response_at": "Their last response in the batch (UTC).",
        },
    )


v_batch_participants = _batch_participants_view()


def _instruction_answers_view() -> View:
    r, a = responses, response_answers
    query = (
        select(
            r.c.batch_id,
            r.c.instruction_id,
            r.c.response_type,
            a.c.value_text,
            _integer(func.count()).label("answers"),
            _integer(func.count(r.c.participant_id.distinct())).label("participants"),
        )
        .join_from(a, r, r.c.response_id == a.c.response_id)
        .where(_current_responses())
        .group_by(r.c.batch_id, r.c.instruction_id, r.c.response_type, a.c.value_text)
    )
    return _view(
        "v_instruction_answers",
        "One row per batch, instruction and answer value: how often it was given, and by how "
        "many participants; the counts of a multiple-choice instruction's options (responses "
        "removed upstream, and those of batches removed upstream, left out).",
        query,
        {
            "answers": "Times the value was given.",
            "participants": "Distinct participants who gave it.",
        },
    )


v_instruction_answers = _instruction_answers_view()


def _batch_progress_view() -> View:
    b, r = batches, responses
    answered = (
        select(
            r.c.batch_id,
            func.count().label("responses"),
            func.count(r.c.task_id.distinct()).label("tasks_answered"),
            func.count(r.c.participant_id.distinct()).label("participants"),
            func.min(r.c.created_at).label("first_response_at"),
            func.max(r.c.created_at).label("last_response_at"),
        )
        .where(_current_responses())
        .group_by(r.c.batch_id)
        .subquery("answered")
    )
    tasks_answered = _integer(func.coalesce(answered.c.tasks_answered, 0))
    query = select(
        b.c.batch_id,
        b.c.name,
        b.c.status,
        b.c.workspace_id,
        b.c.total_task_count,
        _integer(func.coalesce(answered.c.responses, 0)).label("responses"),
        tasks_answered.label("tasks_answered"),
        _integer(func.coalesce(answered.c.participants, 0)).label("participants"),
        ratio(tasks_answered, b.c.total_task_count).label("share_answered"),
        answered.c.first_response_at,
        answered.c.last_response_at,
    )
    query = query.select_from(b.outerjoin(answered, answered.c.batch_id == b.c.batch_id)).where(
        b.c.removed_upstream_at.is_(None)
    )
    return _view(
        "v_batch_progress",
        "One row per batch still upstream: its responses against its tasks. Zero for a batch "
        "whose responses were never loaded (sync --responses).",
        query,
        {
            "responses": "Response records loaded for the batch.",
            "tasks_answered": "Distinct tasks with at least one response.",
            "participants": "Distinct participants who responded.",
            "share_answered": (
                "tasks_answered / total_task_count, between 0 and 1 (above 1 if the API counts "
                "tasks differently); NULL for a batch of no tasks."
            ),
            "first_response_at": "Its first response (UTC); NULL when none.",
            "last_response_at": "Its last response (UTC); NULL when none.",
        },
    )


v_batch_progress = _batch_progress_view()

# The views over studies, submissions and costs (issue #24) use the helpers above: imported
# here, once those are defined, rather than at the top.
from .change_views import CHANGE_VIEWS  # noqa: E402, I001
from .quality_views import quality_views  # noqa: E402
from .study_views import STUDY_VIEWS  # noqa: E402

# In creation order: a view comes after the views it reads.
VIEWS: tuple[View, ...] = (
    v_batches,
    v_workspace_summary,
    v_dataset_usage,
    v_batch_status_intervals,
    v_batch_processing_time,
    v_run_health,
    v_latest_run_failures,
    v_datasets,
    v_batches_removed_upstream,
    v_responses_per_day,
    v_batch_participants,
    v_instruction_answers,
    v_batch_progress,
    *STUDY_VIEWS,
    *quality_views(next(view for view in STUDY_VIEWS if view.name == "v_participants")),
    *CHANGE_VIEWS,
)
VIEWS_BY_NAME: dict[str, View] = {view.name: view for view in VIEWS}


# --- creating and dropping ---------------------------------------------------------------------


class CreateView(ExecutableDDLElement):
    def __init__(self, view: View) -> None:
        self.view = view


class DropView(ExecutableDDLElement):
    def __init__(self, view: View) -> None:
        self.view = view


@compiles(CreateView)
def _create_view(element: CreateView, compiler, **kw) -> str:
    body = compiler.sql_compiler.process(element.view.query, literal_binds=True)
    return f"CREATE VIEW {compiler.preparer.quote(element.view.name)} AS\n{body}"


@compiles(DropView)
def _drop_view(element: DropView, compiler, **kw) -> str:
    return f"DROP VIEW IF EXISTS {compiler.preparer.quote(element.view.name)}"


def drop_views(connection: Connection, views: Sequence[View] = VIEWS) -> None:
    """Drop the reporting views that exist, dependent views first."""
    for view in reversed(views):
        connection.execute(DropView(view))


def create_views(connection: Connection, views: Sequence[View] = VIEWS) -> None:
    """Drop and create the reporting views, so that they match this version; repeatable.

    Needs the tables to exist. Inside a transaction (``engine.begin()``) PostgreSQL swaps
    them atomically; SQLite (through Python's sqlite3) and MySQL commit each statement.
    """
    drop_views(connection, views)
    for view in views:
        connection.execute(CreateView(view))


def views_sql(dialect_name: str) -> str:
    """The DROP and CREATE VIEW statements for ``dialect_name``, as in ``sql/views/``."""
    if dialect_name not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect_name!r}")
    dialect = _dialect(dialect_name)
    statements = [str(DropView(view).compile(dialect=dialect)) for view in reversed(VIEWS)]
    statements += [str(CreateView(view).compile(dialect=dialect)) for view in VIEWS]
    header = (
        f"-- prolific-etl reporting views for {dialect_name}.\n"
        "-- Generated from etl/store/views.py by `prolific-etl db views`; do not edit by hand.\n"
    )
    return header + "\n\n".join(statement.strip() + ";" for statement in statements) + "\n"


def _dialect(dialect_name: str) -> Dialect:
    return create_mock_engine(f"{dialect_name}://", lambda *args, **kw: None).dialect
