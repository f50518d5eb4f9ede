"""Benchmarks of campaigns.

    .venv/bin/python bench/campaigns.py [--codes 5000] [--customers 200000] [--workers 4] [--skip-codes]

1. Unique codes created per second against the development store: a coupon with `--codes` unique codes,
   added with discountRedeemCodeBulkAdd (250 per call, at most MAX_IN_FLIGHT batches in flight) through
   AdminClient, which paces itself on devshop's cost throttling (basic plan: 2,000 points, 100/s).
2. A win-back run over `--customers` customers: selection (one INSERT ... SELECT with the control group),
   then sending every treatment e-mail to a local SMTP server (aiosmtpd in this process) from `--workers`
   processes, each running campaigns.services.sending.recipients_send on chunks, like Celery workers
   on the mail queue. Reports time, messages/s and peak memory (ru_maxrss) of the selecting process and
   of the sending processes.
Uses scratch databases retention_h8_bench and devshop_bench_h8 (recreated).
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import multiprocessing as mp
import os
import re
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = "retention_h8_bench"
DEVSHOP_DB = "devshop_bench_h8"


def _env() -> None:
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB}"
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/8")
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"


def _setup_django() -> None:
    _env()
    import django

    django.setup()
    import logging

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    logging.getLogger("shopify_sync.admin_api").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _recreate(db: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{db}"')
    conn.close()


class ThrottleWaits(logging.Handler):
    """Counts AdminClient's waits (pacing on its bucket estimate, THROTTLED answers) from its log."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.paced = self.throttled = 0
        self.seconds = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        found = re.search(r"(?:pacing|waiting) ([0-9.]+)s", text)
        if "pacing" in text:
            self.paced += 1
        elif "throttled" in text:
            self.throttled += 1
        else:
            return
        self.seconds += float(found.group(1)) if found else 0.0


def rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: kilobytes


# --- 1. codes per second -----------------------------------------------------------------------------


def bench_codes(n_codes: int, bucket: float | None = None, rate: float | None = None) -> None:
    from decimal import Decimal

    from django.conf import settings
    from django.utils import timezone

    from campaigns.models import Coupon
    from campaigns.services import codes, coupons
    from shops.models import Shop
    from shops.services import shop_tokens_store
    from shops.session_tokens import session_token_decode
    from shops.token_endpoint import token_exchange
    from tests.devshop_harness import DevshopServer

    server = DevshopServer(db_name=DEVSHOP_DB).start()
    try:
        remote = server.create_shop("bench-codes-throttled" if bucket or rate else "bench-codes")
        server.create_staff(remote, first_name="B", last_name="O", account_owner=True)
        server.register_app()
        if bucket or rate:
            # Shrink the store's cost bucket: AdminClient must wait for it, never fail.
            server._post(f"/_devshop/shops/{remote.domain}/api/limits", {"bucket_size": bucket, "restore_rate": rate})
        settings.SHOPIFY_BASE_URL = server.base_url + "/store/{shop}"
        settings.SHOPIFY_API_KEY = server.client_id
        settings.SHOPIFY_API_SECRET = server.client_secret
        grant = token_exchange(session_token_decode(server.session_token(remote)))
        shop = Shop(domain=remote.domain, name="Bench", currency="EUR", iana_timezone="Europe/Berlin",
                    installed_at=timezone.now(), scopes=grant.scopes)
        shop_tokens_store(shop, grant)
        shop.save()
        waits = ThrottleWaits()
        api_log = logging.getLogger("shopify_sync.admin_api")
        api_log.setLevel(logging.DEBUG)
        api_log.propagate = False
        api_log.addHandler(waits)
        started = time.perf_counter()
        coupon = coupons.coupon_create(shop=shop, spec=coupons.CouponSpec(
            title="Bench", kind=Coupon.Kind.PERCENTAGE, value=Decimal(10), code_mode=Coupon.CodeMode.UNIQUE,
            codes_requested=n_codes))
        created = time.perf_counter()
        steps = 0
        while not codes.coupon_codes_step(shop=shop, coupon_id=coupon.pk).done:
            steps += 1
            time.sleep(0.05)
        finished = time.perf_counter()
        progress = codes.code_progress(shop=shop, coupon=coupon)
        limits = f"bucket {bucket or 2000:g} points, restore {rate or 100:g}/s"
        print(f"codes [{limits}]: {progress.active} active, {progress.failed} refused, {progress.batches_total} batches "
              f"of <=250 ({codes.MAX_IN_FLIGHT} in flight), {steps} steps")
        print(f"codes [{limits}]: local generation + discount create {created - started:.2f}s; "
              f"bulk add {finished - created:.2f}s; total {finished - started:.2f}s "
              f"= {progress.active / (finished - started):,.0f} codes/s; AdminClient waited {waits.paced} times "
              f"on its bucket estimate and {waits.throttled} times on THROTTLED, {waits.seconds:.1f}s in all")
        api_log.removeHandler(waits)
    finally:
        server.stop()


# --- 2. a campaign run over many customers -----------------------------------------------------------


