"""The backfill's fast path (bulk JSONL -> COPY text, services.bulk_rows) writes exactly the rows of the
record path (commerce.shapes -> orders_upsert), awkward values included; its batches resume exactly;
the reader thread hands over errors and stops when the writer stops."""
import datetime as dt
import threading
from decimal import Decimal

import orjson
import pytest

from commerce.services.bulk_jsonl import (
    iter_byte_lines,
    prefetched,
    read_customer_copy_batches,
    read_customers,
    read_order_copy_batches,
    read_orders,
)
from commerce.services.summaries import summaries_rebuild
from commerce.services.upsert import (
    customers_upsert,
    customers_upsert_copy,
    orders_upsert,
    orders_upsert_copy,
)
from commerce.shapes import ShapeError

from .bulk_files import write_orders
from .payloads import BIG_ID, customer_facts, graphql_customer, graphql_line, graphql_order, order_facts

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 5, 9, 0, tzinfo=dt.UTC)
# Everything COPY's text format treats specially, a quote for the array literals, non-ASCII, and a
# backslash right at the 64/255-character cuts (cutting after escaping would split an escape).
NASTY = 'Tab\there, new\nline, cr\r, back\\slash, "quoted", \\N, Grüße ✓'


@pytest.fixture
def twin_shop(shop):
    """Another shop with `shop`'s currency and time zone, so summaries compare equal."""
    from shops.models import Shop

    return Shop.objects.create(domain="twin-shop.myshopify.com", currency=shop.currency,
                               iana_timezone=shop.iana_timezone, installed_at=shop.installed_at,
                               scopes=shop.scopes)


def _bulk_lines(orders_facts) -> bytes:
    out = []
    for facts in orders_facts:
        out.append(orjson.dumps(graphql_order(facts, with_lines=False)))
        for li in facts["lines"]:
            child = graphql_line(li)
            child["__parentId"] = f"gid://shopify/Order/{facts['id']}"
            out.append(orjson.dumps(child))
    return b"\n".join(out) + b"\n"


def _awkward_orders():
    line = {"id": BIG_ID + 100, "product_id": BIG_ID + 200, "variant_id": None, "title": NASTY,
            "sku": "x" * 254 + "\\y", "quantity": 3, "price": Decimal("12.505"), "discount": Decimal("0")}
    return [
        order_facts(name="#1\t" + "n" * 61 + "\\x", email=NASTY, landing_site=NASTY, referring_site=None,
                    discount_codes=['SAVE"15', "back\\slash", "tab\tcode"], lines=[line],
                    refunds=[{"id": BIG_ID + 50, "created_at": T0, "amount": Decimal("20.00")},
                             {"id": BIG_ID + 51, "created_at": T0 + dt.timedelta(days=1), "amount": Decimal("1.5")}]),
        # A guest order, cancelled, with an empty discount list and no lines.
        order_facts(id=BIG_ID + 1, name="#1002", customer_id=None, cancelled_at=T0, cancel_reason="customer",
                    discount_codes=[], lines=[], fulfillment_status="fulfilled"),
        # A test order in another presentment currency, prices with tax, two lines (one a gift card).
        order_facts(id=BIG_ID + 2, name="#1003", test=True, presentment_currency="SEK", taxes_included=True,
                    lines=[dict(line, id=BIG_ID + 101, title="Mug", sku="", gift_card=True),
                           dict(line, id=BIG_ID + 102, title="", sku="S", quantity=1)]),
    ]


def test_orders_copy_path_writes_the_record_paths_rows(shop, twin_shop, order_rows):
    facts = _awkward_orders()
    data = _bulk_lines(facts)
    # given the record path (what reconcile and the old backfill did) for one shop
    for batch in read_orders(iter_byte_lines([data]), batch_size=2):
        orders_upsert(shop=shop, orders=batch.orders, line_items=batch.loose_line_items)
    # when the copy path loads the same file for the other, in batches that split an order from its lines
    for batch in read_order_copy_batches(iter_byte_lines([data]), batch_size=1):
        orders_upsert_copy(shop=twin_shop, batch=batch)
    summaries_rebuild(shop=twin_shop)
    # then
    assert order_rows(twin_shop) == order_rows(shop)
    rows = order_rows(shop)
    assert len(rows["Order"]) == 3 and len(rows["OrderLineItem"]) == 3 and len(rows["Refund"]) == 2
    assert sorted(r[-1] for r in rows["Order"]) == [False, False, True]  # taxes_included
    assert sorted(r[-1] for r in rows["OrderLineItem"]) == [False, False, True]  # gift_card


