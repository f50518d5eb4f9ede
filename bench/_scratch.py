"""What the gunicorn benchmarks share: a fresh scratch database and the web process's environment."""
from __future__ import annotations

import os

import psycopg2


def scratch_database(name: str) -> None:
    """Drop and create `name` on the local PostgreSQL."""
    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def app_env(database: str, *, api_key: str, secret: str, **extra: str) -> dict[str, str]:
    """Production settings pointed at the scratch database and Redis db 9, plain HTTP, quiet logs."""
    from cryptography.fernet import Fernet

    return {
        **os.environ, "DJANGO_SETTINGS_MODULE": "retention_app.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}", "REDIS_URL": "redis://127.0.0.1:6379/9",
        "DJANGO_SECRET_KEY": "bench", "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SHOPIFY_API_KEY": api_key, "SHOPIFY_API_SECRET": secret, "SHOPIFY_APP_URL": "http://127.0.0.1",
        "ALLOWED_HOSTS": "*", "SECURE_SSL_REDIRECT": "0", "SECURE_HSTS_SECONDS": "0", "SECURE_COOKIES": "0",
        "STATICFILES_STORAGE": "django.contrib.staticfiles.storage.StaticFilesStorage", "LOG_LEVEL": "WARNING",
        **extra,
    }