def populate(shop, n: int) -> None:
    """n customers with summaries: 60 % lapsed 100-400 days, 40 % active; 85 % accept e-mail marketing."""
    from decimal import Decimal

    from django.utils import timezone

    from commerce.models import Customer, CustomerSummary

    now = timezone.now()
    batch = 20_000
    for start in range(0, n, batch):
        customers, summaries = [], []
        for i in range(start, min(n, start + batch)):
            sid = 5_000_000_000 + i
            customers.append(Customer(shop=shop, shopify_id=sid, first_name=f"C{i}", email=f"c{i}@example.com",
                                      email_marketing_state="subscribed" if i % 20 >= 3 else "not_subscribed",
                                      created_at=now - dt.timedelta(days=800), updated_at=now, synced_at=now))
            last = now - dt.timedelta(days=(100 + i % 300) if i % 10 < 6 else (i % 60))
            summaries.append(CustomerSummary(shop=shop, customer_shopify_id=sid, first_order_at=last
                                             - dt.timedelta(days=90), last_order_at=last, orders_count=2,
                                             net_revenue=Decimal("80.00"), refunded=Decimal(0), currency="EUR"))
        Customer.objects.bulk_create(customers)
        CustomerSummary.objects.bulk_create(summaries)


def _send_worker(shop_id: int, queue, host: str, port: int, out) -> None:
    _setup_django()
    from django.conf import settings

    from campaigns.services.sending import recipients_send
    from shops.models import Shop

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = host, port
    shop = Shop.objects.get(pk=shop_id)
    sent = 0
    while True:
        ids = queue.get()
        if ids is None:
            break
        sent += recipients_send(shop=shop, recipient_ids=ids).sent
    out.put((sent, rss_mb()))


def _select_worker(shop_id: int, campaign_id: int, out) -> None:
    _setup_django()
    from django.utils import timezone

    from campaigns.services import runs
    from shops.models import Shop

    shop = Shop.objects.get(pk=shop_id)
    before = rss_mb()
    started = time.perf_counter()
    run = runs.campaign_run(shop=shop, campaign_id=campaign_id, run_date=timezone.now().date())
    out.put((run.pk, time.perf_counter() - started, before, rss_mb()))


def bench_campaign(n_customers: int, workers: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from campaigns.mailbox import LocalSMTPServer, Mailbox
    from campaigns.models import Campaign, Recipient
    from campaigns.services import runs
    from campaigns.services.sending import queued_ids
    from shops.models import Shop

    shop = Shop.objects.create(domain="bench-campaign.myshopify.com", name="Bench", currency="EUR",
                               iana_timezone="Europe/Berlin", installed_at=timezone.now())
    t0 = time.perf_counter()
    populate(shop, n_customers)
    with connection.cursor() as cur:
        cur.execute("ANALYZE commerce_customer; ANALYZE commerce_customersummary")
    print(f"campaign: populated {n_customers:,} customers in {time.perf_counter() - t0:.1f}s (setup, not measured)")
    campaign = runs.campaign_for_kind(shop=shop, kind=Campaign.Kind.WIN_BACK)
    runs.campaign_configure(shop=shop, campaign_id=campaign.pk, enabled=True,
                            settings={"lapse_days": 90, "max_lapse_days": 730, "discount_percent": 0},
                            control_percent=10, attribution_days=30, send_hour=0)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    selector = ctx.Process(target=_select_worker, args=(shop.pk, campaign.pk, out))
    selector.start()
    run_id, seconds, rss_before, rss_after = out.get()
    selector.join()
    from campaigns.models import CampaignRun

    run = CampaignRun.objects.get(pk=run_id)
    ids = queued_ids(shop=shop, run_id=run.pk)
    print(f"campaign: selection {seconds:.2f}s in a fresh process: {run.selected:,} qualified, "
          f"{run.control:,} held back, {run.treatment:,} to send; its peak RSS {rss_after:.0f} MB "
          f"({rss_before:.0f} MB after Django start-up)")
    t1, t2 = 0.0, seconds

    smtp = LocalSMTPServer(Mailbox(keep=False)).start()
    queue, out = ctx.Queue(), ctx.Queue()
    chunk = 500
    for start in range(0, len(ids), chunk):
        queue.put(ids[start:start + chunk])
    for _ in range(workers):
        queue.put(None)
    t3 = time.perf_counter()
    procs = [ctx.Process(target=_send_worker, args=(shop.pk, queue, smtp.host, smtp.port, out)) for _ in range(workers)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    t4 = time.perf_counter()
    smtp.stop()
    sent = sum(r[0] for r in results)
    statuses = dict(Recipient.objects.filter(run=run).values_list("status").annotate(n=__import__(
        "django.db.models", fromlist=["Count"]).Count("pk")))
    print(f"campaign: sending {t4 - t3:.1f}s with {workers} processes: {sent:,} sent "
          f"({sent / (t4 - t3):,.0f} msg/s); SMTP server received {smtp.mailbox.count:,}; "
          f"sender peak RSS {max(r[1] for r in results):.0f} MB each")
    print(f"campaign: recipient statuses {statuses}")
    print(f"campaign: selection + sending {t2 - t1 + t4 - t3:.1f}s for {n_customers:,} customers")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--codes", type=int, default=5000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--skip-codes", action="store_true")
    parser.add_argument("--throttled", action="store_true",
                        help="also create the codes with the store's bucket shrunk to 50 points, 10/s")
    parser.add_argument("--skip-campaign", action="store_true")
    args = parser.parse_args()
    _recreate(DB)
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if not args.skip_codes:
        bench_codes(args.codes)
        if args.throttled:
            bench_codes(args.codes, bucket=50, rate=10)
    if not args.skip_campaign:
        bench_campaign(args.customers, args.workers)


if __name__ == "__main__":
    main()
