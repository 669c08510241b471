"""What a run tells its caller: the result at its end, and its progress as it goes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..rows import RUN_COUNTS
from ..store.runlog import Failure


@dataclass
class SyncResult:
    """What a run did: its id, outcome, counts, failures and duration."""

    run_id: int | None
    status: str = "running"
    ids_read: int = 0
    listed: int = 0
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    retries: int = 0
    responses_inserted: int = 0
    responses_updated: int = 0
    responses_unchanged: int = 0
    # sync --submissions: studies and submissions written (new or changed) and left alone.
    studies_written: int = 0
    studies_unchanged: int = 0
    submissions_written: int = 0
    submissions_unchanged: int = 0
    # Batches whose responses were not downloaded: their studies are complete and their
    # responses were loaded whole since (``etl.store.settled``).
    responses_skipped: int = 0
    failures: list[Failure] = field(default_factory=list)
    error_message: str | None = None
    duration: float = 0.0
    dry_run: bool = False
    recorded: bool = True  # whether the run's end made it into etl_runs

    @property
    def failed(self) -> int:
        return len(self.failures)

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in RUN_COUNTS}

    def summary(self) -> str:
        if self.dry_run:
            listed = f"{self.listed} more listed, " if self.listed else ""
            return (
                f"dry run {self.status}, nothing written: {self.ids_read} ids, {listed}"
                f"{self.fetched} fetched; would insert {self.inserted}, update {self.updated}, "
                f"leave {self.unchanged} unchanged; {self.failed_text()}, {self.retries} retries "
                f"in {self.duration:.1f}s"
            )
        run = f"run {self.run_id}" if self.run_id is not None else "run"
        listed = f"{self.listed} more listed, " if self.listed else ""
        responses = self.responses_inserted + self.responses_updated + self.responses_unchanged
        answered = (
            f"; responses: {self.responses_inserted} inserted, {self.responses_updated} "
            f"updated, {self.responses_unchanged} unchanged"
            if responses
            else ""
        )
        return (
            f"{run} {self.status}: {self.ids_read} ids, {listed}{self.fetched} fetched, "
            f"{self.inserted} inserted, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.failed_text()}, {self.retries} retries{answered}{self._studied()} in "
            f"{self.duration:.1f}s"
        )

    def _studied(self) -> str:
        """What sync --submissions did, for the summary ("" when it did nothing)."""
        parts = []
        if self.studies_written or self.studies_unchanged:
            parts.append(
                f"studies: {self.studies_written} written, {self.studies_unchanged} unchanged; "
                f"submissions: {self.submissions_written} written, "
                f"{self.submissions_unchanged} unchanged"
            )
        if self.responses_skipped:
            parts.append(
                f"{self.responses_skipped} batches' responses not downloaded (their studies "
                "are complete and their responses were loaded whole since)"
            )
        return "".join(f"; {part}" for part in parts)

    def failed_text(self) -> str:
        """``3 failed (2 datasets, 1 batch)``: how many failed, and what they were, so that a
        partial night whose batches all loaded says so."""
        if not self.failures:
            return "0 failed"
        kinds = Counter(failure.subject.kind for failure in self.failures)
        parts = [
            f"{count} {_FAILED_NAMES[kind][count != 1]}"
            for kind, count in sorted(kinds.items(), key=lambda item: (-item[1], item[0]))
        ]
        return f"{self.failed} failed ({', '.join(parts)})"


# What ``failed_text`` calls each kind of subject (errors.Subject), one and several.
_FAILED_NAMES = {
    "batch": ("batch", "batches"),
    "response": ("response", "responses"),
    "dataset": ("dataset's details", "datasets' details"),
    "workspace": ("workspace listing", "workspace listings"),
    "workspaces": ("list of workspaces", "lists of workspaces"),
    "line": ("ID file line", "ID file lines"),
}


@dataclass(frozen=True)
class Progress:
    """Told to ``sync()``'s ``on_progress`` twice per batch: when its fetch ends (``outcome``
    ``fetched``, whether it succeeded or not) and when its outcome is known (inserted, updated,
    unchanged or failed).

    The counts are the run's so far, over batches (a bad ID line is not a batch): ``fetched``
    counts fetches ended and ends at ``total``; ``done`` is the sum of the four outcomes and
    ends at ``total`` too, a chunk or two behind ``fetched``.
    """

    batch_id: str
    outcome: str
    done: int
    total: int
    inserted: int
    updated: int
    unchanged: int
    failed: int
    fetched: int = 0
