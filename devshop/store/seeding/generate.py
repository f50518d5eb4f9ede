"""Generate a realistic shop's history with numpy and load it with binary COPY + INSERT … SELECT.

The story (realistic-shops.md): customers arrive over the years (growing, peaking around Black Friday
and December, quieter in summer); each buys by the BG/NBD process (purchase rate lambda ~ Gamma(r, alpha)
per week while active, drop-out probability p ~ Beta(a, b) after every purchase; CDNOW parameters by
default); order sizes vary per customer (gamma spread) over a catalogue with a few best sellers and a
long tail; some orders carry discount codes, a minority are refunded (partially or fully), a few are
cancelled; guests check out without an account; a few test orders; some buyers pay in other currencies;
some customers have a birthday (facts.birth_date) and some accepted e-mail marketing.

Everything is drawn from one numpy Generator seeded with `seed`, and `end` anchors the calendar, so the
same (seed, sizes, end) gives the same rows, counts and sums. Money is computed in integer cents with
half-up rounding (the same rule services.py applies with Decimal).
"""
import datetime as dt
import time
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from ..markets import EUR_RATES, PRESETS, VAT, Preset
from ..models import Shop
from .catalogue import PRODUCT_WORDS, VARIANT_SETS, ascii_slug
from .pgcopy import copy_binary, to_pg_timestamp

WEEK = 7 * 86400.0
DAY = 86400.0

# Discount codes the seeder creates: (code, kind, percent basis points or fixed EUR cents, min EUR cents)
SEED_CODES = (
    ("WELCOME10", "percentage", 1000, 0),
    ("SAVE15", "percentage", 1500, 0),
    ("BLACKFRIDAY20", "percentage", 2000, 0),
    ("FIVEOFF", "fixed_amount", 500, 3000),
    ("FREESHIP", "free_shipping", 0, 0),
)
# (landing page, referrer, weight)
TRAFFIC = (
    ("/", None, 20), ("/collections/all", None, 8), ("/products/{handle}", None, 7),
    ("/?utm_source=google&utm_medium=cpc", "https://www.google.com/", 14),
    ("/products/{handle}", "https://www.google.com/", 16),
    ("/?utm_source=instagram&utm_medium=social", "https://l.instagram.com/", 12),
    ("/?fbclid=IwAR2x", "https://m.facebook.com/", 10),
    ("/?utm_source=newsletter&utm_medium=email", None, 8),
    ("/collections/all", "https://www.bing.com/", 3),
    ("/?utm_source=tiktok", "https://www.tiktok.com/", 2),
)
CANCEL_REASONS = ("customer", "inventory", "fraud", "declined", "other")
FIN = ("paid", "pending", "partially_refunded", "refunded", "voided")


@dataclass
class SeedSpec:
    customers: int = 1000
    years: float = 3.0
    seed: int = 1
    end: str | None = None  # ISO date-time; default: today 00:00 UTC
    products: int = 60
    r: float = 0.243
    alpha: float = 4.414
    a: float = 0.793
    b: float = 2.426
    rate_scale: float = 1.0  # multiplies every purchase rate (a busier shop than CDNOW)
    signup_only: float = 0.12  # customers who create an account but never order
    guest_share: float = 0.08  # guest orders per customer order
    test_share: float = 0.003
    discount_share: float = 0.12
    refund_share: float = 0.06
    cancel_share: float = 0.015
    foreign_share: float = 0.06
    birthday_share: float = 0.35
    subscribed_share: float = 0.45


def preset_for(shop: Shop) -> Preset:
    for preset in PRESETS.values():
        if preset.locale == shop.primary_locale or preset.country == shop.country_code:
            if preset.country == shop.country_code:
                return preset
    return next((p for p in PRESETS.values() if p.locale == shop.primary_locale), PRESETS["de"])


def _day_weights(start: float, days: int) -> np.ndarray:
    """Acquisition intensity per day: growth over the years, Black Friday/December peaks, quiet summers."""
    day_starts = start + np.arange(days) * DAY
    dates = [dt.datetime.fromtimestamp(t, dt.UTC).date() for t in day_starts]
    month = np.array([d.month for d in dates])
    dom = np.array([d.day for d in dates])
    weekday = np.array([d.weekday() for d in dates])
    season = np.choose(month - 1, [0.9, 0.85, 0.95, 1.0, 1.0, 0.8, 0.7, 0.75, 1.0, 1.05, 1.5, 1.8])
    # Black Friday week (4th Friday of November) to Cyber Monday.
    black_friday = (month == 11) & (dom >= 22) & (dom <= 30)
    season = season * np.where(black_friday, 2.2, 1.0)
    season = season * np.where((month == 12) & (dom > 23), 0.6, 1.0)  # after Christmas shipping cut-off
    growth = np.linspace(0.35, 1.0, days) ** 1.3
    weekly = np.where(weekday >= 5, 0.9, 1.0) * np.where(weekday == 6, 1.15, 1.0)
    w = season * growth * weekly
    return w / w.sum()


def _round_div(num: np.ndarray, den) -> np.ndarray:
    """Integer division rounded half up (non-negative inputs)."""
    return (2 * num + den) // (2 * den)


def _ids(cur, table: str, n: int) -> np.ndarray:
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    cur.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)", [n])  # noqa: S608 - table names are our constants
    return np.fromiter((r[0] for r in cur.fetchall()), dtype=np.int64, count=n)


