"""The database schema, assembled once from the kinds' tables (``etl.kinds``) and the run
log's own. DDL in sql/, the docs and the views all follow from here.

Task details live in ``batches`` (they are 1:1 with a batch and always sent), so a BI tool gets a
batch and its task in one row. Datasets are shared between batches, hence ``datasets`` plus the
link table ``batch_datasets``. What the API sends as free-form JSON (a batch's ``batch_items``,
fields the spec does not list, a dataset's field schema) is kept in JSON columns.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    create_mock_engine,
)

from ..kinds.batch import (
    DATASET_CONTENT_COLUMNS,
    batch_datasets,
    batch_last_seen,
    batch_status_history,
    batches,
    datasets,
)
from ..kinds.columns import (
    MYSQL_OPTIONS,
    TEXT_MAX_BYTES,
    JsonDocument,
    LongText,
    ShortText,
    Status,
    UTCDateTime,
    Uuid,
    metadata,
)
from ..kinds.dataset_details import DATASET_DETAIL_COLUMNS, dataset_imports
from ..kinds.response import response_answers, responses
from ..kinds.study import studies
from ..kinds.study_cost import study_costs, study_submission_counts
from ..kinds.submission import submission_status_history, submissions
from ..kinds.workspace import WORKSPACE_CONTENT_COLUMNS, workspaces
from .label_quality import annotator_agreement, consensus_labels, label_agreement
from .settled import batch_responses_loaded

# What sync --submissions did, counted in the run's row beside the batches and responses.
STUDY_RUN_COUNTS = {
    "studies_written": "Studies stored for the first time or changed upstream (sync "
    "--submissions).",
    "studies_unchanged": "Studies fetched again and found as stored.",
    "submissions_written": "Submissions stored for the first time or changed upstream.",
    "submissions_unchanged": "Submissions fetched again and found as stored.",
    "responses_skipped": "Batches whose responses were not downloaded: their studies are "
    "complete and their responses were loaded whole since (sync --responses --submissions).",
}
FAILURE_STAGES = (
    "input (an ID line), listing (the workspaces, a workspace's batch listing), fetch, "
    "validate, load, dataset (a dataset's details), responses, studies (a workspace's "
    "projects and studies, a study), submissions or costs (a study's)."
)

etl_runs = Table(
    "etl_runs",
    metadata,
    Column(
        "run_id", Integer, primary_key=True, autoincrement=True, comment="Sequential id of the run."
    ),
    Column("started_at", UTCDateTime, nullable=False, comment="When the run started (UTC)."),
    Column("finished_at", UTCDateTime, comment="When the run ended (UTC); NULL while running."),
    Column(
        "status",
        String(16),
        nullable=False,
        comment="running, succeeded, partial (some batches failed), failed, aborted.",
    ),
    Column(
        "ids_read",
        Integer,
        nullable=False,
        default=0,
        comment="Distinct valid batch IDs read from the ID file.",
    ),
    Column(
        "listed",
        Integer,
        nullable=False,
        default=0,
        server_default="0",
        comment="Batches found in workspace listings (--workspace, --all-workspaces) and not in "
        "the ID file: ids_read + listed is every batch the run took on.",
    ),
    Column(
        "fetched",
        Integer,
        nullable=False,
        default=0,
        comment="Batches fetched from the API with a 200.",
    ),
    Column(
        "inserted", Integer, nullable=False, default=0, comment="Batches seen for the first time."
    ),
    Column(
        "updated",
        Integer,
        nullable=False,
        default=0,
        comment="Known batches whose content changed.",
    ),
    Column(
        "unchanged",
        Integer,
        nullable=False,
        default=0,
        comment="Known batches whose content did not change.",
    ),
    Column(
        "failed",
        Integer,
        nullable=False,
        default=0,
        comment="Rows written to etl_failures by this run (bad ID lines and failed batches).",
    ),
    Column(
        "responses_inserted",
        Integer,
        nullable=False,
        default=0,
        server_default="0",
        comment="Responses seen for the first time (sync --responses).",
    ),
    Column(
        "responses_updated",
        Integer,
        nullable=False,
        default=0,
        server_default="0",
        comment="Known responses whose content changed.",
    ),
    Column(
        "responses_unchanged",
        Integer,
        nullable=False,
        default=0,
        server_default="0",
        comment="Known responses whose content did not change.",
    ),
    *(
        Column(name, Integer, nullable=False, default=0, server_default="0", comment=comment)
        for name, comment in STUDY_RUN_COUNTS.items()
    ),
    Column(
        "retries",
        Integer,
        nullable=False,
        default=0,
        comment="Requests retried after a 429, 5xx, timeout or dropped connection.",
    ),
    Column("tool_version", String(32), nullable=False, comment="prolific-etl version."),
    Column(
        "id_source",
        LongText,
        comment="Where the batch IDs came from: the ID file (<stdin> for standard input) and "
        "the workspaces listed, separated by '; '.",
    ),
    Column("error_message", LongText, comment="Why the run failed, when it failed as a whole."),
    CheckConstraint(
        "status IN ('running', 'succeeded', 'partial', 'failed', 'aborted')",
        name="ck_etl_runs_status",
    ),
    comment="One row per run of the job.",
    **MYSQL_OPTIONS,
)

etl_failures = Table(
    "etl_failures",
    metadata,
    Column(
        "failure_id",
        Integer,
        primary_key=True,
        autoincrement=True,
        comment="Sequential id of the failure.",
    ),
    Column("run_id", Integer, ForeignKey("etl_runs.run_id"), nullable=False, comment="The run."),
    Column(
        "batch_id",
        Uuid,
        comment="The batch; NULL for a bad ID line, a workspace's listing or a dataset.",
    ),
    Column(
        "workspace_id",
        ShortText,
        comment="The workspace whose listing failed, or that listed the failed batch.",
    ),
    Column("dataset_id", Uuid, comment="The dataset whose details could not be fetched."),
    Column("response_id", Uuid, comment="The response that failed validation."),
    Column("input_line", LongText, comment="The bad ID line, as read (shortened)."),
    Column("line_number", Integer, comment="Line number of the bad ID line."),
    Column(
        "stage",
        String(16),
        nullable=False,
        comment=FAILURE_STAGES,
    ),
    Column("http_status", Integer, comment="HTTP status of the last response, when there was one."),
    Column(
        "error_kind",
        String(32),
        nullable=False,
        comment="Stable error name: bad_id_line, not_found, invalid_payload, ...",
    ),
    Column(
        "field",
        LongText,
        comment="The payload field that failed validation (results[3].id), or the column whose "
        "value could not be stored (batches.extra_fields).",
    ),
    Column("message", LongText, nullable=False, comment="What went wrong, for a person."),
    Column("occurred_at", UTCDateTime, nullable=False, comment="When it happened (UTC)."),
    Index("ix_etl_failures_run_id", "run_id"),
    comment="One row per batch or ID line that failed in a run.",
    **MYSQL_OPTIONS,
)

TABLES = (
    etl_runs,
    workspaces,
    batches,
    batch_last_seen,
    datasets,
    batch_datasets,
    dataset_imports,
    responses,
    response_answers,
    etl_failures,
    batch_status_history,
    studies,
    submissions,
    submission_status_history,
    study_costs,
    study_submission_counts,
    batch_responses_loaded,
    label_agreement,
    consensus_labels,
    annotator_agreement,
)
# The order CREATE TABLE statements come in (SQLAlchemy sorts by foreign keys, ties in this
# order), as shipped in sql/schema/ since before the tables moved to their kinds.
_CREATION_ORDER = (
    etl_runs,
    batches,
    batch_last_seen,
    datasets,
    batch_datasets,
    etl_failures,
    batch_status_history,
    workspaces,
    dataset_imports,
    responses,
    response_answers,
    studies,
    submissions,
    submission_status_history,
    study_costs,
    study_submission_counts,
    batch_responses_loaded,
    label_agreement,
    consensus_labels,
    annotator_agreement,
)

__all__ = [
    "DATASET_CONTENT_COLUMNS",
    "DATASET_DETAIL_COLUMNS",
    "DIALECTS",
    "TABLES",
    "TEXT_MAX_BYTES",
    "WORKSPACE_CONTENT_COLUMNS",
    "JsonDocument",
    "LongText",
    "ShortText",
    "Status",
    "UTCDateTime",
    "Uuid",
    "metadata",
    "ddl",
]

DIALECTS = ("sqlite", "postgresql", "mysql")


def ddl(dialect_name: str) -> str:
    """The CREATE statements for ``dialect_name``, as shipped in ``sql/schema/<dialect>.sql``."""
    statements: list[str] = []

    def collect(sql, *multiparams, **params) -> None:
        statements.append(str(sql.compile(dialect=engine.dialect)).strip() + ";")

    engine = create_mock_engine(f"{dialect_name}://", collect)
    metadata.create_all(engine, tables=_CREATION_ORDER, checkfirst=False)
    statements = _sort_index_runs(statements)
    header = (
        f"-- prolific-etl schema for {dialect_name}.\n"
        "-- Generated from etl/store/schema.py by `prolific-etl db ddl`; do not edit by hand.\n"
    )
    return header + "\n\n".join(statements) + "\n"


def _sort_index_runs(statements: list[str]) -> list[str]:
    """Order each run of CREATE INDEX statements by name; SQLAlchemy emits them in set order."""
    ordered: list[str] = []
    run: list[str] = []
    for statement in statements + [""]:
        if statement.startswith("CREATE INDEX"):
            run.append(statement)
            continue
        ordered += sorted(run)
        run = []
        if statement:
            ordered.append(statement)
    return ordered
