# ruff: noqa: S311 - seeded randomness for reproducible test data, not security
"""The NumPy rebuild of the summaries (commerce.services.summary_arrays) against the SQL one.

summaries_rebuild takes the NumPy path for every shop it can and the SQL aggregates for the rest (time
zones whose month starts are not single instants, amounts beyond 64-bit thousandths). Both must leave
exactly the rows the incremental path keeps, repair the same drift and report the same rows written.
"""
import datetime as dt
import io
import logging
import random
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.db import connection, transaction

from commerce.models import CustomerMonthSummary, CustomerSummary, MonthActivity
from commerce.services import summaries, summary_arrays
from commerce.services.summaries import summaries_rebuild
from commerce.services.upsert import orders_upsert
from commerce.shapes import order_from_graphql

from .payloads import graphql_order, order_facts
from .test_summaries import _snapshot

pytestmark = pytest.mark.django_db

BIG = 2**53  # customer ids beyond 2^47 take the rank-packed month keys (summary_arrays.month_keys)


def _orders(shop, rng: random.Random, *, count: int, start: dt.datetime, days: int, customers: list[int]) -> None:
    """Random orders: several per customer over months, some at the edges of the shop's months (late on
    the last day in UTC, which is already the next month in Berlin), refunds, cancellations, tests."""
    zone = ZoneInfo(shop.iana_timezone)
    batch = []
    for i in range(count):
        if rng.random() < 0.3:
            # the first minutes of a local month, or the last ones of the month before
            local = dt.datetime(start.year, start.month, 1, tzinfo=zone) + dt.timedelta(days=31 * rng.randint(0, days // 31))
            local = local.replace(day=1) + dt.timedelta(minutes=rng.choice([-2, -1, 0, 1, 2]))
            processed = local.astimezone(dt.UTC)
        else:
            processed = start + dt.timedelta(days=rng.randint(0, days), seconds=rng.randint(0, 86399))
        total = Decimal(rng.randint(0, 90000)) / 100
        refunds = []
        if rng.random() < 0.2:
            refunds.append({"id": 50_000 + i, "created_at": processed + dt.timedelta(days=3),
                            "amount": min(total, Decimal(rng.randint(1, 20000)) / 100)})
        cancelled = rng.random() < 0.1
        facts = order_facts(
            id=10_000 + i, name=f"#{10_000 + i}", customer_id=rng.choice([None, *customers]),
            processed_at=processed, created_at=processed, updated_at=processed + dt.timedelta(days=5),
            total=total, test=rng.random() < 0.05, refunds=refunds, lines=[],
            cancelled_at=processed + dt.timedelta(hours=2) if cancelled else None,
            cancel_reason="customer" if cancelled else None)
        batch.append(order_from_graphql(graphql_order(facts, with_lines=False)))
    orders_upsert(shop=shop, orders=batch)


def _drift(shop, rng: random.Random) -> None:
    """Every kind of wrong row a repair must undo, in all three tables."""
    months = list(CustomerMonthSummary.objects.filter(shop=shop).order_by("customer_shopify_id", "month"))
    customers = list(CustomerSummary.objects.filter(shop=shop).order_by("customer_shopify_id"))
    groups = list(MonthActivity.objects.filter(shop=shop).order_by("id"))
    for row in rng.sample(months, 6):
        change = rng.choice(["count", "net", "currency", "cohort", "previous", "following", "delete"])
        if change == "delete":
            row.delete()
            continue
        if change == "count":
            row.orders_count += 1
        elif change == "net":
            row.net_revenue += Decimal("0.001")
        elif change == "currency":
            row.currency = "SEK"
        elif change == "cohort":
            row.cohort_month = dt.date(2019, 1, 1)
        elif change == "previous":
            row.previous_month = None if row.previous_month else dt.date(2019, 2, 1)
        else:
            row.following_month = None if row.following_month else dt.date(2031, 1, 1)
        row.save()
    CustomerMonthSummary.objects.create(  # a month of a customer with no orders at all
        shop=shop, customer_shopify_id=777, month=dt.date(2024, 5, 1), orders_count=1, net_revenue=Decimal(5),
        currency=shop.currency, cohort_month=dt.date(2024, 5, 1))
    for row in rng.sample(customers, 5):
        change = rng.choice(["first", "second", "refunded", "currency", "delete"])
        if change == "delete":
            row.delete()
            continue
        if change == "first":
            row.first_order_at -= dt.timedelta(microseconds=1)
        elif change == "second":
            row.second_order_at = None if row.second_order_at else row.first_order_at
        elif change == "refunded":
            row.refunded += Decimal(1)
        else:
            row.currency = "USD"
        row.save()
    CustomerSummary.objects.create(
        shop=shop, customer_shopify_id=778, first_order_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
        last_order_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC), orders_count=1, net_revenue=Decimal(5),
        refunded=Decimal(0), currency=shop.currency)
    for row in rng.sample(groups, 3):
        row.customers += 1
        row.save()
    groups[-1].delete()
    MonthActivity.objects.create(  # a group in a month no order has
        shop=shop, month=dt.date(2018, 3, 1), cohort_month=dt.date(2018, 1, 1), previous_month=dt.date(2018, 1, 1),
        repeat_in_month=True, customers=2, orders=5, net_revenue=Decimal("1.5"))


def _sql_path_only(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise summary_arrays.NotRepresentable("forced by the test")
    monkeypatch.setattr(summaries, "_rebuild_with_arrays", refuse)


@pytest.mark.parametrize(("seed", "customer_base"), [(1, 1), (2, BIG), (3, 1), (4, BIG)])
def test_numpy_and_sql_rebuilds_repair_the_same_drift_to_the_incremental_rows(
        shop, other_shop, monkeypatch, seed, customer_base):
    rng = random.Random(seed)
    customers = [customer_base + rng.randint(0, 10**6) for _ in range(40)]
    _orders(shop, rng, count=400, start=dt.datetime(2024, 10, 1, tzinfo=dt.UTC), days=500, customers=customers)
    _orders(other_shop, rng, count=50, start=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), days=60, customers=customers)
    incremental, other = _snapshot(shop), _snapshot(other_shop)
    assert summaries_rebuild(shop=shop).written == 0, "the incremental path and the NumPy path agree"

    results = {}
    for path in ("numpy", "sql"):
        with transaction.atomic():
            _drift(shop, random.Random(seed))
            with monkeypatch.context() as patch:
                if path == "sql":
                    _sql_path_only(patch)
                result = summaries_rebuild(shop=shop)
            results[path] = (result, _snapshot(shop), _snapshot(other_shop))
            transaction.set_rollback(True)
    assert results["numpy"] == results["sql"]
    result, repaired, other_after = results["numpy"]
    assert repaired == incremental and other_after == other
    assert result.written >= 6 + 1 + 5 + 1 + 3 + 1 + 1
    assert (result.customers, result.customer_months) == (len(incremental[0]), len(incremental[1]))


def test_from_empty_the_numpy_path_writes_what_the_sql_path_writes(shop, monkeypatch):
    rng = random.Random(9)
    _orders(shop, rng, count=300, start=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), days=300,
            customers=[BIG + i for i in range(30)])
    incremental = _snapshot(shop)
    for path in ("numpy", "sql"):
        for model in (CustomerSummary, CustomerMonthSummary, MonthActivity):
            model.objects.filter(shop=shop).delete()
        with monkeypatch.context() as patch:
            if path == "sql":
                _sql_path_only(patch)
            result = summaries_rebuild(shop=shop)
        assert _snapshot(shop) == incremental, path
        assert result.written == sum(len(rows) for rows in incremental), path


