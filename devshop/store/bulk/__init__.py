"""Bulk operations: a bulk query compiled once to SQL that builds each JSONL line inside PostgreSQL."""


def start_workers():
    """Hook of `python -m devshop serve`: bulk operations left CREATED/RUNNING by a previous server
    process can never finish (their threads died with it), so they fail now, as Shopify's would with
    INTERNAL_SERVER_ERROR. Returns the pool handle whose stop() the server calls on shutdown."""
    from .runner import fail_orphans, pool_handle

    fail_orphans()
    return pool_handle()
