"""The database schema, defined once. DDL in sql/, the docs and the views all follow from here.

Task details live in ``batches`` (they are 1:1 with a batch and always sent), so a BI tool gets a
batch and its task in one row. Datasets are shared between batches, hence ``datasets`` plus the
link table ``batch_datasets``. What the API sends as free-form JSON (a batch's ``batch_items``,
fields the spec does not list, a dataset's field schema) is kept in JSON columns.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    create_mock_engine,
)
from sqlalchemy.dialects import mysql, postgresql

from ..rows import MAX_ID_LENGTH, MAX_STATUS_LENGTH


class UTCDateTime(TypeDecorator):
    """A timestamp that goes in and comes out as an aware UTC datetime on every dialect.

    PostgreSQL stores ``timestamptz``; SQLite and MySQL have no zone, so they store UTC wall time
    (MySQL with microseconds: ``DATETIME(6)``).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect):
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=dialect.name == "postgresql"))

    def process_bind_param(self, value: datetime | None, dialect: Dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# MySQL's TEXT stops at 64 KiB (MEDIUMTEXT at 16 MiB); SQLite and PostgreSQL have no such
# limit, so every free-text column is MEDIUMTEXT there, for the same data to fit everywhere.
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
# The most UTF-8 bytes a LongText value holds: MEDIUMTEXT's. The loader refuses a longer value
# on every dialect (PostgreSQL and SQLite would take it), so that the same data fits everywhere.
TEXT_MAX_BYTES = 2**24 - 1
Uuid = String(36)
ShortText = String(MAX_ID_LENGTH)
Status = String(MAX_STATUS_LENGTH)
# A JSON document: jsonb on PostgreSQL, JSON on MySQL/MariaDB, text on SQLite. A Python None
# is SQL NULL, never the JSON literal null.
JsonDocument = JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)

metadata = MetaData()
_MYSQL = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}

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
    **_MYSQL,
)


def _change_columns(first_stored: str, changed: str) -> tuple[Column, ...]:
    """When a sync first stored a row (``first_stored``: "the dataset", "it") and when, and
    in which run, it last stored a change to it: new Column objects for each table."""
    return (
        Column(
            "first_seen_at",
            UTCDateTime,
            nullable=False,
            comment=f"When a sync first stored {first_stored}.",
        ),
        Column(
            "last_changed_at",
            UTCDateTime,
            nullable=False,
            comment=f"When a sync last stored a change to {changed}.",
        ),
        Column(
            "last_changed_run_id",
            Integer,
            ForeignKey("etl_runs.run_id"),
            nullable=False,
            comment=f"Run that last stored a change to {changed}.",
        ),
    )


batches = Table(
    "batches",
    metadata,
    Column("batch_id", Uuid, primary_key=True, comment="Batch UUID (lower case)."),
    Column("name", LongText, nullable=False, comment="Batch name."),
    Column(
        "status",
        Status,
        nullable=False,
        comment="As sent: UNINITIALISED, PROCESSING, READY or ERROR today; open to new values.",
    ),
    Column("created_at", UTCDateTime, nullable=False, comment="Creation time at Prolific (UTC)."),
    Column(
        "created_by",
        ShortText,
        nullable=False,
        comment="User ID of the Prolific user who created the batch.",
    ),
    Column("workspace_id", ShortText, nullable=False, comment="Prolific workspace ID."),
    Column("schema_version", Integer, nullable=False, comment="Batch schema version."),
    Column("total_task_count", BigInteger, nullable=False, comment="Tasks in the batch."),
    Column(
        "total_instruction_count", BigInteger, nullable=False, comment="Instructions in the batch."
    ),
    Column("total_task_groups", BigInteger, nullable=False, comment="Task groups in the batch."),
    Column("task_name", LongText, nullable=False, comment="task_details.task_name."),
    Column(
        "task_introduction",
        LongText,
        nullable=False,
        comment="task_details.task_introduction: HTML, exactly as sent.",
    ),
    Column(
        "task_steps",
        LongText,
        nullable=False,
        comment="task_details.task_steps: HTML, exactly as sent.",
    ),
    Column(
        "batch_items",
        JsonDocument,
        comment="The batch's instruction layout (pages, rows, columns, items) as sent; NULL for "
        "batches without one.",
    ),
    Column(
        "auto_sync_enabled",
        Boolean,
        comment="Whether new datapoints of its dataset become tasks by themselves; NULL when the "
        "API leaves it out (off).",
    ),
    Column(
        "extra_fields",
        JsonDocument,
        comment="Top-level fields the API sent that the spec does not list, as a JSON object; "
        "NULL when there were none.",
    ),
    Column(
        "removed_upstream_at",
        UTCDateTime,
        comment="When a sync found the batch gone from the listing of its workspace that used to "
        "hold it (UTC); NULL while it is listed, or was never read from a listing. Never deleted.",
    ),
    Column(
        "content_hash",
        String(64),
        nullable=False,
        comment="SHA-256 of the batch's content; a sync rewrites the row only when it changes.",
    ),
    Column(
        "first_seen_at", UTCDateTime, nullable=False, comment="When a sync first stored the batch."
    ),
    Column(
        "last_changed_at",
        UTCDateTime,
        nullable=False,
        comment="When a sync last stored a change to the batch.",
    ),
    Column(
        "first_seen_run_id",
        Integer,
        ForeignKey("etl_runs.run_id"),
        nullable=False,
        comment="Run that first stored the batch.",
    ),
    Column(
        "last_changed_run_id",
        Integer,
        ForeignKey("etl_runs.run_id"),
        nullable=False,
        comment="Run that last stored a change to the batch.",
    ),
    Index("ix_batches_workspace_id", "workspace_id"),
    Index("ix_batches_status", "status"),
    comment="One row per AI Task Builder batch, with its task details.",
    **_MYSQL,
)