def test_a_shop_whose_month_starts_in_a_repeated_hour_takes_the_sql_path(shop, caplog):
    # Havana sets its clocks back from 01:00 to 00:00 on Sunday 1 November 2026: midnight happens twice.
    shop.iana_timezone = "America/Havana"
    shop.save()
    havana = ZoneInfo("America/Havana")
    starts = [dt.datetime(2026, 10, 31, 23, 30, tzinfo=havana), dt.datetime(2026, 11, 1, 0, 30, tzinfo=havana),
              dt.datetime(2026, 11, 1, 2, tzinfo=havana)]
    for i, wall in enumerate(starts):
        for fold in (0, 1):
            at = wall.replace(fold=fold).astimezone(dt.UTC)
            orders_upsert(shop=shop, orders=[order_from_graphql(graphql_order(order_facts(
                id=300 + 2 * i + fold, name=f"#{300 + 2 * i + fold}", customer_id=5 + fold, processed_at=at,
                created_at=at, lines=[]), with_lines=False))])
    incremental = _snapshot(shop)
    with caplog.at_level(logging.INFO, logger="commerce.services.summaries"):
        assert summaries_rebuild(shop=shop).written == 0
    assert "takes the SQL path" in caplog.text and "America/Havana" in caplog.text
    assert _snapshot(shop) == incremental
    # October for the order half an hour before midnight, November for everything after
    assert {(c, m.month) for c, m, *_ in incremental[1]} == {(5, 10), (5, 11), (6, 10), (6, 11)}


