"""Report reads run together on two connections outside a transaction, in turn inside one."""
import pytest
from django.db import connection, transaction

from core.concurrency import run_together


def _backend_pid() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return cur.fetchone()[0]


def _slow_pid() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_sleep(0.5), pg_backend_pid()")
        return cur.fetchone()[1]


@pytest.mark.django_db(transaction=True)
def test_reads_run_at_the_same_time_on_two_connections():
    import time

    run_together(_backend_pid, _backend_pid)  # the pool thread opens its connection once
    t0 = time.perf_counter()
    first, second = run_together(_slow_pid, _slow_pid)
    elapsed = time.perf_counter() - t0
    assert first != second, "a second database connection answers the second read"
    assert elapsed < 0.9, f"both 0.5 s reads overlapped ({elapsed:.2f} s; in turn they take 1 s)"
    # results come back in the order of the calls, whatever finishes first
    assert run_together(lambda: "a", lambda: "b", lambda: "c") == ["a", "b", "c"]


@pytest.mark.django_db(transaction=True)
def test_a_failing_read_raises_and_the_next_call_still_works():
    def boom():
        with connection.cursor() as cur:
            cur.execute("SELECT 1 / 0")

    with pytest.raises(Exception, match="division by zero"):
        run_together(_backend_pid, boom)
    assert len(set(run_together(_backend_pid, _backend_pid))) == 2


@pytest.mark.django_db
def test_inside_a_transaction_everything_runs_on_its_connection():
    # Another connection could not see this transaction's rows: the reads run in turn, on this one.
    with transaction.atomic():
        assert len(set(run_together(_backend_pid, _backend_pid))) == 1
