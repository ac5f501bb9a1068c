"""In-process token buckets (docs/api.md, "Rate limits").

Buckets live in a bounded `cachetools.LRUCache`, so 10,000 distinct keys cost a bounded amount
of memory: the least recently used bucket is forgotten (and starts full again). The limiter is
per process; docs/deploy.md says so.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import cachetools


@dataclass(frozen=True)
class Limit:
    rate: float  # tokens per second
    burst: int  # bucket size


GROUP_LIMITS = {
    "auth": Limit(5, 10),
    "cancel_flow": Limit(10 / 15, 10),
    # The answers to one public key from every client together (each client has a bucket of
    # `cancel_flow`): one client cannot block a merchant's widget, a crowd is still bounded.
    "cancel_flow_key": Limit(600 / 15, 600),
    "webhooks": Limit(100, 500),
    "general": Limit(10, 30),
}
TRACKING_LIMITS = {"free": Limit(20, 50), "pro": Limit(200, 500), "scale": Limit(2000, 5000)}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # Unix seconds when the bucket is full again
    retry_after: int  # seconds until one token is back (only meaningful when refused)

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class RateLimiter:
    def __init__(self, scale: float = 1.0, max_keys: int = 100_000, clock=time.monotonic):
        self.scale = scale
        self.max_keys = max_keys
        self._buckets: cachetools.LRUCache = cachetools.LRUCache(maxsize=max_keys)
        self._lock = threading.Lock()
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self.scale > 0

    def limit_for(self, group: str, plan: str | None = None) -> Limit:
        base = TRACKING_LIMITS.get(plan or "free", TRACKING_LIMITS["free"]) if group == "tracking" else GROUP_LIMITS[group]
        return Limit(base.rate * self.scale, max(1, int(round(base.burst * self.scale))))

    def hit(self, group: str, key: str, plan: str | None = None, cost: int = 1) -> Decision:
        """Take `cost` tokens from the bucket of (group, key)."""
        return self._apply(group, key, plan, cost)

    def peek(self, group: str, key: str, plan: str | None = None) -> Decision:
        return self._apply(group, key, plan, 0)

    def _apply(self, group: str, key: str, plan: str | None, cost: int) -> Decision:
        limit = self.limit_for(group, plan)
        bucket_key = (group, plan if group == "tracking" else None, key)
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(bucket_key, (float(limit.burst), now))
            tokens = min(float(limit.burst), tokens + (now - last) * limit.rate)
            allowed = tokens >= cost
            if allowed:
                tokens -= cost
            self._buckets[bucket_key] = (tokens, now)
        missing = limit.burst - tokens
        wall = time.time()
        reset_at = math.ceil(wall + missing / limit.rate) if missing > 0 else math.ceil(wall)
        retry_after = max(1, math.ceil((cost - tokens) / limit.rate)) if not allowed else 0
        return Decision(allowed, limit.burst, int(tokens), reset_at, retry_after)

    def __len__(self) -> int:
        with self._lock:
            return len(self._buckets)
