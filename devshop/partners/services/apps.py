"""Deploying an app configuration from shopify.app.toml, as `shopify app deploy` does."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from django.db import transaction

from ..models import App

SCOPE_RE = re.compile(r"^(read|write|unauthenticated_read|unauthenticated_write|customer_read|customer_write)_[a-z_]+$")
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
PROXY_PREFIXES = ("apps", "a", "community", "tools")


class AppConfigError(ValueError):
    pass


def parse_scopes(value: str | list[str] | None) -> list[str]:
    """`"read_orders, write_customers"` -> ["read_orders", "write_customers"], validated."""
    if value is None:
        return []
    items = value if isinstance(value, list) else value.split(",")
    scopes = [s.strip() for s in items if s.strip()]
    bad = [s for s in scopes if not SCOPE_RE.match(s)]
    if bad:
        raise AppConfigError(f"Scope undefined: {', '.join(bad)}")
    return list(dict.fromkeys(scopes))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _resolver(toml_app_url: str, app_url: str):
    """URLs in the toml are relative to application_url or absolute. When deploying with another
    application_url (a test server), absolute URLs on the toml's own origin move with it, as
    `shopify app dev` rewrites them for its tunnel."""
    toml_origin = _origin(toml_app_url) if toml_app_url else ""
    new_origin = _origin(app_url)

    def resolve(url: str) -> str:
        if not url:
            return url
        if url.startswith("/"):
            return new_origin + url
        if toml_origin and _origin(url) == toml_origin:
            return new_origin + url[len(toml_origin):]
        return url

    return resolve


@transaction.atomic
def app_register_from_toml(*, toml_path: Path, client_secret: str, application_url: str | None = None) -> App:
    """Create or update the App described by the toml; re-sync toml webhook subscriptions of every
    active installation (Shopify keeps app-specific subscriptions up to date itself).

    Raises AppConfigError for a config Shopify CLI would refuse to deploy.
    """
    config = tomllib.loads(Path(toml_path).read_text())
    client_id = config.get("client_id") or ""
    if not client_id:
        raise AppConfigError("client_id is missing from the toml")
    toml_app_url = config.get("application_url", "")
    app_url = (application_url or toml_app_url).rstrip("/")
    if not app_url:
        raise AppConfigError("application_url is missing (set it in the toml or pass --application-url)")
    resolve = _resolver(toml_app_url, app_url)

    access = config.get("access_scopes", {})
    auth = config.get("auth", {})
    webhooks = config.get("webhooks", {})
    proxy = config.get("app_proxy", {})

    subscriptions: list[dict] = []
    compliance: dict[str, str] = {}
    for entry in webhooks.get("subscriptions", []):
        uri = resolve(entry.get("uri", ""))
        if not uri:
            raise AppConfigError("a [[webhooks.subscriptions]] entry has no uri")
        for topic in entry.get("topics", []):
            subscriptions.append(
                {
                    "topic": topic,
                    "uri": uri,
                    "include_fields": list(entry.get("include_fields", [])),
                    "filter": entry.get("filter", ""),
                }
            )
        for topic in entry.get("compliance_topics", []):
            if topic not in COMPLIANCE_TOPICS:
                raise AppConfigError(f"unknown compliance topic {topic!r}")
            compliance[topic] = uri

    proxy_prefix = proxy.get("prefix", "apps") if proxy else ""
    if proxy and proxy_prefix not in PROXY_PREFIXES:
        raise AppConfigError(f"app_proxy prefix must be one of {PROXY_PREFIXES}")
    app, _ = App.objects.update_or_create(
        client_id=client_id,
        defaults={
            "client_secret": client_secret,
            "name": config.get("name", client_id),
            "handle": config.get("handle", ""),
            "application_url": app_url,
            "redirect_urls": [resolve(u) for u in auth.get("redirect_urls", [])],
            "scopes": parse_scopes(access.get("scopes", "")),
            "use_legacy_install_flow": bool(access.get("use_legacy_install_flow", False)),
            "embedded": bool(config.get("embedded", True)),
            "proxy_prefix": proxy_prefix,
            "proxy_subpath": proxy.get("subpath", ""),
            "proxy_url": resolve(proxy.get("url", "")).rstrip("/"),
            "webhooks_api_version": webhooks.get("api_version", "2026-10"),
            "compliance_uris": compliance,
            "toml_subscriptions": subscriptions,
            "toml_source": str(toml_path),
        },
    )
    from .webhooks import toml_subscriptions_sync  # the two modules build on each other

    for installation in app.installations.filter(uninstalled_at__isnull=True):
        toml_subscriptions_sync(installation=installation)
    return app
