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


def _parallel_workers() -> str:
    from reports.selectors.periods import report_cursor

    with report_cursor() as cur:
        cur.execute("SHOW max_parallel_workers_per_gather")
        return cur.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_reads_side_by_side_leave_parallel_workers_to_the_other_read():
    # Two connections already use both cores: each report read then runs without parallel workers. A read
    # on its own keeps them (the segments page's one big aggregate is faster with them).
    default = _parallel_workers()
    assert default != "0"
    assert run_together(_parallel_workers, _parallel_workers) == ["0", "0"]
    assert _parallel_workers() == default, "the setting ends with the read's transaction and the call"
    with transaction.atomic():  # in turn on one connection: nothing runs beside it
        assert run_together(_parallel_workers, _parallel_workers) == [default, default]
