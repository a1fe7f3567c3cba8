"""Per-token rate limits: a token bucket per API token, in the process's memory (the API has one process).

Each token may make ``per_minute`` requests a minute on average and ``burst`` at once; past that the answer is
429 with ``Retry-After`` (whole seconds until a request would pass) and the IETF RateLimit headers, so n8n and
scripts back off by themselves. Buckets of tokens unseen for an hour are dropped (memory stays bounded).
"""

from __future__ import annotations

import math
import threading
import time

from api.problems import Problem

MAX_BUCKETS = 10_000
IDLE_S = 3600


class RateLimiter:
    def __init__(self, per_minute: int, burst: int, clock=time.monotonic):
        if per_minute < 1 or burst < 1:
            raise ValueError("A rate limit needs at least 1 request a minute and a burst of at least 1.")
        self.rate = per_minute / 60.0
        self.burst = burst
        self.per_minute = per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # token -> (tokens left, when last counted)

    def take(self, key: str) -> dict[str, str]:
        """Count one request of ``key``; returns the RateLimit headers, or raises a 429 problem."""
        now = self._clock()
        with self._lock:
            left, at = self._buckets.get(key, (float(self.burst), now))
            left = min(float(self.burst), left + (now - at) * self.rate)
            if left < 1.0:
                wait = max(1, math.ceil((1.0 - left) / self.rate))
                self._buckets[key] = (left, now)
                raise Problem(429, "rate-limited", "Too many requests",
                              f"This token may make {self.per_minute} requests a minute (bursts of {self.burst}): "
                              f"wait {wait} s and retry.",
                              {"retry-after": str(wait), **self._headers(left, wait)})
            left -= 1.0
            self._buckets[key] = (left, now)
            if len(self._buckets) > MAX_BUCKETS:
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < IDLE_S}
        return self._headers(left, 0)

    def _headers(self, left: float, wait: int) -> dict[str, str]:
        reset = wait or math.ceil(max(0.0, self.burst - left) / self.rate)
        return {"ratelimit-limit": str(self.per_minute), "ratelimit-remaining": str(int(left)),
                "ratelimit-reset": str(reset)}
