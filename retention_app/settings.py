"""Settings, all from the environment (12-factor). Defaults are the safe production ones;
`.env.example` documents every variable and the demo/tests set what they need.
"""
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (os.environ.get(name, default) or "").split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env("DJANGO_SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set (see .env.example).")
    SECRET_KEY = "insecure-debug-only-key"  # noqa: S105 - only ever used with DEBUG=1

# The public URL Shopify loads the app from (shopify.app.toml application_url).
SHOPIFY_APP_URL = (env("SHOPIFY_APP_URL", "https://retention.example.com") or "").rstrip("/")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS") or [SHOPIFY_APP_URL.split("://", 1)[-1].split("/")[0].split(":")[0]]
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS") or [SHOPIFY_APP_URL]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "core",
    "shops",
    "shopify_sync",
    "commerce",
    "discounts",
    "loyalty",
    "referrals",
    "campaigns",
    "reports",
    "storefront",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "shops.middleware.ShopifyLocaleMiddleware",
    # Everything is DENY by default; embedded pages opt out and send
    # `Content-Security-Policy: frame-ancestors https://{shop} https://admin.shopify.com` instead.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "retention_app.urls"
WSGI_APPLICATION = "retention_app.wsgi.application"
ASGI_APPLICATION = "retention_app.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "shops.context_processors.shopify",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/retention"),
        conn_max_age=int(env("DB_CONN_MAX_AGE", "60") or 60),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Database connections one report request may use at once for its independent reads (core.concurrency);
# 1 reads everything on the request's own connection.
REPORT_READ_THREADS = int(env("REPORT_READ_THREADS", "2") or 2)

REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
if env_bool("EMBEDDED_FALLBACK", False):
    # No Redis reachable (demo fallback): an in-process cache, tasks run in-process.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Internationalisation: the admin follows Shopify's `locale`, the storefront its own locale.
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"  # stored in UTC; reports compute in the shop's IANA zone
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("de", _("German")),
    ("sv", _("Swedish")),
    ("et", _("Estonian")),
    ("el", _("Greek")),
    ("mk", _("Macedonian")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env(
            "STATICFILES_STORAGE", "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Shopify
SHOPIFY_API_KEY = env("SHOPIFY_API_KEY", "") or ""
SHOPIFY_API_SECRET = env("SHOPIFY_API_SECRET", "") or ""
# During a secret rotation Shopify signs with the new secret while old requests may still arrive.
SHOPIFY_API_SECRET_OLD = env("SHOPIFY_API_SECRET_OLD", "") or ""
SHOPIFY_API_VERSION = env("SHOPIFY_API_VERSION", "2026-10")
SHOPIFY_SCOPES = env_list(
    "SHOPIFY_SCOPES",
    "read_customers,write_customers,read_orders,read_all_orders,read_discounts,write_discounts,"
    "read_products,write_app_proxy,read_store_credit_accounts,write_store_credit_account_transactions",
)
# Where a shop's URLs live. Production: https://{shop}. The local development store:
# http://127.0.0.1:8001/store/{shop}. Every shop URL (API calls and browser redirects) is built from it.
SHOPIFY_BASE_URL = env("SHOPIFY_BASE_URL", "https://{shop}")
# Where the merchant sees the embedded app inside the Shopify admin.
SHOPIFY_ADMIN_APP_URL = env(
    "SHOPIFY_ADMIN_APP_URL", "https://admin.shopify.com/store/{store_name}/apps/{api_key}"
)
SHOPIFY_APP_BRIDGE_URL = env("SHOPIFY_APP_BRIDGE_URL", "https://cdn.shopify.com/shopifycloud/app-bridge.js")
# Oldest OAuth/app-proxy request timestamp we accept (replay protection); Shopify's JS library uses 90 s.
SHOPIFY_HMAC_MAX_AGE_SECONDS = int(env("SHOPIFY_HMAC_MAX_AGE_SECONDS", "90") or 90)
SHOPIFY_HTTP_TIMEOUT_SECONDS = float(env("SHOPIFY_HTTP_TIMEOUT_SECONDS", "30") or 30)
SHOPIFY_APP_PROXY_PREFIX = env("SHOPIFY_APP_PROXY_PREFIX", "/apps/loyalty")

# Fernet keys (comma-separated, newest first) that encrypt Shopify tokens at rest.
TOKEN_ENCRYPTION_KEYS = env_list("TOKEN_ENCRYPTION_KEYS")
if not TOKEN_ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured("TOKEN_ENCRYPTION_KEYS must be set (see .env.example).")

# --- Celery: separate queues so a long backfill never delays a webhook.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_SOFT_TIME_LIMIT = 600
CELERY_TASK_TIME_LIMIT = 660
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ROUTES = {
    "shopify_sync.tasks.process_webhook*": {"queue": "webhooks"},
    "shopify_sync.tasks.sweep_*": {"queue": "webhooks"},
    "shopify_sync.tasks.*": {"queue": "sync"},
    "shops.tasks.*": {"queue": "sync"},
    "commerce.tasks.*": {"queue": "sync"},
    "reports.tasks.*": {"queue": "reports"},
    "loyalty.tasks.*": {"queue": "default"},
    "campaigns.tasks.send_*": {"queue": "mail"},
    "referrals.tasks.send_*": {"queue": "mail"},
    "loyalty.tasks.send_*": {"queue": "mail"},
    "campaigns.tasks.*": {"queue": "default"},
}
CELERY_QUEUES_ALL = "webhooks,sync,reports,mail,default"
CELERY_BEAT_SCHEDULE: dict = {  # more entries are merged in by retention_app.celery from each app's schedule
    # Re-enqueue stored webhook deliveries nobody processed (broker down, worker crash); purge old ones.
    "shopify-sync-sweep-webhook-inbox": {
        "task": "shopify_sync.tasks.sweep_webhook_inbox",
        "schedule": 60,
        "options": {"queue": "webhooks"},
    },
    # Refit every shop's predicted-value model once a day (seconds, so settings need no celery import);
    # a fit also runs after each backfill (reports.services.clv_fit_request).
    "reports-clv-fit-all-shops": {
        "task": "reports.tasks.clv_fit_all_shops",
        "schedule": 60 * 60 * 24,
        "options": {"queue": "reports"},
    },
    # Campaigns: every quarter hour each shop runs what is due in its own time zone (runs are unique per
    # shop-local day, so repeats are harmless); the sweep resumes code batches and e-mails a lost task left.
    "campaigns-tick": {"task": "campaigns.tasks.campaigns_tick", "schedule": 15 * 60, "options": {"queue": "default"}},
    "campaigns-sweep": {"task": "campaigns.tasks.campaigns_sweep", "schedule": 5 * 60, "options": {"queue": "default"}},
}

# --- E-mail (SMTP in production; the demo and tests use a local SMTP server)
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(env("EMAIL_PORT", "25") or 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "loyalty@retention.example.com")

# --- Security (production defaults; the demo relaxes what plain-HTTP localhost needs)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000") or 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
# The app lives in Shopify's admin iframe: its cookies are third-party and need SameSite=None; Secure.
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SAMESITE = "None" if CSRF_COOKIE_SECURE else "Lax"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}
