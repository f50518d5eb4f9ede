"""The webhook inbox, sync runs and customer data requests.

WebhookDelivery is the durable inbox: every HMAC-verified delivery is stored before Shopify gets its 200,
then processed by a Celery task. It is deliberately not a ShopScopedModel: its shop is nullable because a
verified delivery can name a shop this app has no row for (compliance webhooks after a failed install, an
app/uninstalled racing the install) and such a delivery must still be kept, never dropped. Lookups and
uniqueness therefore go through `shop_domain`, which is always present; `shop` is filled in when known.
"""
from __future__ import annotations

from django.db import models
from django.db.models import Q

from shops.models import Shop, ShopScopedModel


class WebhookDeliveryQuerySet(models.QuerySet):
    def for_shop(self, shop: Shop) -> WebhookDeliveryQuerySet:
        # By domain as well as FK: a delivery stored before the shop row existed has shop=NULL.
        return self.filter(Q(shop=shop) | Q(shop__isnull=True, shop_domain=shop.domain))

    def unprocessed(self) -> WebhookDeliveryQuerySet:
        return self.filter(processed_at__isnull=True)


class WebhookDelivery(models.Model):
    """One webhook delivery as Shopify sent it. Written by shopify_sync.services.inbox only.

    Invariants: (shop_domain, webhook_id) is unique, and so is (shop_domain, topic, event_id) when an event
    id was sent: a delivery repeated under either id is stored once and processed once. `payload` is the
    raw request body, byte for byte (UTF-8 text), so ids beyond 2**53 stay exact; it is parsed only with
    Python's json. `processed_at` is set exactly when the handler's writes commit.
    """

    class Status(models.TextChoices):
        RECEIVED = "received"  # stored, not yet attempted
        RETRYING = "retrying"  # the handler failed; another attempt is scheduled
        PROCESSED = "processed"  # the handler's effects are committed (or there was nothing to do)
        FAILED = "failed"  # gave up after MAX_ATTEMPTS, or the body can never be processed
        REDACTED = "redacted"  # payload erased by customers/redact or shop/redact; never processed

    shop = models.ForeignKey(Shop, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    shop_domain = models.CharField(max_length=255)
    topic = models.CharField(max_length=128)
    webhook_id = models.CharField(max_length=255)
    event_id = models.CharField(max_length=255, blank=True, default="")
    api_version = models.CharField(max_length=32, blank=True, default="")
    triggered_at = models.DateTimeField(null=True, blank=True)
    payload = models.TextField()
    # False when the (HMAC-valid) body is not a JSON object: kept for inspection, never processed, and
    # never cast to jsonb by the privacy queries.
    payload_is_json = models.BooleanField(default=True)
    received_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When process_webhook was last sent for this row (NULL: sending failed). The sweeper re-sends rows
    # whose last send is old, so a backlog does not make it send every row again every minute.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    # Set when customers/redact or shop/redact replaced the payload (personal data erased).
    redacted_at = models.DateTimeField(null=True, blank=True)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop_domain", "webhook_id"], name="shopify_sync_delivery_webhook_uniq"),
            models.UniqueConstraint(
                fields=["shop_domain", "topic", "event_id"],
                condition=~Q(event_id=""),
                name="shopify_sync_delivery_event_uniq",
            ),
        ]
        indexes = [
            # The sweeper: unprocessed rows by age.
            models.Index(
                fields=["received_at"], condition=Q(processed_at__isnull=True), name="shopify_sync_delivery_pending"
            ),
            models.Index(fields=["shop", "topic"], name="shopify_sync_delivery_shop"),
            models.Index(fields=["event_id"], name="shopify_sync_delivery_event"),
            models.Index(fields=["shop_domain", "received_at"], name="shopify_sync_delivery_domain"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} for {self.shop_domain} ({self.webhook_id})"


class DataRequest(ShopScopedModel):
    """A customers/data_request: the report of what this app holds about one customer.

    Unique per (shop, Shopify's data_request id) so a repeated webhook does not make a second report.
    The report is what privacy.privacy_customer_data returned; the merchant downloads it from the admin.
    """

    shopify_request_id = models.BigIntegerField(null=True, blank=True)
    customer_shopify_id = models.BigIntegerField()
    requested_at = models.DateTimeField()
    report = models.JSONField()
    downloaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "shopify_request_id"],
                condition=Q(shopify_request_id__isnull=False),
                name="shopify_sync_datarequest_uniq",
            ),
        ]
        indexes = [models.Index(fields=["shop", "customer_shopify_id"], name="shopify_sync_datarequest_cust")]

    def __str__(self) -> str:
        return f"Data request for customer {self.customer_shopify_id}"