batch_last_seen = Table(
    "batch_last_seen",
    metadata,
    Column(
        "batch_id",
        Uuid,
        ForeignKey("batches.batch_id", ondelete="CASCADE"),
        primary_key=True,
        comment="The batch.",
    ),
    Column("last_seen_at", UTCDateTime, nullable=False, comment="When a sync last fetched it."),
    Column(
        "last_seen_run_id",
        Integer,
        ForeignKey("etl_runs.run_id"),
        nullable=False,
        comment="Run that last fetched it.",
    ),
    Column(
        "last_listed_at",
        UTCDateTime,
        comment="When a sync last found it in its workspace's listing; NULL if never.",
    ),
    Column(
        "last_listed_run_id",
        Integer,
        ForeignKey("etl_runs.run_id", name="fk_batch_last_seen_last_listed_run_id"),
        comment="Run that last found it in its workspace's listing.",
    ),
    comment=(
        "When each batch was last fetched, and last listed. Kept apart from batches so that a "
        "nightly rerun over unchanged batches never rewrites (or sends change events for) "
        "their rows."
    ),
    **_MYSQL,
)

datasets = Table(
    "datasets",
    metadata,
    Column("dataset_id", Uuid, primary_key=True, comment="Dataset UUID (lower case)."),
    Column("filename", LongText, nullable=False, comment="File name of the dataset."),
    Column(
        "total_datapoint_count", BigInteger, nullable=False, comment="Datapoints in the dataset."
    ),
    Column("name", LongText, comment="Dataset name (from its details; NULL until fetched)."),
    Column("created_at", UTCDateTime, comment="Creation time at Prolific (UTC), from its details."),
    Column("created_by", ShortText, comment="User ID of its creator, from its details."),
    Column("workspace_id", ShortText, comment="Its workspace, from its details."),
    Column(
        "schema_version",
        String(16),
        comment="Dataset version: 3 (CSV/ZIP upload) or 4 (field schema and import jobs).",
    ),
    Column(
        "status",
        Status,
        comment="Processing status of a version 3 dataset, as sent; NULL for version 4 (see "
        "dataset_imports).",
    ),
    Column(
        "has_predetermined_grouping_id",
        Boolean,
        comment="Version 3: whether it has a META_TASK_GROUP_ID column.",
    ),
    Column(
        "field_schema",
        JsonDocument,
        comment="Version 4: the researcher-defined field schema (the API's 'schema') as sent.",
    ),
    Column(
        "details_synced_at",
        UTCDateTime,
        comment="When its details were last stored; NULL when they are due (new, changed, or "
        "the last fetch failed). A dataset still in flight (a status or import job not "
        "settled) is asked again every run and stored when it moved.",
    ),
    Column(
        "details_run_id",
        Integer,
        ForeignKey("etl_runs.run_id", name="fk_datasets_details_run_id"),
        comment="Run that last fetched its details.",
    ),
    *_change_columns("the dataset", "the dataset"),
    comment="One row per dataset, however many batches use it.",
    **_MYSQL,
)