@pytest.mark.parametrize("total", [Decimal("10000000000000000.000"), Decimal("4000000000000000.000")])
def test_amounts_beyond_64_bit_thousandths_take_the_sql_path_with_exact_sums(shop, caplog, total):
    at = dt.datetime(2026, 2, 10, 12, tzinfo=dt.UTC)
    orders_upsert(shop=shop, orders=[order_from_graphql(graphql_order(order_facts(
        id=400 + i, name=f"#{400 + i}", customer_id=8, processed_at=at + dt.timedelta(days=i), created_at=at,
        total=total, lines=[]), with_lines=False)) for i in range(3)])
    for model in (CustomerSummary, CustomerMonthSummary, MonthActivity):
        model.objects.filter(shop=shop).delete()
    with caplog.at_level(logging.INFO, logger="commerce.services.summaries"):
        summaries_rebuild(shop=shop)
    assert "takes the SQL path" in caplog.text
    assert CustomerSummary.objects.get(shop=shop).net_revenue == 3 * total
    assert CustomerMonthSummary.objects.get(shop=shop).net_revenue == 3 * total


def test_binary_copy_round_trips_numerics_dates_timestamps_and_nulls():
    values = np.array([0, 1, -1, 999, 1000, -1001, 123_456_789, 10**15 + 7, -(10**15) - 7,
                       2**63 - 1, -(2**63) + 1], dtype=np.int64)
    days = np.arange(values.size, dtype=np.int32) * 400 - 3000
    micros = np.arange(values.size, dtype=np.int64) * 86_400_000_123 - 10**15
    present = np.arange(values.size) % 3 != 1
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE copy_round_trip (n numeric(20, 3), d date, t timestamptz, c text, i int4)")
        summary_arrays.copy_in(cur, "copy_round_trip", ("n", "d", "t", "c", "i"), [
            ("numeric", values), ("date", days, present), ("timestamptz", micros, ~present), ("text", b"EUR"),
            ("int4", np.arange(values.size, dtype=np.int32))], values.size)
        cur.execute("SELECT n, d, t, c FROM copy_round_trip ORDER BY i")
        rows = cur.fetchall()
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    assert rows == [
        (Decimal(int(v)) / 1000, dt.date(2000, 1, 1) + dt.timedelta(days=int(d)) if p else None,
         None if p else epoch + dt.timedelta(microseconds=int(m)), "EUR")
        for v, d, m, p in zip(values, days, micros, present, strict=True)]


