"""A per-client rate limit for the website server: an in-process token bucket per key.

Each client address has a bucket of `burst` tokens that refills at `per_minute` tokens a minute;
a request takes one token, and a request that finds the bucket empty gets 429 with `Retry-After`
(whole seconds until a token is back) and `{"error": "rate_limited", "retry_after": <seconds>}`.
Forgetting a conversation is also limited per sender id, so one conversation cannot be hammered
from many addresses. `/health` (the launcher polls it while starting) and `/static/` (files every
page view fetches again) are never limited.

In-process is enough for one website server process (the launcher runs one); behind a reverse
proxy set HAVEN_PROXIES_COUNT so the client's address, not the proxy's, is the key.
"""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

#: Buckets kept at most; the least recently used go first (a full bucket is the same as none).
MAX_KEYS = 10_000
EXEMPT_PATHS = ("/health",)
#: The widget's script and styles, and the page's: cheap files every page view fetches again
#: (no-store), so limiting them would only make a page view cost more of the budget.
EXEMPT_PREFIXES = ("/static/",)
_FORGET = re.compile(r"^/api/conversations/([^/]+)/forget/?$")


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Token buckets by key. `take(key)` returns (allowed, seconds until the next token)."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ):
        self.rate = per_minute / 60.0
        self.burst = max(1, burst)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: "OrderedDict[str, _Bucket]" = OrderedDict()

    def take(self, key: str) -> Tuple[bool, float]:
        now = self.clock()
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.burst), updated=now)
        else:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        self._buckets[key] = bucket  # most recently used last
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True, 0.0
        return False, (1.0 - bucket.tokens) / self.rate

    def __len__(self) -> int:
        return len(self._buckets)


def client_key(request: Request) -> str:
    """The client's address: the forwarded one when HAVEN_PROXIES_COUNT trusts a proxy, else the socket's."""
    return request.remote_addr or request.ip or "unknown"


def limited(retry_after: float) -> HTTPResponse:
    seconds = max(1, math.ceil(retry_after))
    return response.json(
        {"error": "rate_limited", "retry_after": seconds},
        status=429,
        headers={"Retry-After": str(seconds), "Cache-Control": "no-store"},
    )


def install(app: Sanic) -> Optional[TokenBuckets]:
    """Adds the limit to every route but /health and /static/; None when the rate is 0."""
    settings = app.ctx.settings
    if settings.rate_limit_per_minute <= 0:
        return None
    buckets = TokenBuckets(settings.rate_limit_per_minute, settings.rate_limit_burst)
    app.ctx.rate_limit = buckets

    @app.on_request
    async def rate_limit(request: Request) -> Optional[HTTPResponse]:
        if request.path in EXEMPT_PATHS or request.path.startswith(EXEMPT_PREFIXES):
            return None
        allowed, wait = buckets.take("client:" + client_key(request))
        if allowed:
            forget = _FORGET.match(request.path)
            if forget:
                allowed, wait = buckets.take("sender:" + forget.group(1)[:64])
        return None if allowed else limited(wait)

    return buckets