batch_datasets = Table(
    "batch_datasets",
    metadata,
    Column(
        "batch_id",
        Uuid,
        ForeignKey("batches.batch_id", ondelete="CASCADE"),
        primary_key=True,
        comment="The batch.",
    ),
    Column(
        "dataset_id",
        Uuid,
        ForeignKey("datasets.dataset_id"),
        primary_key=True,
        comment="A dataset the batch lists now.",
    ),
    Index("ix_batch_datasets_dataset_id", "dataset_id"),
    comment="Which datasets each batch lists, as of its last sync.",
    **_MYSQL,
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
        comment="input, listing (a workspace's batch listing), fetch, validate, load or dataset "
        "(a dataset's details).",
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
    **_MYSQL,
)

batch_status_history = Table(
    "batch_status_history",
    metadata,
    Column(
        "history_id",
        Integer,
        primary_key=True,
        autoincrement=True,
        comment="Sequential id of the observation.",
    ),
    Column(
        "batch_id",
        Uuid,
        ForeignKey("batches.batch_id", ondelete="CASCADE"),
        nullable=False,
        comment="The batch.",
    ),
    Column(
        "old_status",
        Status,
        comment="Status before the change; NULL on the batch's first observation.",
    ),
    Column("new_status", Status, nullable=False, comment="Status the sync found."),
    Column(
        "observed_at",
        UTCDateTime,
        nullable=False,
        comment="When the sync stored the change (UTC); the batch changed at or before it.",
    ),
    Column(
        "run_id",
        Integer,
        ForeignKey("etl_runs.run_id"),
        nullable=False,
        comment="Run that observed the change.",
    ),
    Index("ix_batch_status_history_batch_id", "batch_id", "observed_at"),
    comment=(
        "One row each time a sync finds a batch's status changed, and one when it first sees "
        "the batch. Nothing is written while the status stays the same."
    ),
    **_MYSQL,
)

workspaces = Table(
    "workspaces",
    metadata,
    Column(
        "workspace_id", ShortText, primary_key=True, comment="Prolific workspace ID (not a UUID)."
    ),
    Column("title", LongText, nullable=False, comment="Workspace title."),
    Column("description", LongText, comment="What the workspace is used for."),
    Column("owner", ShortText, comment="User ID of the workspace's creator."),
    *_change_columns("the workspace", "it"),
    comment=(
        "One row per workspace a sync with --workspace or --all-workspaces saw. batches."
        "workspace_id refers to it, without a foreign key: a batch read from an ID file may "
        "belong to a workspace no sync has listed."
    ),
    **_MYSQL,
)

dataset_imports = Table(
    "dataset_imports",
    metadata,
    Column("import_id", Uuid, primary_key=True, comment="Import job UUID."),
    Column(
        "dataset_id",
        Uuid,
        ForeignKey("datasets.dataset_id"),
        nullable=False,
        comment="The (version 4) dataset it imports into.",
    ),
    Column("type", Status, nullable=False, comment="Kind of import, as sent (file_upload)."),
    Column("filename", LongText, comment="File name given for the upload."),
    Column(
        "status",
        Status,
        nullable=False,
        comment="As sent: uninitialised, queued, processing, complete, partial, failed, "
        "pending_schema; open to new values.",
    ),
    Column("accepted_count", BigInteger, comment="Records ingested (complete or partial)."),
    Column("rejected_count", BigInteger, comment="Records rejected (partial)."),
    Column("created_at", UTCDateTime, nullable=False, comment="When the job was created (UTC)."),
    Column("updated_at", UTCDateTime, nullable=False, comment="When it last changed (UTC)."),
    Column("reason", LongText, comment="Why it failed, when it did."),
    Index("ix_dataset_imports_dataset_id", "dataset_id"),
    comment=(
        "One row per import job of a version 4 dataset, as of its details' last fetch; a job no "
        "longer listed is removed with it."
    ),
    **_MYSQL,
)