def seed_shop(shop: Shop, spec: SeedSpec) -> dict:
    timings: dict[str, float] = {}
    t_start = time.monotonic()
    preset = preset_for(shop)
    rng = np.random.default_rng(spec.seed)
    if spec.end:
        end_dt = dt.datetime.fromisoformat(spec.end)
        end_dt = end_dt if end_dt.tzinfo else end_dt.replace(tzinfo=dt.UTC)
    else:
        end_dt = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    end = end_dt.timestamp()
    days = max(1, int(round(spec.years * 365.25)))
    start = end - days * DAY
    vat_bp = int(VAT.get(shop.country_code, 0) * 10000)
    currency = shop.currency_code
    scale = float(preset.price_scale) if currency == preset.currency else 1.0
    cents_scale = 100  # prices are drawn in shop currency units, stored as cents

    # --- catalogue -------------------------------------------------------------------------------
    adjectives, nouns = PRODUCT_WORDS.get(shop.primary_locale, PRODUCT_WORDS["en"])
    n_products = spec.products
    product_titles = [f"{adjectives[i % len(adjectives)]} {nouns[(i // len(adjectives)) % len(nouns)]}"
                      + (f" {i // (len(adjectives) * len(nouns)) + 1}" if i >= len(adjectives) * len(nouns) else "")
                      for i in range(n_products)]
    variant_set_idx = rng.integers(0, len(VARIANT_SETS), n_products)
    base_price = np.exp(rng.normal(np.log(22.0), 0.55, n_products)) * scale
    variants = []  # (product index, title, price cents, popularity)
    product_pop = 1.0 / np.arange(1, n_products + 1) ** 1.15  # a few best sellers, a long tail
    rng.shuffle(product_pop)
    for p in range(n_products):
        titles = VARIANT_SETS[variant_set_idx[p]]
        for k, title in enumerate(titles):
            price = base_price[p] * (1 + 0.35 * k)
            price = np.floor(price) + (0.9 if price > 10 * scale else 0.99) if scale < 10 else np.round(price, -1)
            variants.append((p, title, int(round(price * cents_scale)), product_pop[p] / len(titles)))
    v_product = np.array([v[0] for v in variants])
    v_price = np.array([v[2] for v in variants], dtype=np.int64)
    v_pop = np.array([v[3] for v in variants])
    v_pop = v_pop / v_pop.sum()
    n_variants = len(variants)

    # --- customers and their purchases (BG/NBD) --------------------------------------------------
    n_cust = spec.customers
    w = _day_weights(start, days)
    acq_day = rng.choice(days, size=n_cust, p=w)
    acq = start + acq_day * DAY + rng.uniform(8 * 3600, 23 * 3600, n_cust)  # daytime in UTC terms
    orders_ever = rng.random(n_cust) >= spec.signup_only
    lam = rng.gamma(spec.r, 1.0 / spec.alpha, n_cust) * spec.rate_scale  # purchases per week
    p_drop = rng.beta(spec.a, spec.b, n_cust)
    horizon = (end - acq) / WEEK
    spend_mult = rng.gamma(4.0, 0.25, n_cust)  # per-customer order size level (mean 1)

    cust_of, t_of = [np.flatnonzero(orders_ever)], [acq[orders_ever]]
    active = np.flatnonzero(orders_ever)
    elapsed = np.zeros(len(active))
    while len(active):
        stay = rng.random(len(active)) >= p_drop[active]
        active, elapsed = active[stay], elapsed[stay]
        elapsed = elapsed + rng.exponential(1.0, len(active)) / np.maximum(lam[active], 1e-9)
        alive = elapsed < horizon[active]
        active, elapsed = active[alive], elapsed[alive]
        cust_of.append(active)
        t_of.append(acq[active] + elapsed * WEEK)
    o_cust = np.concatenate(cust_of)
    o_time = np.concatenate(t_of)
    n_customer_orders = len(o_cust)

    # Guest checkouts follow the same calendar.
    n_guest = int(round(n_customer_orders * spec.guest_share))
    g_time = start + rng.choice(days, size=n_guest, p=w) * DAY + rng.uniform(7 * 3600, 23 * 3600, n_guest)
    o_cust = np.concatenate([o_cust, np.full(n_guest, -1)])
    o_time = np.concatenate([o_time, g_time])
    order_sort = np.argsort(o_time, kind="stable")
    o_cust, o_time = o_cust[order_sort], o_time[order_sort]
    n_orders = len(o_cust)
    is_guest = o_cust < 0
    o_mult = np.where(is_guest, rng.gamma(4.0, 0.25, n_orders), spend_mult[np.maximum(o_cust, 0)])
    # First order of each customer (WELCOME10 is for those).
    first_order = np.zeros(n_orders, dtype=bool)
    cust_idx_nonguest = np.flatnonzero(~is_guest)
    _, first_pos = np.unique(o_cust[cust_idx_nonguest], return_index=True)
    first_order[cust_idx_nonguest[first_pos]] = True

    # --- lines --------------------------------------------------------------------------------------
    n_lines_per = np.minimum(1 + rng.poisson(0.55 * o_mult), 8)
    n_lines = int(n_lines_per.sum())
    l_order = np.repeat(np.arange(n_orders), n_lines_per)
    l_variant = rng.choice(n_variants, size=n_lines, p=v_pop)
    l_qty = 1 + (rng.random(n_lines) < 0.12) * rng.integers(1, 3, n_lines)
    l_price = v_price[l_variant]
    l_gross = l_price * l_qty
    line_starts = np.concatenate([[0], np.cumsum(n_lines_per)[:-1]])
    l_last = np.zeros(n_lines, dtype=bool)
    l_last[line_starts + n_lines_per - 1] = True
    o_line_total = np.add.reduceat(l_gross, line_starts)

    # --- discounts ----------------------------------------------------------------------------------
    month_day = _month_day_fast(o_time)
    black_friday = (month_day[:, 0] == 11) & (month_day[:, 1] >= 22)
    # The preset's shipping fee is in its own currency; another currency gets a EUR-like default.
    shipping_flat = int(round(float(preset.shipping) * 100)) if currency == preset.currency else 490
    free_over = int(round(float(preset.free_shipping_over) * 100)) if currency == preset.currency else 4900
    o_shipping = np.where(o_line_total >= free_over, 0, shipping_flat).astype(np.int64)
    use_code = rng.random(n_orders) < spec.discount_share
    code_pick = rng.random(n_orders)
    o_code = np.full(n_orders, -1)
    o_code = np.where(use_code & black_friday, 2, o_code)
    o_code = np.where(use_code & ~black_friday & first_order & ~is_guest & (code_pick < 0.45), 0, o_code)
    o_code = np.where(use_code & (o_code < 0) & (code_pick < 0.70), 1, o_code)
    fixed_min = int(SEED_CODES[3][3] * scale)
    o_code = np.where(use_code & (o_code < 0) & (code_pick < 0.88) & (o_line_total >= fixed_min), 3, o_code)
    o_code = np.where(use_code & (o_code < 0) & (o_shipping > 0), 4, o_code)
    pct = np.array([c[2] if c[1] == "percentage" else 0 for c in SEED_CODES])
    o_disc_lines = np.zeros(n_orders, dtype=np.int64)
    has_pct = (o_code >= 0) & (pct[np.maximum(o_code, 0)] > 0)
    o_disc_lines[has_pct] = _round_div(o_line_total[has_pct] * pct[o_code[has_pct]], 10000)
    fixed = o_code == 3
    o_disc_lines[fixed] = np.minimum(int(SEED_CODES[3][2] * scale), o_line_total[fixed])
    free_ship = o_code == 4
    o_disc_ship = np.where(free_ship, o_shipping, 0)
    o_shipping = np.where(free_ship, 0, o_shipping)
    # Allocate the order discount to lines in proportion to their value; the last line takes the rest.
    l_total = o_line_total[l_order]
    l_disc = np.where(l_total > 0, _round_div(o_disc_lines[l_order] * l_gross, np.maximum(l_total, 1)), 0)
    l_disc[l_last] = 0
    rest = o_disc_lines - np.add.reduceat(l_disc, line_starts)
    l_disc[line_starts + n_lines_per - 1] = rest
    l_net = l_gross - l_disc
    l_tax = _round_div(l_net * vat_bp, 10000 + vat_bp)  # prices include VAT
    o_tax = np.add.reduceat(l_tax, line_starts)
    o_subtotal = o_line_total - o_disc_lines
    o_total = o_subtotal + o_shipping
    o_discounts = o_disc_lines + o_disc_ship

    # --- currencies, status, refunds, cancellations ---------------------------------------------------
    others = [c for c in preset.other_currencies if c in EUR_RATES and c != currency] or [currency]
    foreign = rng.random(n_orders) < spec.foreign_share
    o_pres = np.where(foreign, 1 + rng.integers(0, len(others), n_orders), 0)  # 0 = shop currency
    o_test = rng.random(n_orders) < spec.test_share
    recent = o_time > end - 3 * DAY
    o_fin = np.zeros(n_orders, dtype=np.int16)  # paid
    o_fin[recent & (rng.random(n_orders) < 0.05)] = 1  # pending
    paid = o_fin == 0
    o_cancel = paid & (rng.random(n_orders) < spec.cancel_share)
    o_refund_kind = np.zeros(n_orders, dtype=np.int8)  # 0 none, 1 partial, 2 full
    refund_draw = rng.random(n_orders)
    candidates = paid & ~o_cancel
    o_refund_kind[candidates & (refund_draw < spec.refund_share * 0.6)] = 1
    o_refund_kind[candidates & (refund_draw >= spec.refund_share * 0.6) & (refund_draw < spec.refund_share)] = 2
    o_refund_kind[o_cancel] = 2
    o_cancel_time = np.where(o_cancel, np.minimum(o_time + rng.uniform(600, 2 * DAY, n_orders), end), 0)
    o_refund_time = np.where(o_cancel, o_cancel_time,
                             np.minimum(o_time + rng.uniform(DAY, 30 * DAY, n_orders), end))
    cancel_reason = rng.choice(len(CANCEL_REASONS), size=n_orders, p=[0.55, 0.15, 0.1, 0.1, 0.1])
    # Partial refunds return one unit of the first line (with its VAT share; prices include VAT).
    first_line = line_starts
    part_qty = l_qty[first_line]
    part_net = _round_div(l_net[first_line], part_qty)
    part_tax = _round_div(l_tax[first_line], part_qty)
    o_refunded = np.where(o_refund_kind == 2, o_total, np.where(o_refund_kind == 1, part_net, 0))
    o_refunded_ship = np.where(o_refund_kind == 2, o_shipping, 0)
    o_fin = np.where(o_refund_kind == 2, 3, np.where(o_refund_kind == 1,
                                                     np.where(part_net >= o_total, 3, 2), o_fin)).astype(np.int16)
    fulfilled = ~o_cancel & (o_time < end - 2 * DAY)
    o_fulfil_time = np.minimum(o_time + rng.uniform(0.3 * DAY, 2 * DAY, n_orders), end)
    o_updated = np.maximum.reduce([o_time, np.where(fulfilled, o_fulfil_time, 0),
                                   np.where(o_refund_kind > 0, o_refund_time, 0)])
    traffic_w = np.array([t[2] for t in TRAFFIC], dtype=float)
    o_traffic = rng.choice(len(TRAFFIC), size=n_orders, p=traffic_w / traffic_w.sum())
    o_traffic_product = rng.integers(0, n_products, n_orders)
    o_pos = rng.random(n_orders) < 0.04  # point of sale
    o_marketing = rng.random(n_orders) < 0.4

    # --- customer aggregates -------------------------------------------------------------------------
    counted = ~is_guest & ~o_test
    c_orders = np.bincount(o_cust[counted], minlength=n_cust)
    spent_mask = counted & (o_fin != 1)
    c_spent = np.bincount(o_cust[spent_mask], weights=(o_total - o_refunded)[spent_mask], minlength=n_cust)
    c_spent = np.round(c_spent).astype(np.int64)
    c_last = np.zeros(n_cust)
    np.maximum.at(c_last, o_cust[~is_guest], o_updated[~is_guest])
    c_created = np.where(orders_ever, acq - rng.uniform(60, 1800, n_cust), acq)
    c_updated = np.maximum(c_created, c_last)
    c_female = rng.random(n_cust) < 0.52
    c_first = np.where(c_female, rng.integers(0, len(preset.first_names_f), n_cust),
                       rng.integers(0, len(preset.first_names_m), n_cust))
    c_last_name = rng.integers(0, len(preset.last_names), n_cust)
    c_domain = rng.integers(0, len(preset.email_domains), n_cust)
    c_city = rng.integers(0, len(preset.cities), n_cust)
    c_phone = np.where(rng.random(n_cust) < 0.4, rng.integers(150_000_000, 179_999_999, n_cust), 0)
    marketing_draw = rng.random(n_cust)
    c_marketing = np.where(marketing_draw < spec.subscribed_share, 2,
                           np.where(marketing_draw < spec.subscribed_share + 0.1, 3, 0)).astype(np.int16)
    c_marketing_at = np.where(c_marketing == 3, np.minimum(c_created + rng.uniform(DAY, 400 * DAY, n_cust), end),
                              c_created)
    c_updated = np.maximum(c_updated, np.where(c_marketing > 0, c_marketing_at, 0))
    c_english = rng.random(n_cust) < 0.08
    vip_cut = np.quantile(c_spent, 0.95) if n_cust else 0
    c_vip = (c_spent >= vip_cut) & (c_spent > 0)
    c_birthday = rng.random(n_cust) < spec.birthday_share
    c_birth_days = rng.integers(18 * 365, 75 * 365, n_cust)
    timings["generate"] = time.monotonic() - t_start

    # --- load ---------------------------------------------------------------------------------------
    t_load = time.monotonic()
    with transaction.atomic(), connection.cursor() as cur:
        raw = cur.cursor if hasattr(cur, "cursor") else cur
        _skip_fk_triggers(cur)
        _lookup_tables(cur, shop, preset, product_titles, variants, others)
        product_ids = _ids(cur, "devshop_store_product", n_products)
        variant_ids = _ids(cur, "devshop_store_productvariant", n_variants)
        customer_ids = _ids(cur, "devshop_store_customer", n_cust)
        order_ids = _ids(cur, "devshop_store_order", n_orders)
        line_ids = _ids(cur, "devshop_store_lineitem", n_lines)
        now_pg = to_pg_timestamp(np.array([start]))[0]
        copy_binary(raw, "seed_product", [
            ("idx", "int4", np.arange(n_products, dtype=np.int32)), ("id", "int8", product_ids),
            ("created_at", "timestamptz", np.full(n_products, now_pg))])
        copy_binary(raw, "seed_variant", [
            ("idx", "int4", np.arange(n_variants, dtype=np.int32)), ("id", "int8", variant_ids),
            ("product_idx", "int4", v_product.astype(np.int32)), ("price", "int8", v_price),
            ("popularity", "float8", v_pop)])
        cur.execute(SQL_PRODUCTS, {"shop": shop.id})
        copy_binary(raw, "seed_customer", [
            ("idx", "int4", np.arange(n_cust, dtype=np.int32)), ("id", "int8", customer_ids),
            ("first_idx", "int4", c_first.astype(np.int32)), ("female", "bool", c_female),
            ("last_idx", "int4", c_last_name.astype(np.int32)), ("domain_idx", "int4", c_domain.astype(np.int32)),
            ("city_idx", "int4", c_city.astype(np.int32)), ("phone", "int8", c_phone.astype(np.int64)),
            ("marketing", "int2", c_marketing), ("marketing_at", "timestamptz", to_pg_timestamp(c_marketing_at)),
            ("english", "bool", c_english), ("orders_count", "int4", c_orders.astype(np.int32)),
            ("spent", "int8", c_spent), ("vip", "bool", c_vip), ("birthday", "bool", c_birthday),
            ("birth_days", "int4", c_birth_days.astype(np.int32)),
            ("created_at", "timestamptz", to_pg_timestamp(c_created)),
            ("updated_at", "timestamptz", to_pg_timestamp(c_updated))])
        cur.execute(SQL_CUSTOMERS, {"shop": shop.id, "locale": shop.primary_locale,
                                    "phone_prefix": preset.phone_prefix, "end": end_dt})
        n_guest_emails = rng.integers(0, 10_000, n_orders)
        copy_binary(raw, "seed_order", [
            ("idx", "int4", np.arange(n_orders, dtype=np.int32)), ("id", "int8", order_ids),
            ("cust_idx", "int4", o_cust.astype(np.int32)), ("guest_n", "int4", n_guest_emails.astype(np.int32)),
            ("created_at", "timestamptz", to_pg_timestamp(o_time)),
            ("updated_at", "timestamptz", to_pg_timestamp(o_updated)),
            ("cancelled_at", "timestamptz", to_pg_timestamp(o_cancel_time)), ("cancelled", "bool", o_cancel),
            ("cancel_reason", "int2", cancel_reason.astype(np.int16)), ("fin", "int2", o_fin),
            ("fulfilled", "bool", fulfilled), ("fulfilled_at", "timestamptz", to_pg_timestamp(o_fulfil_time)),
            ("pres", "int2", o_pres.astype(np.int16)),
            ("subtotal", "int8", o_subtotal), ("discounts", "int8", o_discounts), ("disc_lines", "int8", o_disc_lines),
            ("shipping", "int8", o_shipping), ("tax", "int8", o_tax), ("total", "int8", o_total),
            ("refunded", "int8", o_refunded), ("refunded_ship", "int8", o_refunded_ship),
            ("code", "int2", o_code.astype(np.int16)), ("disc_ship", "int8", o_disc_ship),
            ("traffic", "int2", o_traffic.astype(np.int16)),
            ("traffic_product", "int4", o_traffic_product.astype(np.int32)), ("pos", "bool", o_pos),
            ("test", "bool", o_test), ("marketing", "bool", o_marketing)])
        cur.execute(SQL_ORDERS, {"shop": shop.id, "currency": currency, "locale": shop.primary_locale})
        copy_binary(raw, "seed_line", [
            ("id", "int8", line_ids), ("order_idx", "int4", l_order.astype(np.int32)),
            ("variant_idx", "int4", l_variant.astype(np.int32)), ("qty", "int4", l_qty.astype(np.int32)),
            ("price", "int8", l_price), ("disc", "int8", l_disc), ("tax", "int8", l_tax)])
        cur.execute(SQL_LINES, {"shop": shop.id})
        refunded_orders = np.flatnonzero(o_refund_kind > 0)
        refund_ids = _ids(cur, "devshop_store_refund", len(refunded_orders))
        full = o_refund_kind[refunded_orders] == 2
        copy_binary(raw, "seed_refund", [
            ("id", "int8", refund_ids), ("order_idx", "int4", refunded_orders.astype(np.int32)),
            ("created_at", "timestamptz", to_pg_timestamp(o_refund_time[refunded_orders])),
            ("amount", "int8", o_refunded[refunded_orders]), ("shipping", "int8", o_refunded_ship[refunded_orders]),
            ("full_refund", "bool", full), ("cancel", "bool", o_cancel[refunded_orders])])
        cur.execute(SQL_REFUNDS, {"shop": shop.id})
        # Refund lines: every line of a full refund; one unit of the first line of a partial refund.
        full_orders = refunded_orders[full]
        full_lines = np.flatnonzero(np.isin(l_order, full_orders))
        part_orders = refunded_orders[~full]
        refund_of_order = np.full(n_orders, -1, dtype=np.int64)
        refund_of_order[refunded_orders] = refund_ids
        rl_line = np.concatenate([full_lines, line_starts[part_orders]])
        rl_qty = np.concatenate([l_qty[full_lines], np.ones(len(part_orders), dtype=np.int64)])
        rl_sub = np.concatenate([l_net[full_lines], part_net[part_orders]])
        rl_tax = np.concatenate([l_tax[full_lines], part_tax[part_orders]])
        rl_ids = _ids(cur, "devshop_store_refundlineitem", len(rl_line))
        copy_binary(raw, "seed_refund_line", [
            ("id", "int8", rl_ids), ("refund_id", "int8", refund_of_order[l_order[rl_line]]),
            ("line_id", "int8", line_ids[rl_line]), ("order_idx", "int4", l_order[rl_line].astype(np.int32)),
            ("qty", "int4", rl_qty.astype(np.int32)), ("subtotal", "int8", rl_sub), ("tax", "int8", rl_tax)])
        cur.execute(SQL_REFUND_LINES, {})
        cur.execute(SQL_DISCOUNTS, {"shop": shop.id, "start": dt.datetime.fromtimestamp(start, dt.UTC),
                                    "scale": scale})
        cur.execute(SQL_METAFIELDS, {"shop": shop.id, "end": end_dt})
        cur.execute("ANALYZE devshop_store_order; ANALYZE devshop_store_customer; ANALYZE devshop_store_lineitem")
    timings["load"] = time.monotonic() - t_load
    timings["total"] = time.monotonic() - t_start
    return {
        "customers": n_cust, "orders": n_orders, "guest_orders": n_guest, "line_items": n_lines,
        "refunds": int(len(refunded_orders)), "products": n_products, "variants": n_variants,
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }


