import importlib
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retention_app.settings")

app = Celery("retention_app")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def merge_app_schedules(sender: Celery, **_kwargs) -> None:
    """Each app keeps its periodic tasks beside its tasks, in `<app>/schedule.py` (BEAT_SCHEDULE), the way
    autodiscover finds `<app>/tasks.py`; settings.CELERY_BEAT_SCHEDULE holds the project-wide ones."""
    from django.conf import settings

    for app_name in settings.INSTALLED_APPS:
        try:
            module = importlib.import_module(f"{app_name}.schedule")
        except ModuleNotFoundError as exc:
            if exc.name != f"{app_name}.schedule":
                raise
            continue
        sender.conf.beat_schedule.update(getattr(module, "BEAT_SCHEDULE", {}))
