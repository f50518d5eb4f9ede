"""Test settings: the production settings with test credentials, PostgreSQL and Redis.

The suite runs against real PostgreSQL (DATABASE_URL) and Redis (REDIS_URL), like production.
"""
import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("TOKEN_ENCRYPTION_KEYS", "Ii-2NZS8tNsXjfxyf7pVMzZl02aznTruiR4ksShYryg=")
os.environ.setdefault("SHOPIFY_API_KEY", "test-api-key")
os.environ.setdefault("SHOPIFY_API_SECRET", "test-api-secret-0123456789abcdef0123456789")
os.environ.setdefault("SHOPIFY_APP_URL", "http://testserver")
os.environ.setdefault("SHOPIFY_BASE_URL", "http://127.0.0.1:1/store/{shop}")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SECURE_COOKIES", "0")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
os.environ.setdefault("ALLOWED_HOSTS", "*")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/retention")

from retention_app.settings import *  # noqa: E402,F403

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CELERY_TASK_ALWAYS_EAGER = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# WhiteNoise serves from STATIC_ROOT; give the tests an existing (empty) one and let it find app files.
STATIC_ROOT = BASE_DIR / "var" / "test-static"  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