def _skip_fk_triggers(cur) -> None:
    """Rows are consistent by construction; checking millions of deferred foreign keys at COMMIT takes
    longer than loading them. Only a superuser may skip them (session_replication_role); others just wait."""
    cur.execute("SAVEPOINT seed_fk")
    try:
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("RELEASE SAVEPOINT seed_fk")
    except Exception:  # noqa: BLE001 - insufficient privilege: keep the checks
        cur.execute("ROLLBACK TO SAVEPOINT seed_fk")


def _month_day_fast(ts: np.ndarray) -> np.ndarray:
    d = ts.astype("datetime64[s]").astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    month = (months.astype(int) % 12) + 1
    day = (d - months).astype(int) + 1
    return np.stack([month, day], axis=1)


def _lookup_tables(cur, shop: Shop, preset: Preset, product_titles, variants, others) -> None:
    """Temporary tables: the small lists text columns are built from."""
    cur.execute("""
        CREATE TEMP TABLE seed_product (idx int4, id int8, created_at timestamptz) ON COMMIT DROP;
        CREATE TEMP TABLE seed_variant (idx int4, id int8, product_idx int4, price int8, popularity float8)
            ON COMMIT DROP;
        CREATE TEMP TABLE seed_customer (idx int4, id int8, first_idx int4, female bool, last_idx int4,
            domain_idx int4, city_idx int4, phone int8, marketing int2, marketing_at timestamptz, english bool,
            orders_count int4, spent int8, vip bool, birthday bool, birth_days int4, created_at timestamptz,
            updated_at timestamptz) ON COMMIT DROP;
        CREATE TEMP TABLE seed_order (idx int4, id int8, cust_idx int4, guest_n int4, created_at timestamptz,
            updated_at timestamptz, cancelled_at timestamptz, cancelled bool, cancel_reason int2, fin int2,
            fulfilled bool, fulfilled_at timestamptz, pres int2, subtotal int8, discounts int8, disc_lines int8,
            shipping int8, tax int8, total int8, refunded int8, refunded_ship int8, code int2, disc_ship int8,
            traffic int2, traffic_product int4, pos bool, test bool, marketing bool) ON COMMIT DROP;
        CREATE TEMP TABLE seed_line (id int8, order_idx int4, variant_idx int4, qty int4, price int8, disc int8,
            tax int8) ON COMMIT DROP;
        CREATE TEMP TABLE seed_refund (id int8, order_idx int4, created_at timestamptz, amount int8,
            shipping int8, full_refund bool, cancel bool) ON COMMIT DROP;
        CREATE TEMP TABLE seed_refund_line (id int8, refund_id int8, line_id int8, order_idx int4, qty int4,
            subtotal int8, tax int8) ON COMMIT DROP;
        CREATE TEMP TABLE seed_text (kind text, idx int4, value text, extra text) ON COMMIT DROP;
        CREATE TEMP TABLE seed_rate (idx int4, currency text, rate numeric) ON COMMIT DROP;
    """)
    rows = []
    for i, n in enumerate(preset.first_names_f):
        rows.append(("first_f", i, n, ascii_slug(n)))
    for i, n in enumerate(preset.first_names_m):
        rows.append(("first_m", i, n, ascii_slug(n)))
    for i, n in enumerate(preset.last_names):
        rows.append(("last", i, n, ascii_slug(n)))
    for i, d in enumerate(preset.email_domains):
        rows.append(("domain", i, d, None))
    for i, c in enumerate(preset.cities):
        rows.append(("city", i, c, None))
    for i, title in enumerate(product_titles):
        rows.append(("product", i, title, ascii_slug(title.replace(" ", "-")) + f"-{i + 1}"))
    for i, v in enumerate(variants):
        rows.append(("variant", i, v[1], None))
    for i, (landing, referrer, _) in enumerate(TRAFFIC):
        rows.append(("traffic", i, landing, referrer))
    for i, reason in enumerate(CANCEL_REASONS):
        rows.append(("cancel", i, reason, None))
    for i, status in enumerate(FIN):
        rows.append(("fin", i, status, None))
    for i, code in enumerate(SEED_CODES):
        rows.append(("code", i, code[0], code[1]))
    cur.executemany("INSERT INTO seed_text VALUES (%s, %s, %s, %s)", rows)
    from ..markets import fx_rate

    rates = [(0, shop.currency_code, 1)] + [(i + 1, c, fx_rate(shop.currency_code, c)) for i, c in enumerate(others)]
    cur.executemany("INSERT INTO seed_rate VALUES (%s, %s, %s)", rates)
    cur.execute("CREATE INDEX ON seed_text (kind, idx); ANALYZE seed_text;")


