"""gunicorn settings of the web process (Procfile: `gunicorn -c gunicorn.conf.py retention_app.wsgi:application`).

Environment: PORT (8000), WEB_CONCURRENCY (worker processes, 2), WEB_THREADS (threads per worker, 4),
GUNICORN_BIND (overrides 0.0.0.0:$PORT), GUNICORN_ACCESS_LOG ("-" = stdout, the default; empty = off).
Command-line flags still override this file.

Measured on the 2-core machine (docs/benchmarks.md, webhook intake): 2 workers x 4 threads. One process
per core keeps both cores busy without more processes than cores fighting for them; threads let a worker
overlap its requests' database and Redis round trips and keep serving webhooks (about 1 ms of CPU each)
while another thread renders a slow report page. More processes than cores made the tail worse here.
"""
import os
import sys
import threading
from concurrent.futures import wait

bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
timeout = 30
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None

# Import the app (retention_app.wsgi: Django set up, URLconf, templates, catalogues loaded, then
# gc.freeze()) once in the master, before forking: every worker starts warm, so no request pays for
# cold imports, and workers share those memory pages. A worker that dies is replaced by a fork that is
# ready at once. The price: new code needs a restart of the master (a deploy restarts the dyno anyway),
# not just `kill -HUP`. wsgi.py opens no database or broker connection, so no socket is shared by forks.
preload_app = True


def _warm_connections(worker) -> None:
    """Open, in every thread that will serve requests, its own database connection (Django's connections
    are per thread) and the worker's broker connection, so the first requests do not pay for connecting
    (a PostgreSQL connection costs ~10 ms to open and a new backend's first queries more). Never fails the
    worker: a database or broker that is down now is connected to by the first request, as before."""
    from django.db import connection

    from retention_app.celery import app as celery_app

    def open_database() -> None:
        try:
            connection.ensure_connection()
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as exc:  # down or unreachable: the first request will connect (or fail) itself
            worker.log.warning("warm-up: no database connection (%s)", exc)

    def open_broker() -> None:
        try:
            with celery_app.producer_or_acquire() as producer:  # the pooled connection process_webhook uses
                producer.connection.ensure_connection(max_retries=1)
                # The first publish on a connection declares the webhooks queue: a Redis round trip.
                producer.maybe_declare(celery_app.amqp.queues["webhooks"])
        except Exception as exc:  # the intake never needs the broker to answer: the sweeper covers it
            worker.log.warning("warm-up: no broker connection (%s)", exc)

    pool = getattr(worker, "tpool", None)  # the gthread worker's request threads
    if pool is None:  # the sync worker serves requests in this very thread
        open_database()
        open_broker()
        return
    count = worker.cfg.threads
    barrier = threading.Barrier(count)

    def in_each_thread() -> None:
        # The barrier holds every task until `count` threads run one each, so the executor starts all its
        # threads and each opens its own connection (an idle thread would otherwise take a second task).
        try:
            barrier.wait(timeout=5)
        except threading.BrokenBarrierError:
            pass
        open_database()

    futures = [pool.submit(in_each_thread) for _ in range(count)]
    futures.append(pool.submit(open_broker))
    wait(futures, timeout=10)  # bounded: a hung connect must not keep the worker from serving


def post_worker_init(worker) -> None:
    # A thread waiting for the GIL gets it when the holder blocks on I/O or, if the holder keeps computing
    # (rendering a report page, parsing a big order), only after the switch interval: 5 ms by default,
    # paid again at every hand-over. A webhook ready to answer then waits behind it; at 1 ms it waits
    # less. Measured at 200 webhooks/s: p99 4.9 and 9.1 ms against 7.0 and 25.4 ms with the default, at
    # the same CPU load (docs/benchmarks.md). The cost is more frequent switching, not measurable here.
    sys.setswitchinterval(0.001)
    _warm_connections(worker)
