"""Settings of the local Shopify development store (devshop).

devshop is its own process with its own database. The retention app never imports it and
reaches it only over HTTP through its SHOPIFY_BASE_URL setting. It is a development and test
tool: it is not part of the production deployment and its settings are deliberately permissive.
"""
import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent

SECRET_KEY = os.environ.get("DEVSHOP_SECRET_KEY", "devshop-local-only-not-a-secret")
DEBUG = os.environ.get("DEVSHOP_DEBUG", "0") == "1"
ALLOWED_HOSTS = ["*"]

# Public base URL of this devshop as the browser and the app see it, e.g. http://127.0.0.1:8001
DEVSHOP_PUBLIC_URL = os.environ.get("DEVSHOP_PUBLIC_URL", "http://127.0.0.1:8001").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "devshop.store",
    "devshop.partners",
]

MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "devshop.urls"
WSGI_APPLICATION = "devshop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DEVSHOP_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/devshop"),
        conn_max_age=60,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
SESSION_COOKIE_NAME = "devshop_session"
CSRF_COOKIE_NAME = "devshop_csrftoken"

# Where bulk operation result files are written and served from.
DEVSHOP_FILES_DIR = Path(os.environ.get("DEVSHOP_FILES_DIR", PROJECT_DIR / "var" / "devshop-files"))
# Official Admin GraphQL schema the API is executed against.
DEVSHOP_SCHEMA_PATH = PROJECT_DIR / "vendor" / "shopify" / "admin_2026-10.json.gz"
DEVSHOP_API_VERSIONS = ["2026-10"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DEVSHOP_LOG_LEVEL", "INFO")},
}