SQL_PRODUCTS = """
INSERT INTO devshop_store_product (id, shop_id, title, handle, vendor, product_type, status, created_at, updated_at)
SELECT p.id, %(shop)s, t.value, t.extra, (SELECT name FROM devshop_store_shop WHERE id = %(shop)s), '', 'active',
       p.created_at, p.created_at
FROM seed_product p JOIN seed_text t ON t.kind = 'product' AND t.idx = p.idx;
INSERT INTO devshop_store_productvariant (id, shop_id, product_id, title, sku, price, popularity,
                                          requires_shipping, taxable)
SELECT v.id, %(shop)s, p.id, t.value, 'SKU-' || lpad((v.idx + 1)::text, 5, '0'), v.price / 100.0, v.popularity,
       true, true
FROM seed_variant v JOIN seed_product p ON p.idx = v.product_idx
JOIN seed_text t ON t.kind = 'variant' AND t.idx = v.idx;
CREATE INDEX ON seed_variant (idx);
"""

SQL_CUSTOMERS = """
CREATE INDEX ON seed_customer (idx);
INSERT INTO devshop_store_customer (id, shop_id, first_name, last_name, email, phone, email_marketing_state,
    email_marketing_opt_in_level, email_marketing_updated_at, tags, locale, note, verified_email, state,
    country_code, city, amount_spent, orders_count, created_at, updated_at)
SELECT c.id, %(shop)s, f.value, l.value,
       f.extra || '.' || l.extra || (c.idx + 1)::text || '@' || d.value,
       CASE WHEN c.phone > 0 THEN %(phone_prefix)s || c.phone::text END,
       CASE c.marketing WHEN 2 THEN 'subscribed' WHEN 3 THEN 'unsubscribed' ELSE 'not_subscribed' END,
       CASE WHEN c.marketing > 0 THEN 'single_opt_in' END,
       CASE WHEN c.marketing > 0 THEN c.marketing_at END,
       concat_ws(', ', CASE WHEN c.vip THEN 'VIP' END, CASE WHEN c.marketing = 2 THEN 'newsletter' END),
       CASE WHEN c.english THEN 'en' ELSE %(locale)s END, NULL, true, 'enabled',
       (SELECT country_code FROM devshop_store_shop WHERE id = %(shop)s), city.value,
       c.spent / 100.0, c.orders_count, c.created_at, c.updated_at
FROM seed_customer c
JOIN seed_text f ON f.kind = CASE WHEN c.female THEN 'first_f' ELSE 'first_m' END AND f.idx = c.first_idx
JOIN seed_text l ON l.kind = 'last' AND l.idx = c.last_idx
JOIN seed_text d ON d.kind = 'domain' AND d.idx = c.domain_idx
JOIN seed_text city ON city.kind = 'city' AND city.idx = c.city_idx;
"""

