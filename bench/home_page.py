"""Benchmark the embedded home page's server work on the shop bench/backfill.py left in the app's database.

    .venv/bin/python bench/backfill.py              # first: the 1,000,000-order shop, synced
    .venv/bin/python bench/home_page.py [--repeat 20] [--explain]

Measures, for the default range (the last 12 months in the shop's time zone, reports.selectors'
default_range):
- reports.selectors.overview and monthly_new_vs_returning, called directly;
- GET /home (the document the admin frames: session token in `id_token`) and GET /home/overview (the
  fragment App Bridge fetches when the merchant changes the range: `Authorization: Bearer`), through
  Django's test client with a valid session token, i.e. middleware, authentication, selectors, template.
Each is timed `--repeat` times after one warm-up request (reported as "first": cold caches of this
process); median and p95. `--explain` prints EXPLAIN (ANALYZE, BUFFERS) of the two selector queries.
Target (issue 3): under 300 ms of server time.
The database is DATABASE_URL's with "_bench" appended (bench/backfill.py's), or --database-url.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _bench_db_url() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/retention")
    name = base.rsplit("/", 1)[1].split("?")[0]
    return base.rsplit("/", 1)[0] + "/" + name + "_bench"


def _timed(fn, repeat: int) -> dict:
    started = time.perf_counter()
    fn()
    first = time.perf_counter() - started
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    samples.sort()
    return {"first_ms": first * 1000, "median_ms": statistics.median(samples) * 1000,
            "p95_ms": samples[min(len(samples) - 1, int(len(samples) * 0.95))] * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--shop", help="shop domain (default: the shop with the most orders)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.database_url or _bench_db_url()
    # The test settings: SHOPIFY_API_KEY/SECRET the session tokens below are signed with, ALLOWED_HOSTS.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    import jwt
    from django.conf import settings
    from django.db import connection, transaction
    from django.db.models import Count
    from django.test import Client
    from django.utils import timezone

    from commerce.models import Order
    from reports import selectors
    from shops.models import Shop

    if args.shop:
        shop = Shop.objects.get(domain=args.shop)
    else:
        top = Order.objects.values("shop").annotate(n=Count("id")).order_by("-n").first()
        if top is None:
            sys.exit("no orders in this database: run bench/backfill.py first")
        shop = Shop.objects.get(pk=top["shop"])
    orders = Order.objects.for_shop(shop).count()
    period = selectors.default_range(shop)

    def session_token() -> str:
        now = int(timezone.now().timestamp())
        return jwt.encode({"iss": f"https://{shop.domain}/admin", "dest": f"https://{shop.domain}",
                           "aud": settings.SHOPIFY_API_KEY, "sub": "1", "exp": now + 600, "nbf": now - 1,
                           "iat": now, "jti": "bench", "sid": "bench"}, settings.SHOPIFY_API_SECRET,
                          algorithm="HS256")

    client = Client()

    def page() -> None:
        response = client.get("/home", {"id_token": session_token(), "shop": shop.domain})
        assert response.status_code == 200, (response.status_code, response.content[:500])

    def fragment() -> None:
        response = client.get("/home/overview", HTTP_AUTHORIZATION=f"Bearer {session_token()}")
        assert response.status_code == 200, (response.status_code, response.content[:500])

    overview = selectors.overview(shop, period)
    in_period = overview.orders + 0
    results = {
        # The home view also counts the shop's synced orders on every load (its sync panel).
        "Order.objects.for_shop(shop).count()": _timed(lambda: Order.objects.for_shop(shop).count(), args.repeat),
        "selectors.overview": _timed(lambda: selectors.overview(shop, period), args.repeat),
        "selectors.monthly_new_vs_returning": _timed(lambda: selectors.monthly_new_vs_returning(shop, period),
                                                      args.repeat),
        "GET /home (full request)": _timed(page, args.repeat),
        "GET /home/overview (fragment)": _timed(fragment, args.repeat),
    }
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg = cur.fetchone()[0]
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print("=" * 78)
    print(f"home page benchmark   {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"machine: {os.cpu_count()} cores, {mem_gb:.0f} GB RAM, PostgreSQL {pg}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"shop {shop.domain}: {orders:,} orders; range {period.start} .. {period.end} "
          f"({shop.iana_timezone}): {in_period:,} counted orders, {overview.customers:,} customers")
    print(f"{'':40s} {'median':>9s} {'p95':>9s} {'first':>9s}")
    for name, r in results.items():
        print(f"{name:40s} {r['median_ms']:7.1f}ms {r['p95_ms']:7.1f}ms {r['first_ms']:7.1f}ms")
    print("=" * 78)
    if args.explain:
        # EXPLAIN what the selectors actually send (captured), not a copy of their SQL: they change.
        captured: list[tuple[str, object]] = []

        def capture(execute, sql, params, many, context):
            captured.append((sql, params))
            return execute(sql, params, many, context)

        with connection.execute_wrapper(capture):
            selectors.overview(shop, period)
            selectors.monthly_new_vs_returning(shop, period)
        for sql, params in captured:
            if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                print("---\n" + "\n".join(row[0] for row in cur.fetchall()))

if __name__ == "__main__":
    main()
