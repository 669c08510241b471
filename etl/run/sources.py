"""Where a run finds its batches: an ID file, named workspaces' listings, or every workspace."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..rows import MAX_ID_LENGTH
from ..source.ids import IdFile, read_id_file


@dataclass(frozen=True)
class Sources:
    """Where a run finds its batches: an ID file, named workspaces' listings, or the listings
    of every workspace the token can see; any of them together (each batch once)."""

    id_file: IdFile | None = None
    workspaces: tuple[str, ...] = ()
    all_workspaces: bool = False

    @classmethod
    def given(
        cls, ids: str | IdFile | None, workspaces: tuple[str, ...] | list[str], all_workspaces: bool
    ) -> Sources:
        """The sources ``sync()`` was given, checked, the ID file read.

        Raises ConfigError when there is nothing to sync or a workspace ID cannot be one, and
        InputFileError for an unreadable or empty ID file.
        """
        if ids is None and not (workspaces or all_workspaces):
            raise ConfigError(
                "nothing to sync: give an ID file, workspace IDs, or all_workspaces "
                "(the command: --ids FILE, --workspace ID, --all-workspaces)"
            )
        for workspace_id in workspaces:
            _check_workspace_id(workspace_id)
        id_file = ids if isinstance(ids, IdFile) or ids is None else read_id_file(ids)
        return cls(id_file, tuple(dict.fromkeys(workspaces)), all_workspaces)

    @property
    def discovers(self) -> bool:
        return self.all_workspaces or bool(self.workspaces)

    @property
    def batch_ids(self) -> tuple[str, ...]:
        return tuple(self.id_file.batch_ids) if self.id_file is not None else ()

    @property
    def bad_lines(self) -> tuple:
        return tuple(self.id_file.bad_lines) if self.id_file is not None else ()

    def describe(self) -> str:
        """What etl_runs.id_source says: the file, and the workspaces listed."""
        parts = [self.id_file.source] if self.id_file is not None else []
        if self.all_workspaces:
            parts.append("all workspaces")
        elif self.workspaces:
            parts.append("workspaces " + ", ".join(self.workspaces))
        return "; ".join(parts)


def _check_workspace_id(workspace_id: str) -> None:
    """A workspace ID must fit the tables (it goes in etl_failures too) and a URL's query."""
    if not 0 < len(workspace_id) <= MAX_ID_LENGTH or any(
        character.isspace() or not character.isprintable() for character in workspace_id
    ):
        raise ConfigError(
            f"--workspace {workspace_id[:40]!r}{'...' if len(workspace_id) > 40 else ''}: "
            f"not a workspace ID (1 to {MAX_ID_LENGTH} printable characters, no spaces)"
        )
