"""The most a client can get from the imitation on this machine: ``workers`` threads sharing
one ``requests`` Session, each asking for a batch and reading its JSON, nothing validated,
nothing stored. The ceiling the tool is held to (workers / latency) assumes every request
takes the latency alone; this measures what this machine's HTTP stack and the imitation
allow of it (bench/ceiling.py)."""

from __future__ import annotations

import threading

import requests
from requests.adapters import HTTPAdapter


def bare_fetch(api_url: str, token: str, batch_ids: list[str], workers: int) -> int:
    """Fetch every batch of ``batch_ids`` through ``workers`` threads; how many came back."""
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=workers))
    pending = iter(batch_ids)
    lock = threading.Lock()
    fetched = [0] * workers

    def fetch(worker: int) -> None:
        while True:
            with lock:
                batch_id = next(pending, None)
            if batch_id is None:
                return
            url = f"{api_url}/api/v1/data-collection/batches/{batch_id}"
            response = session.get(url, timeout=30)
            response.raise_for_status()
            response.json()
            fetched[worker] += 1

    threads = [threading.Thread(target=fetch, args=(worker,)) for worker in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    session.close()
    return sum(fetched)