SQL_ORDERS = """
CREATE INDEX ON seed_order (idx);
INSERT INTO devshop_store_order (id, shop_id, number, name, email, phone, customer_id, created_at, processed_at,
    updated_at, cancelled_at, cancel_reason, closed_at, financial_status, fulfillment_status, currency,
    presentment_currency, subtotal_price, total_discounts, total_shipping, total_tax, total_price, total_refunded,
    total_refunded_shipping, subtotal_price_pres, total_discounts_pres, total_shipping_pres, total_tax_pres,
    total_price_pres, total_refunded_pres, total_refunded_shipping_pres, taxes_included, discount_codes,
    landing_site, referring_site, note_attributes, source_name, test, tags, note, customer_locale,
    buyer_accepts_marketing)
SELECT o.id, %(shop)s,
       (SELECT coalesce(max(number), 1000) FROM devshop_store_order WHERE shop_id = %(shop)s) + o.idx + 1,
       '#' || ((SELECT coalesce(max(number), 1000) FROM devshop_store_order WHERE shop_id = %(shop)s) + o.idx + 1),
       coalesce(c.email, 'guest' || o.guest_n || '.' || o.idx || '@example.com'), NULL, c.id,
       o.created_at, o.created_at, o.updated_at,
       CASE WHEN o.cancelled THEN o.cancelled_at END,
       CASE WHEN o.cancelled THEN cr.value END,
       CASE WHEN o.cancelled THEN o.cancelled_at WHEN o.fulfilled THEN o.fulfilled_at END,
       fin.value, CASE WHEN o.fulfilled THEN 'fulfilled' END,
       %(currency)s, r.currency,
       o.subtotal / 100.0, o.discounts / 100.0, o.shipping / 100.0, o.tax / 100.0, o.total / 100.0,
       o.refunded / 100.0, o.refunded_ship / 100.0,
       round(o.subtotal / 100.0 * r.rate, 2), round(o.discounts / 100.0 * r.rate, 2),
       round(o.shipping / 100.0 * r.rate, 2), round(o.tax / 100.0 * r.rate, 2), round(o.total / 100.0 * r.rate, 2),
       round(o.refunded / 100.0 * r.rate, 2), round(o.refunded_ship / 100.0 * r.rate, 2),
       true,
       CASE WHEN o.code < 0 THEN '[]'::jsonb
            ELSE jsonb_build_array(jsonb_build_object(
                 'code', code.value,
                 'amount', to_char(CASE WHEN o.code = 4 THEN o.disc_ship ELSE o.disc_lines END / 100.0, 'FM999999999990.00'),
                 'type', CASE code.extra WHEN 'free_shipping' THEN 'shipping' ELSE code.extra END)) END,
       replace(tr.value, '{handle}', coalesce(pt.extra, 'all')), tr.extra, '[]'::jsonb,
       CASE WHEN o.pos THEN 'pos' ELSE 'web' END, o.test, '', NULL,
       coalesce(c.locale, %(locale)s), o.marketing
FROM seed_order o
LEFT JOIN seed_customer sc ON sc.idx = o.cust_idx
LEFT JOIN devshop_store_customer c ON c.id = sc.id
JOIN seed_rate r ON r.idx = o.pres
JOIN seed_text fin ON fin.kind = 'fin' AND fin.idx = o.fin
JOIN seed_text cr ON cr.kind = 'cancel' AND cr.idx = o.cancel_reason
JOIN seed_text tr ON tr.kind = 'traffic' AND tr.idx = o.traffic
LEFT JOIN seed_text pt ON pt.kind = 'product' AND pt.idx = o.traffic_product
LEFT JOIN seed_text code ON code.kind = 'code' AND code.idx = o.code;
"""

