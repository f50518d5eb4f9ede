"""Apps, installations, tokens and webhooks of the development store: Shopify's partner side.

Secrets that Shopify shows only once (access tokens, refresh tokens, authorization codes) are
stored as SHA-256 hashes, as a real token service would: a leaked devshop database must not hand
out working tokens. The client secret is stored in clear because devshop has to sign with it.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class App(models.Model):
    """An app configuration as `shopify app deploy` would publish it from shopify.app.toml."""

    client_id = models.CharField(max_length=64, unique=True)  # also called the API key
    client_secret = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    handle = models.CharField(max_length=255, blank=True)
    application_url = models.URLField(max_length=500)
    redirect_urls = models.JSONField(default=list)  # absolute URLs, resolved at registration
    scopes = models.JSONField(default=list)  # [access_scopes] scopes, for managed installation
    use_legacy_install_flow = models.BooleanField(default=False)
    embedded = models.BooleanField(default=True)
    # [app_proxy]: the storefront path /{prefix}/{subpath}/... is forwarded to proxy_url.
    proxy_prefix = models.CharField(max_length=32, blank=True, default="apps")
    proxy_subpath = models.CharField(max_length=30, blank=True)
    proxy_url = models.URLField(max_length=500, blank=True)
    # [webhooks]
    webhooks_api_version = models.CharField(max_length=16, default="2026-10")
    compliance_uris = models.JSONField(default=dict)  # {"customers/redact": "https://..."}
    toml_subscriptions = models.JSONField(default=list)  # [{"topic", "uri", "include_fields", "filter"}]
    toml_source = models.TextField(blank=True)
    deployed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"


class StaffMember(models.Model):
    """A person who can log into one shop's admin (the account owner or a staff account)."""

    shop = models.ForeignKey("devshop_store.Shop", on_delete=models.CASCADE, related_name="staff_members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_members")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField()
    locale = models.CharField(max_length=16, default="en")
    account_owner = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "user"], name="partners_staff_shop_user_uniq")]

    def __str__(self) -> str:
        return f"{self.name} @ {self.shop_id}"

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email


class Installation(models.Model):
    """One app installed on one shop. Uninstalling keeps the row (uninstalled_at set)."""

    shop = models.ForeignKey("devshop_store.Shop", on_delete=models.CASCADE, related_name="installations")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="installations")
    granted_scopes = models.JSONField(default=list)
    installed_at = models.DateTimeField(default=timezone.now)
    uninstalled_at = models.DateTimeField(null=True, blank=True)
    # Shopify sends shop/redact 48 h after an uninstall unless the app is reinstalled meanwhile.
    shop_redact_due_at = models.DateTimeField(null=True, blank=True)
    shop_redact_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "app"], name="partners_installation_shop_app_uniq")]

    def __str__(self) -> str:
        return f"{self.app.client_id} on {self.shop_id}"

    @property
    def is_active(self) -> bool:
        return self.uninstalled_at is None

    @property
    def scopes(self) -> set[str]:
        """Granted scopes plus the ones they imply: `write_x` grants `read_x` on Shopify."""
        granted = set(self.granted_scopes)
        implied = {"read_" + s[len("write_"):] for s in granted if s.startswith("write_")}
        return granted | implied

    @property
    def scope_string(self) -> str:
        return ",".join(self.granted_scopes)


class AccessToken(models.Model):
    """An Admin API access token.

    Refresh rotation (Shopify, Aug 2026): refreshing token A issues B and sets A.replaced_by = B.
    A's refresh token keeps working until B is first used (B.first_used_at), so an app that lost
    the refresh response can retry; a retry issues C, revokes the unused B and points A at C.
    """

    OFFLINE, ONLINE = "offline", "online"
    installation = models.ForeignKey(Installation, on_delete=models.CASCADE, related_name="access_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=12)  # first characters, for logs and the admin UI
    access_mode = models.CharField(max_length=8, choices=[(OFFLINE, OFFLINE), (ONLINE, ONLINE)])
    scopes = models.JSONField(default=list)
    staff_member = models.ForeignKey(StaffMember, null=True, blank=True, on_delete=models.CASCADE)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)  # None: a non-expiring offline token
    first_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    refresh_token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    refresh_token_expires_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaces"
    )

    def __str__(self) -> str:
        return f"{self.token_prefix}… ({self.access_mode})"


