"""What every kind's tables are built from: the column types, the one MetaData, and the
bookkeeping columns a sync keeps on each row it stores.

``etl.store.schema`` assembles the whole schema from the kinds' tables and the run log's.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects import mysql, postgresql

MAX_ID_LENGTH = 255
MAX_STATUS_LENGTH = 64


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
MYSQL_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def change_columns(first_stored: str, changed: str) -> tuple[Column, ...]:
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


def status_change_columns(whose: str, changed_when: str) -> tuple[Column, ...]:
    """The columns of a status history row after its key: the status before (NULL on
    ``whose`` first observation: "the batch's", "its"), the status found, when it was stored
    (``changed_when`` says when the item itself changed) and by which run."""
    return (
        Column(
            "old_status",
            Status,
            comment=f"Status before the change; NULL on {whose} first observation.",
        ),
        Column("new_status", Status, nullable=False, comment="Status the sync found."),
        Column(
            "observed_at",
            UTCDateTime,
            nullable=False,
            comment=f"When the sync stored the change (UTC); {changed_when}.",
        ),
        Column(
            "run_id",
            Integer,
            ForeignKey("etl_runs.run_id"),
            nullable=False,
            comment="Run that observed the change.",
        ),
    )
