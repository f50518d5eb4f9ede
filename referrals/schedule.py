"""Celery beat entries of referrals (merged into CELERY_BEAT_SCHEDULE by retention_app.celery)."""
from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Holding periods end at any minute; an hourly pass rewards within the hour and retries unconfirmed codes.
    "referrals-rewards-due-all-shops": {
        "task": "referrals.tasks.rewards_due_all_shops",
        "schedule": crontab(minute=25),
        "options": {"queue": "default"},
    },
}
