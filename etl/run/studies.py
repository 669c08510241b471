"""The studies' phase (``sync --submissions``): for the workspaces of the batches this run
synced, their projects, each project's studies and each study's detail; the studies that
recruit for a synced batch are stored, with their submissions, their counts and their cost.

What fails here fails one item, never the run: a workspace's projects or a project's studies
(recorded against the workspace), a study's detail (the workspace), a study's submissions or
its cost (the batch it recruits for). A listing that came whole (every page, as many items as
its ``meta.count``) marks what it no longer holds as removed upstream; any other leaves the
marks alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ItemError, TruncatedListingError
from ..kinds.study import StudyRows, flatten_study
from ..kinds.study_cost import flatten_cost
from ..kinds.submission import flatten_submission
from ..source.extract import Extractor, Submitted
from ..source.studies import Paged, StudiesSource
from ..store.lock import RunLock
from ..store.runlog import Failure, utcnow
from ..store.settled import settled_batches
from ..store.studies import (
    mark_removed_studies,
    mark_removed_submissions,
    store_cost,
    store_studies,
    store_submissions,
    workspaces_of,
)
from ..store.writer import LoadOutcome
from .ledger import Ledger
from .options import SyncOptions

log = logging.getLogger("etl")

SUBMISSION_CHUNK = 1000  # submissions per transaction
STUDY_GROUP = 32  # studies whose submissions are fetched together (held in memory at once)


class StudiesPhase:
    """Loads the studies, submissions and costs of the batches a run synced."""

    def __init__(
        self,
        extractor: Extractor,
        ledger: Ledger,
        lock: RunLock,
        *,
        demographics: bool,
        chunk_size: int,
        check_stop: Callable[[], None],
        on_changed: Callable[[str], None] = lambda batch_id: None,
    ) -> None:
        self.extractor = extractor
        self.on_changed = on_changed  # told of each batch whose submissions changed
        self.source = StudiesSource(extractor.client)
        self.ledger = ledger
        self.lock = lock
        self.demographics = demographics
        self.chunk_size = chunk_size
        self.check_stop = check_stop

    def run(self, batch_ids: Sequence[str]) -> None:
        """Load what recruits for ``batch_ids`` (batches stored by this run)."""
        synced = set(batch_ids)
        if not synced:
            return
        projects = self._gather(
            workspaces_of(self.ledger.engine, list(batch_ids)),
            lambda ws: [(p, ws) for p in self.source.project_ids(ws)],
            lambda ws: {"workspace_id": ws, "stage": "studies"},
        )
        listings = self._gather(
            [pair for found in projects for pair in found],
            lambda pair: (*pair, self.source.project_studies(*pair)),
            lambda pair: {"workspace_id": pair[1], "stage": "studies"},
        )
        wanted = []
        for project_id, workspace_id, paged in listings:
            self._fail_items(paged)
            wanted += [(s.id, project_id, workspace_id) for s in paged.items if _ok(s)]
        details = self._gather(
            wanted,
            lambda key: (key, self.source.study(key[0], key[2])),
            lambda key: {"workspace_id": key[2], "stage": "studies"},
        )
        found = [
            flatten_study(study, batch_id=batch_id, project_id=key[1], workspace_id=key[2])
            for key, study in details
            if (batch_id := study.serves(synced)) is not None
        ]
        stored = self._store_studies(found)
        for project_id, workspace_id, paged in listings:
            self._close_listing(project_id, workspace_id, paged)
        self._load_parts(stored)

    def _load_parts(self, stored: list[StudyRows]) -> None:
        """Each stored study's submissions and cost, a group at a time; the next group's are
        asked for before this one's are written, so that the workers fetch while the
        database writes (two groups' answers held at most)."""
        groups = [
            stored[start : start + STUDY_GROUP] for start in range(0, len(stored), STUDY_GROUP)
        ]
        previous: Submitted | None = None
        for group in [*groups, []]:  # (the empty one is there to write the last group)
            asked = self._ask(group, self._study_parts, _of_study) if group else None
            if previous is not None:
                for rows, submissions, cost in self._results(previous):
                    self._load_submissions(rows, submissions)
                    self._load_cost(rows, cost)
            previous = asked

    # --- fetching ----------------------------------------------------------------------------

    def _gather(
        self,
        keys: Sequence[Any],
        fetch: Callable[[Any], Any],
        where: Callable[[Any], dict[str, Any]],
    ) -> list[Any]:
        """``fetch`` each key concurrently; the results, in order, the failures recorded."""
        return self._results(self._ask(keys, fetch, where)) if keys else []

    def _ask(
        self,
        keys: Sequence[Any],
        fetch: Callable[[Any], Any],
        where: Callable[[Any], dict[str, Any]],
    ) -> Submitted:
        """``fetch`` each key on the workers, behind what was asked before."""
        extractor = self.extractor
        return extractor.submit(
            keys, work=lambda key: extractor.guarded(lambda: fetch(key), **where(key))
        )

    def _results(self, asked: Submitted) -> list[Any]:
        """What ``asked`` fetched, in order, once all of it came; its failures recorded."""
        fetched = asked()
        self.check_stop()
        results = []
        for outcome, _seconds in fetched:
            if isinstance(outcome, ItemError):
                self.ledger.fail([Failure.from_item_error(outcome)])
            else:
                results.append(outcome)
        return results

    def _study_parts(self, rows: StudyRows) -> tuple[StudyRows, Any, Any]:
        """A study's submissions and its cost, each the ItemError that failed it if it did."""
        batch_id = rows.study["batch_id"]
        try:
            submissions: Any = self.source.submissions(rows.study_id, batch_id)
        except ItemError as error:
            submissions = error
        try:
            cost: Any = self.source.cost(rows.study_id, batch_id)
        except ItemError as error:
            cost = error
        return rows, submissions, cost

    # --- writing -----------------------------------------------------------------------------

    def _store_studies(self, found: list[StudyRows]) -> list[StudyRows]:
        """Write the studies; those stored (written or unchanged)."""
        stored_keys: set[str] = set()
        for start in range(0, len(found), self.chunk_size):
            self.lock.verify()
            outcome = store_studies(
                self.ledger.engine, found[start : start + self.chunk_size], self.run_id, utcnow()
            )
            self._book(outcome, "studies")
            stored_keys |= {*outcome.inserted, *outcome.updated, *outcome.unchanged}
        return [rows for rows in found if rows.study_id in stored_keys]

    def _close_listing(self, project_id: str, workspace_id: str, paged: Paged) -> None:
        if paged.cut_short:
            self.ledger.fail(
                [
                    Failure.from_item_error(
                        TruncatedListingError(
                            None,
                            f"project {project_id}'s studies: the listing holds {paged.seen} "
                            f"but says there are {paged.count}; none was marked removed",
                            workspace_id=workspace_id,
                            stage="studies",
                        )
                    )
                ]
            )
            return
        removed = mark_removed_studies(self.ledger.engine, project_id, paged.keys(), utcnow())
        if removed:
            log.warning(
                "%d study(ies) of project %s are no longer in its listing: marked removed "
                "upstream (kept, not deleted)",
                len(removed),
                project_id,
                extra={"event": "studies_removed_upstream", "study_ids": removed},
            )

    def _load_submissions(self, rows: StudyRows, paged: Paged | ItemError) -> None:
        if isinstance(paged, ItemError):
            self.ledger.fail([Failure.from_item_error(paged)])
            return
        self._fail_items(paged)
        batch_id = rows.study["batch_id"]
        flat = [
            flatten_submission(
                item, study_id=rows.study_id, batch_id=batch_id, demographics=self.demographics
            )
            for item in paged.items
            if _ok(item)
        ]
        for start in range(0, len(flat), SUBMISSION_CHUNK):
            self.lock.verify()
            chunk = flat[start : start + SUBMISSION_CHUNK]
            outcome = store_submissions(self.ledger.engine, chunk, self.run_id, utcnow())
            self._book(outcome, "subs")
            if outcome.inserted or outcome.updated:
                self.on_changed(batch_id)
        if paged.cut_short:
            message = (
                f"study {rows.study_id}'s submissions: the listing holds {paged.seen} but says "
                f"there are {paged.count}; those that came were loaded, none was marked removed"
            )
            error = TruncatedListingError(batch_id, message, stage="submissions")
            self.ledger.fail([Failure.from_item_error(error)])
            return
        if mark_removed_submissions(self.ledger.engine, rows.study_id, paged.keys(), utcnow()):
            self.on_changed(batch_id)

    def _load_cost(self, rows: StudyRows, fetched: Any) -> None:
        if isinstance(fetched, ItemError):
            self.ledger.fail([Failure.from_item_error(fetched)])
            return
        cost, counts = fetched
        self.lock.verify()
        flat = flatten_cost(rows.study_id, rows.study["batch_id"], cost, counts)
        outcome = store_cost(self.ledger.engine, flat, self.run_id, utcnow())
        self.ledger.fail([Failure.from_item_error(error) for error in outcome.failed])

    def _fail_items(self, paged: Paged) -> None:
        self.ledger.fail(
            [Failure.from_item_error(item) for item in paged.items if isinstance(item, ItemError)]
        )

    def _book(self, outcome: LoadOutcome, what: str) -> None:
        result = self.ledger.result
        written = len(outcome.inserted) + len(outcome.updated)
        if what == "studies":
            result.studies_written += written
            result.studies_unchanged += len(outcome.unchanged)
        else:
            result.submissions_written += written
            result.submissions_unchanged += len(outcome.unchanged)
        self.ledger.fail([Failure.from_item_error(error) for error in outcome.failed])

    @property
    def run_id(self) -> int:
        return self.ledger.run_id


def _ok(item: Any) -> bool:
    return not isinstance(item, ItemError)


def _of_study(rows: StudyRows) -> dict[str, Any]:
    return {"batch_id": rows.study["batch_id"], "stage": "submissions"}


def responses_due(ledger: Ledger, options: SyncOptions, batch_ids: Sequence[str]) -> list[str]:
    """Of ``batch_ids``, those whose responses this run downloads: all of them, but with
    --submissions (and without --full-refresh) those whose responses can no longer change
    (``etl.store.settled``), which are counted and said."""
    if not options.submissions or options.full_refresh or not batch_ids:
        return list(batch_ids)
    settled = settled_batches(ledger.engine, list(batch_ids))
    ledger.result.responses_skipped = len(settled)
    if settled:
        log.info(
            "%d batch(es)' responses not downloaded: every study of theirs is COMPLETED, none "
            "of their submissions is open, and their responses were loaded whole since "
            "(--full-refresh downloads them)",
            len(settled),
            extra={"event": "responses_skipped", "run_id": ledger.run_id, "count": len(settled)},
        )
    return [batch_id for batch_id in batch_ids if batch_id not in settled]
