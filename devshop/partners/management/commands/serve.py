"""`python -m devshop serve --host 127.0.0.1 --port 8001 [--threads N]`: the development store process.

One process: a threaded WSGI server (waitress when installed, else Django's threaded
WSGIServer without autoreload), the webhook delivery threads, and the store's bulk-operation
workers (`devshop.store.bulk.start_workers()` when the store provides it). SIGTERM and SIGINT stop
the server, then the workers, and exit 0.
"""
from __future__ import annotations

import importlib
import logging
import signal
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from devshop.partners.delivery import DeliveryWorker

log = logging.getLogger("devshop.serve")


class _Stop(Exception):
    pass


def _start_bulk_workers():
    """The store's hook, if it has one: `devshop.store.bulk.start_workers()` returning an object
    with `stop()` (or None)."""
    try:
        module = importlib.import_module("devshop.store.bulk")
    except ModuleNotFoundError:
        return None
    start = getattr(module, "start_workers", None)
    if start is None:
        log.info("devshop.store.bulk has no start_workers(); bulk operations run however the store runs them")
        return None
    return start()


class Command(BaseCommand):
    help = "Run the development store: threaded WSGI server, webhook delivery and bulk-operation workers."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--threads", type=int, default=8, help="WSGI worker threads")
        parser.add_argument("--delivery-threads", type=int, default=4, help="webhook delivery threads")
        parser.add_argument("--migrate", action="store_true", help="apply pending migrations instead of refusing")

    def handle(self, *args, host: str, port: int, threads: int, delivery_threads: int, migrate: bool, **options):
        self.check(display_num_errors=False)
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            if not migrate:
                raise CommandError(
                    f"{len(pending)} unapplied migrations: run `python -m devshop migrate` or pass --migrate"
                )
            call_command("migrate", verbosity=0)
        connection.close()  # the request threads open their own connections

        from devshop.wsgi import application

        worker = DeliveryWorker(threads=delivery_threads)
        worker.start()
        bulk = _start_bulk_workers()

        def stop(signum, frame):
            raise _Stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"devshop serving on http://{host}:{port} ({threads} threads)")
        self.stdout.flush()
        try:
            self._serve(application, host, port, threads)
        except _Stop:
            pass
        finally:
            worker.stop()
            if bulk is not None and hasattr(bulk, "stop"):
                bulk.stop()
            self.stdout.write("devshop stopped")
            self.stdout.flush()
        sys.exit(0)

    def _serve(self, application, host: str, port: int, threads: int) -> None:
        try:
            from waitress.server import create_server
        except ModuleNotFoundError:
            create_server = None
        if create_server is not None:
            server = create_server(application, host=host, port=port, threads=threads, ident="devshop",
                                   channel_timeout=120, connection_limit=200)
            try:
                server.run()  # returns on SystemExit/KeyboardInterrupt only; _Stop propagates
            finally:
                server.task_dispatcher.shutdown(timeout=5)  # lets running requests finish
                server.close()
            return
        from socketserver import ThreadingMixIn

        from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer

        class ThreadedServer(ThreadingMixIn, WSGIServer):
            daemon_threads = True

        httpd = ThreadedServer((host, port), WSGIRequestHandler, ipv6=False)
        httpd.set_app(application)
        try:
            httpd.serve_forever()
        finally:
            httpd.server_close()
