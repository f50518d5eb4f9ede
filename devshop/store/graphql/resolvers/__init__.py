"""Resolvers of the store's part of the Admin API, one module per domain; each registers on import."""