SQL_LINES = """
INSERT INTO devshop_store_lineitem (id, shop_id, order_id, product_id, variant_id, title, variant_title, sku,
    vendor, quantity, price, price_pres, total_discount, total_discount_pres, tax, tax_pres, requires_shipping,
    taxable)
SELECT l.id, %(shop)s, o.id, pv.product_id, pv.id, p.title, NULLIF(pv.title, 'Default Title'), pv.sku, p.vendor,
       l.qty, l.price / 100.0, round(l.price / 100.0 * r.rate, 2), l.disc / 100.0, round(l.disc / 100.0 * r.rate, 2),
       l.tax / 100.0, round(l.tax / 100.0 * r.rate, 2), true, true
FROM seed_line l
JOIN seed_order o ON o.idx = l.order_idx
JOIN seed_rate r ON r.idx = o.pres
JOIN seed_variant v ON v.idx = l.variant_idx
JOIN devshop_store_productvariant pv ON pv.id = v.id
JOIN devshop_store_product p ON p.id = pv.product_id;
"""

SQL_REFUNDS = """
INSERT INTO devshop_store_refund (id, shop_id, order_id, created_at, processed_at, note, amount, amount_pres,
    shipping, shipping_pres, restock)
SELECT f.id, %(shop)s, o.id, f.created_at, f.created_at, CASE WHEN f.cancel THEN 'Order cancelled' END,
       f.amount / 100.0,
       CASE WHEN f.full_refund THEN round(o.total / 100.0 * r.rate, 2) ELSE round(f.amount / 100.0 * r.rate, 2) END,
       f.shipping / 100.0, round(f.shipping / 100.0 * r.rate, 2), f.full_refund
FROM seed_refund f JOIN seed_order o ON o.idx = f.order_idx JOIN seed_rate r ON r.idx = o.pres;
"""

