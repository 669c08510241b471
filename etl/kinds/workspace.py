"""A workspace: read from ``GET /api/v1/workspaces/`` (every workspace the token can see).

Compared by its content columns; written when new or changed. Never marked removed: a
workspace no longer listed is simply not synced again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table

from ..errors import RowsRefusedError
from .columns import MYSQL_OPTIONS, LongText, ShortText, change_columns, metadata
from .kind import Kind
from .payload import IdText, SpecModel, Text


class Workspace(SpecModel):
    """``WorkspaceShort``."""

    id: IdText
    title: Text
    description: Text | None = None
    owner: IdText | None = None


class WorkspaceList(SpecModel):
    results: list[Workspace]


WORKSPACE_CONTENT_COLUMNS = ("title", "description", "owner")


@dataclass(frozen=True)
class WorkspaceRow:
    """One ``workspaces`` row (without bookkeeping)."""

    workspace_id: str
    title: str
    description: str | None
    owner: str | None

    def values(self) -> dict[str, Any]:
        return {
            "workspace_id": self.workspace_id,
            "title": self.title,
            "description": self.description,
            "owner": self.owner,
        }


def flatten_workspace(workspace: Workspace) -> WorkspaceRow:
    return WorkspaceRow(workspace.id, workspace.title, workspace.description, workspace.owner)


workspaces = Table(
    "workspaces",
    metadata,
    Column(
        "workspace_id", ShortText, primary_key=True, comment="Prolific workspace ID (not a UUID)."
    ),
    Column("title", LongText, nullable=False, comment="Workspace title."),
    Column("description", LongText, comment="What the workspace is used for."),
    Column("owner", ShortText, comment="User ID of the workspace's creator."),
    *change_columns("the workspace", "it"),
    comment=(
        "One row per workspace a sync with --workspace or --all-workspaces saw. batches."
        "workspace_id refers to it, without a foreign key: a batch read from an ID file may "
        "belong to a workspace no sync has listed."
    ),
    **MYSQL_OPTIONS,
)


WORKSPACE: Kind[WorkspaceRow] = Kind(
    name="workspace",
    table=workspaces,
    key="workspace_id",
    content_columns=WORKSPACE_CONTENT_COLUMNS,
    key_of=lambda row: row.workspace_id,
    row_of=WorkspaceRow.values,
    refused=lambda row, message, field: RowsRefusedError(
        None, message, field=field, workspace_id=row.workspace_id
    ),
)
