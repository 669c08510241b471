"""What a kind of thing from the API declares, so that one writer (``etl.store.writer``) can
store any of them: its table and natural key, which columns are its content, the rows that go
with it, and what "removed upstream" means for it.

A declaration holds no SQL beyond its tables: how anything is written lives in the writer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Table

from ..errors import ItemError, RowsRefusedError

Item = TypeVar("Item")
"""One item of a kind, flattened (BatchRows, ResponseRows, ...)."""


@dataclass(frozen=True)
class Children(Generic[Item]):
    """Rows of another table that belong to one item alone (a response's answers, a batch's
    links to its datasets): replaced whole when the stored item changes."""

    table: Table
    parent_key: str  # the column of ``table`` naming the item
    of: Callable[[Item], Sequence[dict[str, Any]]]
    # Insert skipping a row whose key exists already (a link two items may both hold).
    ignore_duplicates: bool = False


@dataclass(frozen=True)
class Shared(Generic[Item]):
    """Rows an item names that other items may name too (a batch's datasets): each written
    when new or when its content columns changed, never deleted with the item."""

    table: Table
    key: str
    content_columns: tuple[str, ...]
    of: Callable[[Item], Sequence[dict[str, Any]]]
    # Set on a shared row that is new or changed (a dataset's details fall due again).
    on_change: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusHistory:
    """A table that gets a row each time an item's ``column`` is first seen or changes."""

    table: Table
    column: str


@dataclass(frozen=True)
class Sightings(Generic[Item]):
    """A table of when each item was last fetched, and last found in a listing (kept apart
    from the item's own row, so that seeing an unchanged item rewrites nothing of it)."""

    table: Table
    listed_in: Callable[[Item], str | None]  # the listing an item came from, if any


@dataclass(frozen=True)
class Removal(Generic[Item]):
    """What "removed upstream" means for a kind: an item that a complete listing of its
    ``scope`` (the column naming what the listing covers) no longer holds gets ``column`` set;
    it is cleared when the item is seen again in such a listing. Nothing is ever deleted."""

    column: str
    scope: str
    # Whether this item, as written, was read from a complete listing (and so is back).
    from_listing: Callable[[Item], bool] = lambda item: True
    # Only items an earlier listing held (the Sightings say so) can be missing from this one:
    # an item only ever fetched by id is never marked.
    listed_before: bool = False


@dataclass(frozen=True)
class Kind(Generic[Item]):
    """One kind of thing the API returns, as stored.

    The item's own row goes to ``table``, keyed by ``key``. It is compared with what is
    stored by ``hash_column`` (a content hash the item carries) when there is one, else by its
    ``content_columns``; only a new or changed item is written.
    """

    name: str  # how a person names one: "batch", "response"
    table: Table
    key: str
    content_columns: tuple[str, ...]
    key_of: Callable[[Item], str]
    row_of: Callable[[Item], dict[str, Any]]  # the item's row: its key and content columns
    # The error that fails an item: its message, and the column at fault if that is why.
    refused: Callable[[Item, str, str | None], RowsRefusedError]
    hash_column: str | None = None
    hash_of: Callable[[Item], str] | None = None
    children: tuple[Children[Item], ...] = ()
    shared: tuple[Shared[Item], ...] = ()
    # Whether a change in the children alone is a change of the item (they have no hash).
    children_are_content: bool = False
    # The item fills in columns of a row another kind stores (a dataset's details): written
    # with an UPDATE, never inserted.
    fills_in: bool = False
    # A column that, NULL in the stored row, makes the item due however alike it is.
    due_column: str | None = None
    # More bookkeeping values set whenever the item is written.
    stamps: Callable[[int, datetime], dict[str, Any]] | None = None
    status_history: StatusHistory | None = None
    sightings: Sightings[Item] | None = None
    removal: Removal[Item] | None = None
    # A column naming the item's owner (a response's batch): an item stored under another
    # owner stays there, unless removed upstream from it; ``claimed`` is the error that
    # fails the other owner's copy (given the owner it is stored under), so that a key two
    # owners both hold does not move between them every run.
    owner: str | None = None
    claimed: Callable[[Item, Any], ItemError] | None = None


def content_hash(canonical: Any) -> str:
    """SHA-256 over ``canonical`` as sorted-key JSON (datetimes as ISO 8601)."""
    encoded = json.dumps(canonical, sort_keys=True, ensure_ascii=False, default=_iso)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def _iso(value: Any) -> str:
    return value.isoformat()