SQL_REFUND_LINES = """
INSERT INTO devshop_store_refundlineitem (id, refund_id, line_item_id, quantity, subtotal, subtotal_pres,
    total_tax, total_tax_pres, restock_type)
SELECT x.id, x.refund_id, x.line_id, x.qty, x.subtotal / 100.0, round(x.subtotal / 100.0 * r.rate, 2),
       x.tax / 100.0, round(x.tax / 100.0 * r.rate, 2), 'no_restock'
FROM seed_refund_line x JOIN seed_order o ON o.idx = x.order_idx JOIN seed_rate r ON r.idx = o.pres;
"""

SQL_DISCOUNTS = """
WITH codes AS (
    SELECT t.idx, t.value AS code, t.extra AS kind,
           nextval(pg_get_serial_sequence('devshop_store_discountnode', 'id')) AS node_id
    FROM seed_text t
    WHERE t.kind = 'code' AND NOT EXISTS (
        SELECT 1 FROM devshop_store_discountredeemcode x WHERE x.shop_id = %(shop)s AND upper(x.code) = upper(t.value))
), nodes AS (
    INSERT INTO devshop_store_discountnode (id, shop_id, kind, title, value_type, value, applies_on_each_item,
        items_all, context_all, context_customer_ids, minimum_subtotal, minimum_quantity, usage_limit,
        applies_once_per_customer, starts_at, ends_at, combines_with_order, combines_with_product,
        combines_with_shipping, maximum_shipping_price, destination_all, destination_countries, tags,
        created_by_app, created_at, updated_at)
    SELECT node_id, %(shop)s, CASE WHEN kind = 'free_shipping' THEN 'free_shipping' ELSE 'basic' END, code,
           CASE WHEN kind = 'free_shipping' THEN NULL ELSE kind END,
           CASE code WHEN 'WELCOME10' THEN 0.10 WHEN 'SAVE15' THEN 0.15 WHEN 'BLACKFRIDAY20' THEN 0.20
                     WHEN 'FIVEOFF' THEN 5 * %(scale)s END,
           false, true, true, '[]'::jsonb, CASE code WHEN 'FIVEOFF' THEN 30 * %(scale)s END, NULL, NULL,
           code = 'WELCOME10', %(start)s, NULL, false, false, kind <> 'free_shipping', NULL, true, '[]'::jsonb,
           '[]'::jsonb, NULL, %(start)s, %(start)s
    FROM codes RETURNING id, title
)
INSERT INTO devshop_store_discountredeemcode (shop_id, discount_id, code, usage_count, created_at)
SELECT %(shop)s, n.id, n.title,
       (SELECT count(*) FROM devshop_store_order o WHERE o.shop_id = %(shop)s
          AND o.discount_codes @> jsonb_build_array(jsonb_build_object('code', n.title))), %(start)s
FROM nodes n;
UPDATE devshop_store_discountredeemcode x SET usage_count = (
    SELECT count(*) FROM devshop_store_order o WHERE o.shop_id = x.shop_id
      AND o.discount_codes @> jsonb_build_array(jsonb_build_object('code', x.code)))
WHERE x.shop_id = %(shop)s AND x.code IN (SELECT value FROM seed_text WHERE kind = 'code');
"""

SQL_METAFIELDS = """
INSERT INTO devshop_store_metafield (shop_id, owner_type, owner_id, namespace, key, type, value, created_at,
                                     updated_at)
SELECT %(shop)s, 'Customer', c.id, 'facts', 'birth_date', 'date',
       to_char((%(end)s::timestamptz AT TIME ZONE 'UTC')::date - c.birth_days, 'YYYY-MM-DD'),
       c.created_at, c.created_at
FROM seed_customer c WHERE c.birthday;
"""
