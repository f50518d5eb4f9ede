"""Celery beat entries of loyalty (for retention_app.celery to merge into CELERY_BEAT_SCHEDULE)."""
from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Maturing points, expiry, birthdays and anniversaries (keys carry the year), tier ends, code expiry.
    "loyalty-maintenance-all-shops": {
        "task": "loyalty.tasks.maintenance_all_shops",
        "schedule": crontab(minute=15),
        "options": {"queue": "default"},
    },
    "loyalty-ledger-reconcile": {
        "task": "loyalty.tasks.ledger_reconcile_all_shops",
        "schedule": crontab(minute=45, hour=3),
        "options": {"queue": "default"},
    },
}
