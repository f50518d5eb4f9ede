"""Bulk operations: a bulk query compiled once to SQL that builds each JSONL line inside PostgreSQL."""