def test_binary_copy_encoding_spans_chunks(monkeypatch):
    monkeypatch.setattr(summary_arrays, "CHUNK_ROWS", 7)
    values = np.arange(-50, 50, dtype=np.int64) * 12_345
    present = values % 3 != 0
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE copy_chunks (n numeric(20, 3), k int8)")
        summary_arrays.copy_in(cur, "copy_chunks", ("n", "k"), [("numeric", values), ("int8", values, present)],
                               values.size)
        data = summary_arrays.copy_out(cur, "COPY (SELECT (n * 1000)::bigint, coalesce(k, 0) FROM copy_chunks) "
                                            "TO STDOUT BINARY")
    parsed = summary_arrays.parse_rows(data, [("n", "int8"), ("k", "int8")])
    assert parsed["n"].tolist() == values.tolist()
    assert parsed["k"].tolist() == np.where(present, values, 0).tolist()


def test_parse_rows_refuses_variable_width_rows():
    with connection.cursor() as cur:
        data = summary_arrays.copy_out(cur, "COPY (SELECT 1::int8, 2.5::numeric) TO STDOUT BINARY")
    with pytest.raises(ValueError, match="unexpected COPY row layout"):
        summary_arrays.parse_rows(data, [("a", "int8"), ("b", "int8")])


def test_month_starts_follow_the_shop_time_zone():
    months, bounds = summary_arrays.month_starts(
        "Europe/Berlin", dt.datetime(2026, 1, 31, 23, 30, tzinfo=dt.UTC), dt.datetime(2026, 4, 2, tzinfo=dt.UTC))
    # 23:30 UTC on 31 January is already February in Berlin; April begins at 22:00 UTC (summer time)
    assert months == [dt.date(2026, 2, 1), dt.date(2026, 3, 1), dt.date(2026, 4, 1)]
    epoch = summary_arrays.PG_EPOCH
    assert [epoch + dt.timedelta(microseconds=int(b)) for b in bounds] == [
        dt.datetime(2026, 1, 31, 23, tzinfo=dt.UTC), dt.datetime(2026, 2, 28, 23, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 31, 22, tzinfo=dt.UTC)]
    with pytest.raises(summary_arrays.UnusualTimeZone):
        summary_arrays.month_starts("America/Havana", dt.datetime(2026, 10, 20, tzinfo=dt.UTC),
                                    dt.datetime(2026, 11, 20, tzinfo=dt.UTC))


def test_aggregate_refuses_orders_out_of_order():
    orders = {"customer": np.array([2, 1]), "at": np.array([0, 0]), "net": np.array([1, 1]),
              "refunded": np.array([0, 0])}
    with pytest.raises(ValueError, match="order"):
        summary_arrays.aggregate(orders, [dt.date(2000, 1, 1)], np.array([0]))


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_stored_rows_are_read_on_a_second_connection(shop, monkeypatch):
    # The benchmark's configuration: the stored rows come from the report-read pool's connection while
    # this one reads the orders; a repair then finds nothing to write.
    threads = []
    read_stored = summaries._read_stored

    def spy(s):
        import threading
        threads.append(threading.current_thread().name)
        return read_stored(s)

    monkeypatch.setattr(summaries, "_read_stored", spy)
    _orders(shop, random.Random(5), count=200, start=dt.datetime(2025, 3, 1, tzinfo=dt.UTC), days=200,
            customers=list(range(1, 25)))
    incremental = _snapshot(shop)
    for model in (CustomerSummary, CustomerMonthSummary, MonthActivity):
        model.objects.filter(shop=shop).delete()
    assert summaries_rebuild(shop=shop).written == sum(len(rows) for rows in incremental)
    assert _snapshot(shop) == incremental
    CustomerMonthSummary.objects.filter(shop=shop).order_by("id").first().delete()
    assert summaries_rebuild(shop=shop).written == 1
    assert summaries_rebuild(shop=shop).written == 0
    assert _snapshot(shop) == incremental
    assert threads and all(name.startswith("report-read") for name in threads)


def test_io_reader_hands_out_chunks_in_any_size():
    reader = summary_arrays.ChunkReader(iter([b"abc", b"", b"defg"]))
    out = io.BytesIO()
    while piece := reader.read(2):
        out.write(piece)
    assert out.getvalue() == b"abcdefg"
