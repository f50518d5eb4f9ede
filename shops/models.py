"""The tenant. Every other row of every app belongs to a Shop (through ShopScopedModel)."""
from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models

SHOP_DOMAIN_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$")


def validate_shop_domain(value: str) -> None:
    if not SHOP_DOMAIN_RE.match(value or ""):
        raise ValidationError("%(value)s is not a myshopify.com shop domain", params={"value": value})


class ShopQuerySet(models.QuerySet):
    def installed(self) -> ShopQuerySet:
        return self.filter(uninstalled_at__isnull=True, installed_at__isnull=False)


class Shop(models.Model):
    domain = models.CharField(max_length=255, unique=True, validators=[validate_shop_domain])
    shopify_gid = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=255, blank=True)
    email = models.EmailField(blank=True)
    currency = models.CharField(max_length=3, default="USD")
    iana_timezone = models.CharField(max_length=64, default="UTC")
    primary_locale = models.CharField(max_length=16, default="en")
    country_code = models.CharField(max_length=2, blank=True)
    plan_name = models.CharField(max_length=64, blank=True)

    # Offline token, encrypted at rest (core.crypto). Shopify's offline tokens expire after an hour
    # and the refresh token rotates on every use (shopify-protocols.md 1.2).
    access_token_encrypted = models.TextField(blank=True)
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_token_encrypted = models.TextField(blank=True)
    refresh_token_expires_at = models.DateTimeField(null=True, blank=True)
    scopes = models.TextField(blank=True, help_text="Comma-separated scopes Shopify granted.")

    installed_at = models.DateTimeField(null=True, blank=True)
    uninstalled_at = models.DateTimeField(null=True, blank=True)
    # Set when shop/redact erased the shop's data; a later reinstall starts clean.
    redacted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ShopQuerySet.as_manager()

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    @property
    def store_name(self) -> str:
        return self.domain.split(".", 1)[0]

    @property
    def is_installed(self) -> bool:
        return self.installed_at is not None and self.uninstalled_at is None

    @property
    def granted_scopes(self) -> set[str]:
        return {s.strip() for s in self.scopes.split(",") if s.strip()}


class ShopScopedQuerySet(models.QuerySet):
    def for_shop(self, shop: Shop):
        return self.filter(shop=shop)


class ShopScopedModel(models.Model):
    """Base of every tenant-owned model: look rows up by (shop, id), never by a bare id."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        abstract = True


class OAuthState(models.Model):
    """A one-time `state` nonce of an OAuth install; consumed (deleted) by the callback.

    Bound to the shop it was issued for and short-lived (`expires_at`): the callback accepts it once,
    for that shop, before it expires (shops.services.install.oauth_state_consume).
    """

    shop_domain = models.CharField(max_length=255)
    nonce = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"OAuth state for {self.shop_domain}"