responses = Table(
    "responses",
    metadata,
    Column("response_id", Uuid, primary_key=True, comment="Response record UUID."),
    Column(
        "batch_id",
        Uuid,
        ForeignKey("batches.batch_id", ondelete="CASCADE"),
        nullable=False,
        comment="The batch it answers.",
    ),
    Column("task_id", ShortText, nullable=False, comment="The task answered (not a UUID)."),
    Column("participant_id", ShortText, nullable=False, comment="The Prolific participant."),
    Column("submission_id", ShortText, comment="The Prolific submission, when there is one."),
    Column("correlation_id", ShortText, comment="Correlation ID, for tracking, when sent."),
    Column("instruction_id", ShortText, nullable=False, comment="The instruction answered."),
    Column(
        "response_type",
        Status,
        nullable=False,
        comment="As sent: multiple_choice, free_text, free_text_with_unit, "
        "multiple_choice_with_free_text, file_upload; open to new values.",
    ),
    Column("created_at", UTCDateTime, nullable=False, comment="When it was given (UTC)."),
    Column("schema_version", Integer, comment="Response schema version, when sent."),
    Column("no_submission", Boolean, comment="As sent (undocumented); NULL when absent."),
    Column("metadata", JsonDocument, comment="The record's metadata object, as sent."),
    Column(
        "answer",
        JsonDocument,
        nullable=False,
        comment="The answer list as sent (one row per value in response_answers).",
    ),
    Column(
        "content_hash",
        String(64),
        nullable=False,
        comment="SHA-256 of its content; a sync rewrites the row only when it changes.",
    ),
    Column(
        "removed_upstream_at",
        UTCDateTime,
        comment="When a sync found it gone from its batch's complete responses (UTC); NULL "
        "while the API returns it. Never deleted.",
    ),
    *_change_columns("it", "it"),
    Index("ix_responses_batch_id", "batch_id", "created_at"),
    Index("ix_responses_participant_id", "participant_id"),
    comment=(
        "One row per response record (a participant's answer to one instruction of a task), "
        "loaded with sync --responses."
    ),
    **_MYSQL,
)

response_answers = Table(
    "response_answers",
    metadata,
    Column(
        "response_id",
        Uuid,
        ForeignKey("responses.response_id", ondelete="CASCADE"),
        primary_key=True,
        comment="The response.",
    ),
    Column(
        "position",
        Integer,
        primary_key=True,
        autoincrement=False,
        comment="Its place in the answer list, from 0.",
    ),
    Column(
        "value_text",
        LongText,
        comment="The value as text: a string as sent, anything else as JSON (true, 3.5).",
    ),
    Column("value_number", Double, comment="The value, when it is a number."),
    Column("value_boolean", Boolean, comment="The value, when it is a boolean."),
    Column("unit", LongText, comment="Its unit (free_text_with_unit)."),
    Column("explanation", LongText, comment="Its explanation, when the type asks for one."),
    Column("file_name", LongText, comment="The uploaded file's name (file_upload)."),
    Column("file_key", LongText, comment="The uploaded file's storage key (file_upload)."),
    Column("file_size_mb", Double, comment="The uploaded file's size in MB (file_upload)."),
    Column("content_type", ShortText, comment="The uploaded file's content type (file_upload)."),
    comment="One row per answer value of a response, as of its last change.",
    **_MYSQL,
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
)

DATASET_DETAIL_COLUMNS = (
    "name",
    "created_at",
    "created_by",
    "workspace_id",
    "schema_version",
    "status",
    "has_predetermined_grouping_id",
    "field_schema",
)
WORKSPACE_CONTENT_COLUMNS = ("title", "description", "owner")

DATASET_CONTENT_COLUMNS = ("filename", "total_datapoint_count")

DIALECTS = ("sqlite", "postgresql", "mysql")


def ddl(dialect_name: str) -> str:
    """The CREATE statements for ``dialect_name``, as shipped in ``sql/schema/<dialect>.sql``."""
    statements: list[str] = []

    def collect(sql, *multiparams, **params) -> None:
        statements.append(str(sql.compile(dialect=engine.dialect)).strip() + ";")

    engine = create_mock_engine(f"{dialect_name}://", collect)
    metadata.create_all(engine, checkfirst=False)
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
