"""Streaming a bulk JSONL result: __parentId children, bounded memory, exact resume points."""
import tracemalloc

import pytest

from commerce.services.bulk_jsonl import iter_byte_lines, read_customers, read_orders

from .bulk_files import write_customers, write_orders


def _chunks(path, size=64 * 1024):
    with path.open("rb") as fh:
        while chunk := fh.read(size):
            yield chunk


@pytest.mark.parametrize("grouped", [True, False])
def test_orders_get_their_parent_id_children(tmp_path, grouped):
    path = write_orders(tmp_path / "orders.jsonl", 1000, customers=50, grouped=grouped)
    orders, loose = {}, []
    for batch in read_orders(iter_byte_lines(_chunks(path, 777)), batch_size=100):
        for o in batch.orders:
            orders[o.shopify_id] = o
        loose.extend(batch.loose_line_items)
    assert len(orders) == 1000
    lines = sum(len(o.line_items) for o in orders.values()) + len(loose)
    with path.open("rb") as fh:
        assert lines == sum(1 for raw in fh if b"__parentId" in raw)
    if grouped:
        assert not loose and all(o.line_items for o in orders.values())
    assert all(li.order_shopify_id in orders for li in loose)


def test_resume_points_cover_every_line_exactly(tmp_path):
    path = write_orders(tmp_path / "orders.jsonl", 500, customers=20)
    batches = list(read_orders(iter_byte_lines(_chunks(path)), batch_size=64))
    # Resuming after any batch yields exactly the orders not yet handed out (the open one repeats at most).
    for cut in range(len(batches)):
        done = batches[cut].lines_done
        before = {o.shopify_id for b in batches[: cut + 1] for o in b.orders}
        after = {o.shopify_id for b in read_orders(iter_byte_lines(_chunks(path)), batch_size=64, skip_lines=done)
                 for o in b.orders}
        assert before | after == {o.shopify_id for b in batches for o in b.orders}
        assert sum(b.records_read for b in batches[: cut + 1]) + sum(
            b.records_read for b in read_orders(iter_byte_lines(_chunks(path)), batch_size=64, skip_lines=done)
        ) == 500


def test_memory_is_flat_in_the_file_size(tmp_path):
    def peak(count: int) -> int:
        path = write_orders(tmp_path / f"o{count}.jsonl", count, customers=1000)
        tracemalloc.start()
        try:
            for _batch in read_orders(iter_byte_lines(_chunks(path)), batch_size=200):
                pass
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(2_000), peak(20_000)
    # Ten times the orders, about the same peak (one batch + one chunk): far from proportional.
    assert large < small * 1.5, (small, large)


def test_customers(tmp_path):
    path = write_customers(tmp_path / "c.jsonl", 250)
    batches = list(read_customers(iter_byte_lines(_chunks(path)), batch_size=100))
    assert [len(b.customers) for b in batches] == [100, 100, 50]
    assert batches[-1].lines_done == 250
    assert sum(1 for c in (c for b in batches for c in b.customers) if c.birth_date) == 84
