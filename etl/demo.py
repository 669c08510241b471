"""``prolific-etl demo``: the whole pipeline against the local API imitation, no token needed."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

from .config import Settings
from .job import SyncResult, sync
from .source.fake_api import FakeProlificAPI, sample_batches

# Shown after the demo: three questions the tables answer.
DEMO_QUERIES = (
    "SELECT status, COUNT(*) FROM batches GROUP BY status",
    "SELECT b.name, COUNT(l.dataset_id) AS datasets FROM batches b "
    "LEFT JOIN batch_datasets l ON l.batch_id = b.batch_id GROUP BY b.batch_id LIMIT 10",
    "SELECT run_id, status, inserted, updated, unchanged, failed FROM etl_runs",
)


def run_demo(database_path: Path, batch_count: int = 50, *, seed: int = 7) -> SyncResult:
    """Serve ``batch_count`` sample batches on 127.0.0.1 and sync them into ``database_path``."""
    token = secrets.token_urlsafe(16)
    batches = sample_batches(batch_count, seed=seed)
    with tempfile.TemporaryDirectory() as scratch:
        ids_file = Path(scratch) / "batch_ids.txt"
        ids_file.write_text("".join(f"{b['id']}\n" for b in batches), encoding="utf-8")
        with FakeProlificAPI(batches, token=token) as api:
            settings = Settings(
                api_token=token,
                api_url=api.url,
                database_url=f"sqlite:///{database_path.resolve()}",
            )
            return sync(settings, str(ids_file))
