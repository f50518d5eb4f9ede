"""The WSGI application, warmed up before it serves anything.

`get_wsgi_application()` only sets Django up and loads the middleware; everything else a request needs is
loaded lazily by the first request that needs it: the URLconf and every view module it imports, compiled
templates, the translation catalogues, the static files manifest, the Celery task modules. That made the
first request of a fresh web process cost 0.4 to 1.5 s. warm_up() loads all of it here, once, at import:
under gunicorn with `preload_app` (gunicorn.conf.py) that is once in the master before it forks, so every
worker starts warm and shares those pages copy-on-write. It touches no database and no broker (a socket
opened before the fork would be shared by all workers): the per-worker connections are opened by
gunicorn.conf.py's post_worker_init hook.

Then gc.freeze(): the tens of thousands of long-lived objects of a loaded Django app (modules, classes,
functions, URL patterns, templates) move to the permanent generation, which the cyclic garbage collector
never walks again. Without it each full (gen-2) collection walks all of them and stops the process for
tens of milliseconds, in the middle of whatever requests are running: measured 25 to 40 ms, i.e. the p99
of the webhook intake. It also keeps forked workers from dirtying the shared pages by collecting them.
"""
import gc
import logging
import os
import time
from pathlib import Path

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retention_app.settings")
application = get_wsgi_application()

logger = logging.getLogger("retention_app.warmup")


def _warm_templates() -> int:
    from django.template import TemplateDoesNotExist, TemplateSyntaxError, engines

    count = 0
    for engine in engines.all():
        for directory in map(Path, engine.template_dirs):
            for path in directory.rglob("*"):
                if not path.is_file() or path.suffix not in {".html", ".txt", ".xml", ".js", ".json"}:
                    continue
                name = path.relative_to(directory).as_posix()
                try:
                    engine.get_template(name)  # compiled once and kept by the cached loader (DEBUG off)
                    count += 1
                except (TemplateDoesNotExist, TemplateSyntaxError, UnicodeDecodeError) as exc:
                    # A fragment that only compiles inside its parent: it is compiled when first used.
                    logger.debug("warm-up: template %s not precompiled (%s)", name, exc)
    return count


def _warm_i18n() -> None:
    from django.conf import settings
    from django.utils import formats, translation

    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            translation.gettext("English")  # loads and merges every catalogue of the language
            for name in ("DATE_FORMAT", "DATETIME_FORMAT", "SHORT_DATE_FORMAT", "DECIMAL_SEPARATOR",
                         "THOUSAND_SEPARATOR", "NUMBER_GROUPING", "FIRST_DAY_OF_WEEK"):
                formats.get_format(name)  # imports django.conf.locale.<code>.formats and caches the value
    translation.get_language_info(settings.LANGUAGE_CODE)


def warm_up() -> None:
    """Load, before the first request, everything requests load lazily (no database, no broker)."""
    started = time.perf_counter()
    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.urls import get_resolver, reverse

    from retention_app.celery import app as celery_app

    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018 - imports the URLconf and every view module it names
    reverse("health")  # builds the reverse-lookup tables of every namespace
    templates = _warm_templates()
    _warm_i18n()
    staticfiles_storage.base_url  # noqa: B018 - instantiates the storage (reads the manifest in production)
    celery_app.loader.import_default_modules()  # every app's tasks module (the intake sends process_webhook)
    celery_app.finalize(auto=True)
    celery_app.amqp.router  # noqa: B018 - compiles CELERY_TASK_ROUTES
    celery_app.backend  # noqa: B018 - resolves the (disabled) result backend: an entry-points scan
    with celery_app.connection_for_write() as broker:
        # Imports the broker's transport (kombu.transport.redis and redis-py: ~90 ms). Opens no socket,
        # and the producer pool is left to be created in each worker (kombu resets pools only after a
        # multiprocessing fork, not after gunicorn's).
        broker.transport  # noqa: B018
    logger.info("warm-up: %d templates, %.0f ms", templates, (time.perf_counter() - started) * 1000)


warm_up()
gc.collect()
gc.freeze()
