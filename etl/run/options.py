"""How a run goes: one frozen object, built once (by the CLI or by ``sync()``'s keywords) and
handed as it is to every part that needs it, the extractor included."""

from __future__ import annotations

from dataclasses import dataclass

from ..source.client import RetryPolicy

DEFAULT_CONCURRENCY = 8
DEFAULT_CHUNK_SIZE = 200


@dataclass(frozen=True)
class SyncOptions:
    """What a run does beyond finding its batches (see ``etl.job.sync`` for each option).

    ``concurrency`` and ``chunk_size`` below 1 count as 1. The extractor reads
    ``concurrency``, ``retry_policy`` and ``max_requests_per_second`` from here (it takes any
    object that has them: ``etl.source.extract.FetchOptions``).
    """

    concurrency: int = DEFAULT_CONCURRENCY
    chunk_size: int = DEFAULT_CHUNK_SIZE
    retry_policy: RetryPolicy | None = None
    max_requests_per_second: float | None = None
    fail_fast: bool = False
    dataset_details: bool = True
    responses: bool = False
    # Studies, submissions and costs of the synced batches (issue #24); demographics are
    # personal data, kept only when asked; full_refresh downloads even settled responses.
    submissions: bool = False
    demographics: bool = False
    full_refresh: bool = False
    auto_migrate: bool = False
    dry_run: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "concurrency", max(1, self.concurrency))
        object.__setattr__(self, "chunk_size", max(1, self.chunk_size))
