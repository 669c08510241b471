"""What FakeProlificAPI serves, one class per kind of data: each holds the methods that put
the data and that answer for it. FakeProlificAPI is all of them; a new kind of data is one more
class here (and its rows in ``endpoints.ROUTES``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .faults import Fault
from .samples import iter_sample_responses, sample_dataset_details, sample_workspace
from .traffic import SeenRequest


@dataclass
class ServedState:
    """What the imitation holds and serves, under one lock."""

    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    workspaces: dict[str, dict[str, Any]] | None = None  # None: one per batch's workspace_id
    datasets: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # None: gone
    listing_counts: dict[str, int] = field(default_factory=dict)
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    response_counts: dict[str, int] = field(default_factory=dict)  # meta.count overrides
    generated_responses: dict[str, tuple[int, int]] = field(default_factory=dict)  # count, seed
    response_bodies: dict[str, bytes] = field(default_factory=dict)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    requests: list[SeenRequest] = field(default_factory=list)
    refused: int = 0
    received: int = 0
    generated_bodies: dict[str, bytes] = field(default_factory=dict)
    # A made-up batch's dataset references (with its workspace), for their details.
    generated_datasets: dict[str, tuple[dict[str, Any], str]] = field(default_factory=dict)
    studies: Any = None  # a SampleStudies (etl.imitation.studies), when put
    listed_counts: dict[str, int] = field(default_factory=dict)  # meta.count overrides
    bytes_sent: dict[str, int] = field(default_factory=dict)  # body bytes per route kind
    lock: threading.Lock = field(default_factory=threading.Lock)


class BatchesServed:
    """Batches, the workspace list and each workspace's batch listing, as FakeProlificAPI
    serves them."""

    _state: ServedState
    generate: Callable[[str], dict[str, Any] | None] | None

    def put_batch(self, batch: dict[str, Any]) -> None:
        with self._state.lock:
            self._state.batches[batch["id"]] = batch

    def remove_batch(self, batch_id: str) -> None:
        with self._state.lock:
            self._state.batches.pop(batch_id, None)

    def batch(self, batch_id: str) -> dict[str, Any]:
        with self._state.lock:
            return self._state.batches[batch_id]

    def batch_body(self, batch_id: str) -> bytes | None:
        """A batch's body (None: 404); generated batches are encoded once and kept."""
        with self._state.lock:
            stored = self._state.batches.get(batch_id)
            cached = self._state.generated_bodies.get(batch_id)
        if stored is not None:
            return json.dumps(stored).encode()
        if cached is None and self.generate is not None:
            generated = self.generate(batch_id)
            if generated is None:  # not a batch this imitation makes up: 404
                return None
            cached = json.dumps(generated).encode()
            with self._state.lock:
                self._state.generated_bodies[batch_id] = cached
                for ref in generated["datasets"]:
                    self._state.generated_datasets.setdefault(
                        ref["id"], (ref, generated["workspace_id"])
                    )
        return cached

    def preload(self, batch_ids: Iterable[str]) -> None:
        """Generate and encode these batches now, so that serving them costs little CPU.

        The benchmark uses it: on a small machine the imitation shares the CPU with the job it
        measures, and should take as little of it as the real API would.
        """
        for batch_id in batch_ids:
            self.batch_body(batch_id)

    def put_workspace(self, workspace: dict[str, Any]) -> None:
        """Answer ``workspace`` in the workspace list, beside the others (by default one per
        batch's workspace_id)."""
        self.set_workspaces([*self.workspaces(), workspace])

    def set_workspaces(self, workspaces: Iterable[dict[str, Any]]) -> None:
        """Answer exactly ``workspaces`` in the workspace list (the last of each id)."""
        with self._state.lock:
            self._state.workspaces = {w["id"]: w for w in workspaces}

    def workspaces(self) -> list[dict[str, Any]]:
        """The workspace list the API answers with."""
        with self._state.lock:
            if self._state.workspaces is not None:
                return list(self._state.workspaces.values())
            ids = dict.fromkeys(b["workspace_id"] for b in self._state.batches.values())
        return [sample_workspace(workspace_id) for workspace_id in ids]

    def listing(self, workspace_id: str) -> dict[str, Any]:
        """A workspace's batch listing: its batches in the order they were put."""
        with self._state.lock:
            results = [b for b in self._state.batches.values() if b["workspace_id"] == workspace_id]
            count = self._state.listing_counts.get(workspace_id, len(results))
        return {"results": results, "meta": {"count": count}}

    def set_listing_count(self, workspace_id: str, count: int | None) -> None:
        """Make a listing's meta.count say ``count`` (None: the truth), as a cut-short one would."""
        with self._state.lock:
            if count is None:
                self._state.listing_counts.pop(workspace_id, None)
            else:
                self._state.listing_counts[workspace_id] = count


