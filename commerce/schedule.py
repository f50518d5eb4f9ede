"""Celery beat entries of commerce (for retention_app.celery to merge into CELERY_BEAT_SCHEDULE)."""
from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Repair what webhooks missed; each shop's run reads only what changed since its last good sync.
    "commerce-reconcile-all-shops": {
        "task": "commerce.tasks.reconcile_all_shops",
        "schedule": crontab(minute="*/30"),
        "options": {"queue": "sync"},
    },
}
