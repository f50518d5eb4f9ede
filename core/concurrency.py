"""Independent report reads of one request, run at the same time on two database connections.

A report page such as the metrics page asks PostgreSQL several questions that do not depend on each other
(the period, its comparison period, the activity window, the second-order gaps). One connection answers
them one after another on one core; two connections use both of this machine's cores. The reads are
read-only (reports.selectors.periods.report_cursor), so nothing about their results depends on running
them together.

The pool's threads are long-lived and keep their database connection between requests like a web
thread does (CONN_MAX_AGE and the health check apply: `close_old_connections` before each call). Inside
a transaction (a test's, or any caller's atomic block) everything runs in the calling thread: another
connection could not see that transaction's rows.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

_pool: ThreadPoolExecutor | None = None
_free: threading.BoundedSemaphore | None = None
_setup = threading.Lock()
# Set in a thread while its call runs beside another one (see running_together).
_together = threading.local()


def running_together() -> bool:
    """True inside a call that run_together runs at the same time as another call on another connection.

    Report reads use it to turn off PostgreSQL's parallel workers: two connections already keep this
    machine's two cores busy, and each query's own workers then only compete with the other read
    (measured on the 1M-order benchmark shop: the loyalty page 269 → 199 ms, metrics 191 → 177 ms; pages
    with one big read, like the segments page, stay faster with the workers: 121 against 144 ms)."""
    return getattr(_together, "on", False)


def _beside_another(call: Callable[[], Any]) -> Any:
    previous = running_together()
    _together.on = True
    try:
        return call()
    finally:
        _together.on = previous


def _executor() -> tuple[ThreadPoolExecutor, threading.BoundedSemaphore]:
    global _pool, _free
    with _setup:
        if _pool is None:
            size = max(1, settings.REPORT_READ_THREADS - 1)
            _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="report-read")
            _free = threading.BoundedSemaphore(size)
    return _pool, _free


def _in_pool_thread(call: Callable[[], Any]) -> Any:
    close_old_connections()
    try:
        return _beside_another(call)
    except Exception:
        # The connection may be in an unknown state: drop it rather than hand it to the next call.
        connection.close()
        raise


def run_together(*calls: Callable[[], Any], other_connection_sees_enough: bool = False) -> list[Any]:
    """Call each zero-argument function and return their results in order; the first runs in this
    thread, the others in the pool at the same time when a pool thread is free (otherwise in this
    thread after the first: a busy process does not queue requests behind each other's reads).
    Exceptions propagate.

    Inside an atomic block everything runs in this thread, unless the caller says another connection
    sees everything its calls read (`other_connection_sees_enough`: its transaction has written none of
    it, e.g. commerce's summary rebuild, which only holds a lock when it reads)."""
    if (len(calls) < 2 or settings.REPORT_READ_THREADS < 2
            or (connection.in_atomic_block and not other_connection_sees_enough)):
        return [call() for call in calls]
    pool, free = _executor()
    pending: list[Future | Callable[[], Any]] = []
    for call in calls[1:]:
        if free.acquire(blocking=False):
            future = pool.submit(_in_pool_thread, call)
            future.add_done_callback(lambda _f: free.release())
            pending.append(future)
        else:
            pending.append(call)
    try:
        submitted = any(isinstance(item, Future) for item in pending)
        first = _beside_another(calls[0]) if submitted else calls[0]()
    finally:
        # Wait for every submitted read, even when the first failed, so none outlives the request.
        results = [item.result() if isinstance(item, Future) else None for item in pending]
    return [first, *[item() if not isinstance(item, Future) else result
                     for item, result in zip(pending, results, strict=True)]]


def shutdown() -> None:
    """Close the pool threads' database connections and stop the threads (test teardown, before the
    test database is dropped)."""
    global _pool, _free
    with _setup:
        pool, _pool, _free = _pool, None, None
    if pool is not None:
        for _ in range(pool._max_workers):  # noqa: SLF001 - one close per thread the pool may have started
            pool.submit(lambda: connection.close()).result()  # resolved in the pool thread: its own connection
        pool.shutdown(wait=True)
