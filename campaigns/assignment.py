"""Who is held back: a deterministic hash of (shop, campaign, customer), in Python and in SQL.

The same customer always lands in the same group of a campaign (a retry, a second window, a re-run), and
the groups of two campaigns are independent. md5 is used as a well-mixed bucketing function, not for
security; PostgreSQL computes it identically, so selection never has to pull customers into Python.
"""
from __future__ import annotations

import hashlib

BUCKETS = 100


def control_bucket(shop_id: int, campaign_id: int, customer_shopify_id: int) -> int:
    digest = hashlib.md5(f"{shop_id}:{campaign_id}:{customer_shopify_id}".encode(), usedforsecurity=False)
    return int(digest.hexdigest()[:8], 16) % BUCKETS


def in_control(shop_id: int, campaign_id: int, customer_shopify_id: int, control_percent: int) -> bool:
    return control_bucket(shop_id, campaign_id, customer_shopify_id) < control_percent


def control_sql(shop_sql: str, campaign_sql: str, customer_sql: str) -> str:
    """SQL boolean expression equal to `control_bucket(...) < %s` (the percent is the next parameter)."""
    return (
        f"(mod(('x' || substr(md5({shop_sql}::text || ':' || {campaign_sql}::text || ':' || {customer_sql}::text),"
        f" 1, 8))::bit(32)::bigint, {BUCKETS}) < %s)"
    )
