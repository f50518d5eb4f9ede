"""Deterministic, fast seeding of realistic shops (see /work/shared/research/realistic-shops.md)."""