class AuthorizationCode(models.Model):
    """The `code` of the authorization-code grant: one use, short-lived."""

    installation = models.ForeignKey(Installation, on_delete=models.CASCADE, related_name="authorization_codes")
    code_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    access_mode = models.CharField(max_length=8, default=AccessToken.OFFLINE)
    staff_member = models.ForeignKey(StaffMember, null=True, blank=True, on_delete=models.CASCADE)
    redirect_uri = models.URLField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"code for {self.installation_id} ({self.access_mode})"


class WebhookSubscription(models.Model):
    """A webhook subscription of one installation, created through the Admin API or from the toml."""

    SOURCE_API, SOURCE_TOML = "api", "toml"
    installation = models.ForeignKey(Installation, on_delete=models.CASCADE, related_name="webhook_subscriptions")
    topic = models.CharField(max_length=100)  # REST form: orders/create
    uri = models.CharField(max_length=1000)
    format = models.CharField(max_length=8, default="json")
    include_fields = models.JSONField(default=list)
    filter = models.CharField(max_length=1000, blank=True)
    source = models.CharField(max_length=8, choices=[(SOURCE_API, "API"), (SOURCE_TOML, "shopify.app.toml")])
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["installation", "topic", "uri", "source"], name="partners_subscription_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.topic} -> {self.uri}"


class WebhookDelivery(models.Model):
    """One webhook (one event for one subscription) and its delivery state.

    Duplicates of one event share `event_id` and get their own `webhook_id`; retries of one
    delivery keep both. The topic, URI and secret source are copied so the delivery survives
    its subscription being deleted (Shopify retries go to the address set at trigger time).
    """

    PENDING, DELIVERED, FAILED, DROPPED, HELD = "pending", "delivered", "failed", "dropped", "held"
    STATUS_CHOICES = [(s, s) for s in (PENDING, DELIVERED, FAILED, DROPPED, HELD)]
    shop = models.ForeignKey("devshop_store.Shop", on_delete=models.CASCADE, related_name="webhook_deliveries")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="webhook_deliveries")
    subscription = models.ForeignKey(
        WebhookSubscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    topic = models.CharField(max_length=100)
    uri = models.CharField(max_length=1000)
    api_version = models.CharField(max_length=16)
    payload = models.BinaryField()  # the exact bytes that are signed and sent
    webhook_id = models.UUIDField(unique=True)
    event_id = models.UUIDField(db_index=True)
    triggered_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default=PENDING)
    last_response_code = models.IntegerField(null=True, blank=True)
    fault = models.CharField(max_length=32, blank=True)  # the injected fault that shaped this delivery
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="partners_delivery_due_idx")]

    def __str__(self) -> str:
        return f"{self.topic} -> {self.uri} ({self.status})"


class WebhookDeliveryAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField(default=timezone.now)
    response_code = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.response_code or self.error}"


class WebhookFault(models.Model):
    """A fault to inject into the next `remaining` deliveries of a topic on a shop (tests only)."""

    DROP, DUPLICATE, DELAY, REORDER = "drop", "duplicate", "delay", "reorder"
    KIND_CHOICES = [(k, k) for k in (DROP, DUPLICATE, DELAY, REORDER)]
    shop = models.ForeignKey("devshop_store.Shop", on_delete=models.CASCADE, related_name="webhook_faults")
    topic = models.CharField(max_length=100)  # "*" matches every topic
    kind = models.CharField(max_length=16, choices=KIND_CHOICES)
    remaining = models.PositiveIntegerField(default=1)
    delay_seconds = models.FloatField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.kind} x{self.remaining} on {self.topic}"
