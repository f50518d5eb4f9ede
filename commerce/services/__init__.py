"""Every write of commerce: upserts of both shapes, summaries, backfill, reconcile, webhook handlers."""
