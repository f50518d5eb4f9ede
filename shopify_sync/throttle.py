"""A per-shop estimate of Shopify's GraphQL cost bucket, shared by every worker through Redis.

Shopify limits each app+shop pair with a leaky bucket of query-cost points (shopify-protocols.md 4.2):
`maximumAvailable` points, refilled at `restoreRate` per second; each response reports the state in
`extensions.cost.throttleStatus`. Workers of the same shop write what Shopify last reported here, and
before sending a request each takes the request's estimated cost out of the estimate, or learns how long
to wait until the bucket holds it. So concurrent workers pace themselves instead of all being THROTTLED.

The estimate is an optimisation, not a guarantee: Shopify's THROTTLED answer stays the authority
(AdminClient waits and retries on it), and when Redis is unreachable the pacing is skipped, not the call.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

# Keep a shop's bucket this long after its last request; an idle shop's bucket is full anyway.
BUCKET_TTL_SECONDS = 600

# Atomic on the Redis server (scripts run alone), timed by the server's clock so workers on different
# machines agree. Refills the stored estimate by the time passed and takes `cost` out of it, possibly
# below zero: the caller then waits until the refill covers its debt. Concurrent callers thus queue up
# (each waits for the points the ones before it took) instead of all sending at once. Returns the seconds
# to wait ("0" when the points were there). No stored state yet: go ahead.
_ACQUIRE = """
local b = redis.call('HMGET', KEYS[1], 'available', 'maximum', 'rate', 'ts')
if not b[1] then return '0' end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local available, maximum, rate, ts = tonumber(b[1]), tonumber(b[2]), tonumber(b[3]), tonumber(b[4])
if rate <= 0 then return '0' end
local cost = math.min(tonumber(ARGV[1]), maximum)
if now > ts then available = math.min(maximum, available + (now - ts) * rate) else now = ts end
available = available - cost
redis.call('HSET', KEYS[1], 'available', tostring(available), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
if available >= 0 then return '0' end
return tostring(-available / rate)
"""

_OBSERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('HSET', KEYS[1], 'available', ARGV[1], 'maximum', ARGV[2], 'rate', ARGV[3], 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
"""


@dataclass(frozen=True)
class ThrottleStatus:
    maximum_available: float
    currently_available: float
    restore_rate: float

    @classmethod
    def from_cost(cls, cost: dict | None) -> ThrottleStatus | None:
        status = (cost or {}).get("throttleStatus") or {}
        try:
            return cls(
                float(status["maximumAvailable"]),
                float(status["currentlyAvailable"]),
                float(status["restoreRate"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def seconds_until(self, cost: float) -> float:
        """Seconds until `cost` points are available (0 when they are)."""
        if self.restore_rate <= 0:
            return 1.0
        missing = min(cost, self.maximum_available) - self.currently_available
        return max(missing, 0.0) / self.restore_rate


@lru_cache(maxsize=4)
def _redis(url: str) -> redis.Redis:
    # Short timeouts: pacing must never hold a worker longer than the Admin API call it paces.
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _client() -> redis.Redis:
    return _redis(getattr(settings, "SHOPIFY_THROTTLE_REDIS_URL", None) or settings.REDIS_URL)


def bucket_key(shop_domain: str) -> str:
    return f"shopify:bucket:{shop_domain}"


def bucket_acquire(shop_domain: str, cost: float) -> float:
    """Take `cost` points out of the shop's bucket estimate. Returns the seconds to wait before sending
    (0.0: send now). Redis trouble returns 0.0 (send unpaced; Shopify's THROTTLED still protects)."""
    try:
        wait = _client().eval(_ACQUIRE, 1, bucket_key(shop_domain), cost, BUCKET_TTL_SECONDS)
        return max(float(wait), 0.0)
    except redis.RedisError as exc:
        logger.warning("throttle bucket of %s unavailable (%s); sending unpaced", shop_domain, exc)
        return 0.0


def bucket_observe(shop_domain: str, status: ThrottleStatus) -> None:
    """Store what Shopify just reported for the shop's bucket (authoritative over our estimate)."""
    try:
        _client().eval(
            _OBSERVE,
            1,
            bucket_key(shop_domain),
            repr(status.currently_available),
            repr(status.maximum_available),
            repr(status.restore_rate),
            BUCKET_TTL_SECONDS,
        )
    except redis.RedisError as exc:
        logger.warning("throttle bucket of %s not updated (%s)", shop_domain, exc)