def test_customers_copy_path_writes_the_record_paths_rows(shop, twin_shop, order_rows):
    nodes = [
        graphql_customer(customer_facts(first_name=NASTY, last_name="L" * 300, tags=["vip", 'a"b', "c\\d"])),
        graphql_customer(customer_facts(id=BIG_ID + 2, email="", birth_date=None, tags=[], phone="")),
    ]
    odd = graphql_customer(customer_facts(id=BIG_ID + 3))
    odd["birthDate"] = {"value": "not a date"}  # a merchant-typed metafield: no birthday
    del nodes[1]["birthDate"]  # says nothing about the birthday
    nodes.append(odd)
    data = b"\n".join(orjson.dumps(n) for n in nodes) + b"\n"
    for batch in read_customers(iter_byte_lines([data]), batch_size=2):
        customers_upsert(shop=shop, records=batch.customers)
    for batch in read_customer_copy_batches(iter_byte_lines([data]), batch_size=2):
        customers_upsert_copy(shop=twin_shop, batch=batch)
    assert order_rows(twin_shop)["Customer"] == order_rows(shop)["Customer"]


def test_a_missing_required_value_is_refused(shop):
    node = graphql_order(order_facts(), with_lines=False)
    node["updatedAt"] = None
    with pytest.raises(ShapeError):
        list(read_order_copy_batches(iter_byte_lines([orjson.dumps(node)]), batch_size=10))
    node = graphql_order(order_facts(), with_lines=False)
    node["totalPriceSet"]["shopMoney"]["amount"] = 12.5  # money as a JSON float: never through float
    with pytest.raises(ShapeError):
        list(read_order_copy_batches(iter_byte_lines([orjson.dumps(node)]), batch_size=10))


@pytest.mark.parametrize("grouped", [True, False])
def test_copy_batches_resume_exactly(tmp_path, grouped):
    path = write_orders(tmp_path / "orders.jsonl", 500, customers=20, grouped=grouped)
    lines = path.read_bytes().splitlines()

    def batches(skip=0):
        return list(read_order_copy_batches(iter(lines), batch_size=64, skip_lines=skip))

    def rows(batch_list, field):
        return [r for b in batch_list for chunk in getattr(b, field) for r in chunk.splitlines()]

    every = batches()
    assert sum(b.records_read for b in every) == 500
    assert len(rows(every, "line_items")) == sum(1 for raw in lines if b"__parentId" in raw)
    for cut in range(len(every)):
        # a worker that committed batches 0..cut and died resumes with exactly the rest
        rest = batches(every[cut].lines_done)
        assert rows(every[: cut + 1], "orders") + rows(rest, "orders") == rows(every, "orders")
        assert rows(every[: cut + 1], "line_items") + rows(rest, "line_items") == rows(every, "line_items")


def test_prefetched_hands_over_items_and_errors():
    with prefetched(iter(range(5))) as items:
        assert list(items) == [0, 1, 2, 3, 4]

    def failing():
        yield 1
        raise ConnectionResetError("download lost")

    with pytest.raises(ConnectionResetError), prefetched(failing()) as items:
        list(items)


def test_prefetched_stops_and_closes_its_source_when_the_consumer_stops():
    closed = threading.Event()
    produced = []

    def source():
        try:
            for i in range(1000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    with prefetched(source(), depth=1) as items:
        assert next(items) == 0
    # the reader stopped a few items ahead (one queued, one being put), and closed the source
    assert closed.is_set() and len(produced) <= 4
    assert not any(t.name == "commerce-bulk-reader" for t in threading.enumerate())


def test_copy_batches_memory_is_flat_in_the_file_size(tmp_path):
    import tracemalloc

    def peak(count: int) -> int:
        path = write_orders(tmp_path / f"o{count}.jsonl", count, customers=1000)

        def chunks():
            with path.open("rb") as fh:
                while chunk := fh.read(64 * 1024):
                    yield chunk

        tracemalloc.start()
        try:
            for _batch in read_order_copy_batches(iter_byte_lines(chunks()), batch_size=200):
                pass
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(2_000), peak(20_000)
    assert large < small * 1.5, (small, large)
