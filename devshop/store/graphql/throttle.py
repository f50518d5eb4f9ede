"""Per-installation leaky bucket of query cost, shared by every thread and process through PostgreSQL.

Shopify's numbers (rate-limits docs): the bucket holds `maximumAvailable` points and refills at
`restoreRate` points per second; the requested cost is taken before execution and the difference to the
actual cost is given back after. Tests shrink the bucket with DEVSHOP_BUCKET_SCALE (environment or
setting) or per shop through the control API (Shop.api_bucket_size / api_restore_rate).
"""
import os
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from ..models import ApiThrottleBucket, Shop

# plan -> (maximumAvailable, restoreRate)
PLAN_LIMITS = {
    "basic": (2000.0, 100.0),
    "advanced": (4000.0, 200.0),
    "plus": (20000.0, 1000.0),
    "enterprise": (40000.0, 2000.0),
}
MAX_SINGLE_QUERY_COST = 1000


@dataclass
class ThrottleStatus:
    maximum_available: float
    currently_available: float
    restore_rate: float

    def as_dict(self) -> dict:
        return {
            "maximumAvailable": self.maximum_available,
            "currentlyAvailable": int(self.currently_available),
            "restoreRate": self.restore_rate,
        }


def _scale() -> float:
    raw = getattr(settings, "DEVSHOP_BUCKET_SCALE", None) or os.environ.get("DEVSHOP_BUCKET_SCALE") or "1"
    return float(raw)


def limits_for(shop: Shop) -> tuple[float, float]:
    size, rate = PLAN_LIMITS.get(shop.plan, PLAN_LIMITS["basic"])
    scale = _scale()
    size, rate = size * scale, rate * scale
    if shop.api_bucket_size is not None:
        size = shop.api_bucket_size
    if shop.api_restore_rate is not None:
        rate = shop.api_restore_rate
    return size, rate


def _locked_bucket(shop: Shop, key: str, size: float, rate: float) -> ApiThrottleBucket:
    now = time.time()
    ApiThrottleBucket.objects.get_or_create(
        shop=shop, installation_key=key, defaults={"available": size, "refilled_at": now}
    )
    bucket = ApiThrottleBucket.objects.select_for_update().get(shop=shop, installation_key=key)
    bucket.available = min(size, bucket.available + max(0.0, now - bucket.refilled_at) * rate)
    bucket.refilled_at = now
    return bucket


def reserve(shop: Shop, key: str, cost: int) -> tuple[bool, ThrottleStatus]:
    """Take `cost` points if the bucket holds them; otherwise take nothing (Throttled)."""
    size, rate = limits_for(shop)
    with transaction.atomic():
        bucket = _locked_bucket(shop, key, size, rate)
        ok = bucket.available >= cost
        if ok:
            bucket.available -= cost
        bucket.save(update_fields=["available", "refilled_at"])
    return ok, ThrottleStatus(size, bucket.available, rate)


def refund(shop: Shop, key: str, points: float) -> ThrottleStatus:
    size, rate = limits_for(shop)
    with transaction.atomic():
        bucket = _locked_bucket(shop, key, size, rate)
        bucket.available = min(size, bucket.available + max(0.0, points))
        bucket.save(update_fields=["available", "refilled_at"])
    return ThrottleStatus(size, bucket.available, rate)


def reset(shop: Shop) -> None:
    ApiThrottleBucket.objects.filter(shop=shop).delete()