class DatasetsServed:
    """Dataset details, as FakeProlificAPI serves them: put ones, or made up from the batches."""

    _state: ServedState

    def put_dataset(self, details: dict[str, Any]) -> None:
        """Answer ``details`` for its dataset instead of details made up from its batches."""
        with self._state.lock:
            self._state.datasets[details["id"]] = details

    def remove_dataset(self, dataset_id: str) -> None:
        """Answer 404 for this dataset's details."""
        with self._state.lock:
            self._state.datasets[dataset_id] = None

    def dataset(self, dataset_id: str) -> dict[str, Any] | None:
        """The details answered for a dataset: put ones, or made up from the batches' refs."""
        with self._state.lock:
            if dataset_id in self._state.datasets:
                return self._state.datasets[dataset_id]
            for batch in self._state.batches.values():
                for ref in batch["datasets"]:
                    if ref["id"] == dataset_id:
                        return sample_dataset_details(ref, batch["workspace_id"])
            made_up = self._state.generated_datasets.get(dataset_id)
        return None if made_up is None else sample_dataset_details(*made_up)


class ResponsesServed:
    """Each batch's responses, as FakeProlificAPI serves them: put, generated or none."""

    _state: ServedState
    generate: Callable[[str], dict[str, Any] | None] | None
    responses_per_batch: int

    def put_responses(self, batch_id: str, records: list[dict[str, Any]]) -> None:
        """Answer ``records`` for a batch's responses (a batch without any answers none)."""
        with self._state.lock:
            self._state.responses[batch_id] = records
            self._state.response_bodies.pop(batch_id, None)

    def generate_responses(self, batch_id: str, count: int, *, seed: int = 0) -> None:
        """Answer ``count`` made-up responses for a batch, encoded once on first ask (for a
        batch of hundreds of thousands, which should cost the server little per request)."""
        with self._state.lock:
            self._state.generated_responses[batch_id] = (count, seed)
            self._state.response_bodies.pop(batch_id, None)

    def responses(self, batch_id: str) -> list[dict[str, Any]]:
        """The response records answered for a batch."""
        with self._state.lock:
            if batch_id in self._state.generated_responses:
                count, seed = self._state.generated_responses[batch_id]
                return list(iter_sample_responses(batch_id, count, seed=seed))
            return list(self._state.responses.get(batch_id, ()))

    def set_responses_count(self, batch_id: str, count: int | None) -> None:
        """Make a batch's responses' meta.count say ``count`` (None: the truth)."""
        with self._state.lock:
            if count is None:
                self._state.response_counts.pop(batch_id, None)
            else:
                self._state.response_counts[batch_id] = count
            self._state.response_bodies.pop(batch_id, None)

    def responses_body(self, batch_id: str) -> bytes | None:
        """A batch's responses (None: 404); made-up ones are encoded once and kept."""
        with self._state.lock:
            if batch_id not in self._state.batches and self.generate is None:
                return None
            cached = self._state.response_bodies.get(batch_id)
            generated = self._state.generated_responses.get(batch_id)
            if generated is None and batch_id not in self._state.responses:
                generated = (self.responses_per_batch, 0) if self.responses_per_batch else None
            stored = self._state.responses.get(batch_id, [])
            override = self._state.response_counts.get(batch_id)
        if cached is not None:
            return cached
        if generated is not None:  # encoded once: a made-up batch may have 200,000
            count, seed = generated
            records: Iterable[dict[str, Any]] = iter_sample_responses(batch_id, count, seed=seed)
            total = count
        else:
            records, total = stored, len(stored)
        parts = [json.dumps(record).encode() for record in records]
        body = (
            b'{"results": ['
            + b", ".join(parts)
            + b'], "meta": {"count": '
            + str(total if override is None else override).encode()
            + b"}}"
        )
        if generated is not None:
            with self._state.lock:
                self._state.response_bodies[batch_id] = body
        return body

    # World.serve encodes a world's responses before serving, by this older name.
    _responses_body = responses_body
