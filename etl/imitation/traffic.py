"""What reaches the imitation: each request as it saw it, and the rate limit it keeps."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class SeenRequest:
    """One request as the server saw it on arrival (the token itself is not kept)."""

    batch_id: str | None
    path: str
    authorized: bool
    user_agent: str
    at: float
    client_port: int = 0  # one per connection: tells keep-alive from a connection per request
    kind: str = "batch"  # batch, workspaces, listing, dataset, responses or other
    key: str | None = None  # the fault key: batch id, listing_key(...), dataset_key(...)


class TokenBucket:
    """``rate`` requests per second, up to ``burst`` at once; thread-safe."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, rate if burst is None else burst)
        self._tokens = self.burst
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False
