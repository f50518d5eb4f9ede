"""The shop's customers and orders as Shopify knows them, and the per-customer summaries reports read.

Conventions of every table here:
- Rows are keyed by Shopify's numeric id (`shopify_id`, a 64-bit integer: Shopify's ids exceed 2**53),
  unique per shop. References between them are Shopify ids too (`customer_shopify_id`,
  `order_shopify_id`), not foreign keys: webhooks arrive in any order (an order before its customer, a
  refund before its order) and a row must be storable the moment it arrives.
- `created_at` / `updated_at` / `processed_at` are SHOPIFY's timestamps (UTC). `updated_at` decides
  which of two versions wins: an upsert never replaces a row with an older version. `synced_at` is when
  this app last wrote the row.
- Amounts are shop money (Decimal(20,3), core.money.money_field) in the shop's currency (`currency`).
- Rows are written only by commerce.services (bulk SQL upserts); nothing calls .save() on them.
"""
from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

from core.money import currency_field, money_field
from shops.models import Shop, ShopScopedModel


def _shop_key() -> models.ForeignKey:
    """The tenant key of commerce's synced tables: ShopScopedModel's `shop` without two database objects.

    - No index of its own (db_index=False): each table's unique constraint starts with shop_id and
      serves every lookup by shop, so a separate index would only be written to.
    - No database FOREIGN KEY constraint (db_constraint=False): PostgreSQL checks a foreign key for
      every inserted row (a trigger that runs a query at commit): 2.8 million checks and ~20% of the
      database's work in a 1,000,000-order backfill (docs/benchmarks.md, "Order sync"). What it
      guaranteed holds by construction instead: these rows are written only by commerce.services, for a
      Shop loaded from the database, and the app never deletes a Shop (uninstall and shop/redact keep
      the row). Django still treats it as a foreign key: joins, select_related, on_delete=CASCADE (done
      by Django's collector, as it always was).
    """
    return models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)


class Customer(ShopScopedModel):
    shop = _shop_key()
    shopify_id = models.BigIntegerField()
    first_name = models.CharField(max_length=255, blank=True, default="")
    last_name = models.CharField(max_length=255, blank=True, default="")
    email = models.CharField(max_length=255, blank=True, default="")
    phone = models.CharField(max_length=64, blank=True, default="")
    # Shopify's CustomerEmailMarketingState, lower-case ("subscribed", "not_subscribed", "unsubscribed",
    # "pending", ...); "" when the customer has no e-mail address. (SMS consent is not synced: the
    # development store cannot serve defaultPhoneNumber.marketingState in bulk queries yet.)
    email_marketing_state = models.CharField(max_length=32, blank=True, default="")
    tags = ArrayField(models.CharField(max_length=255), default=list, blank=True)
    # The `facts.birth_date` customer metafield, when the shop keeps one.
    birth_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # customers/delete leaves a tombstone so a late, older customers/update cannot resurrect the row.
    deleted_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "shopify_id"], name="commerce_customer_shop_id_uniq"),
        ]
        indexes = [
            models.Index(fields=["shop", "created_at"], name="commerce_cust_shop_created"),
            models.Index(fields=["shop", "updated_at"], name="commerce_cust_shop_updated"),
            models.Index(fields=["shop", "email"], name="commerce_cust_shop_email"),
        ]

    def __str__(self) -> str:
        return f"Customer {self.shopify_id}"

    @property
    def accepts_email_marketing(self) -> bool:
        return self.email_marketing_state == "subscribed"


class Order(ShopScopedModel):
    shop = _shop_key()
    shopify_id = models.BigIntegerField()
    name = models.CharField(max_length=64)
    # None for a guest checkout. Guest orders count where a metric counts orders and are left out
    # where it counts customers.
    customer_shopify_id = models.BigIntegerField(null=True, blank=True)
    email = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField()
    # Reports date orders by processed_at, like Shopify's analytics: an imported historical order is
    # created today but processed on its real date.
    processed_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=32, blank=True, default="")
    # Lower-case GraphQL enums (displayFinancialStatus / displayFulfillmentStatus): "paid",
    # "partially_refunded", ...; "unfulfilled", "partially_fulfilled", "fulfilled", "restocked", ...
    financial_status = models.CharField(max_length=32, blank=True, default="")
    fulfillment_status = models.CharField(max_length=32, blank=True, default="")
    currency = currency_field()
    presentment_currency = currency_field()
    subtotal = money_field()
    total_discounts = money_field()
    total_shipping = money_field()
    total_tax = money_field()
    # Shopify's Order.taxesIncluded / REST `taxes_included`: the prices (and so `subtotal`) include the
    # taxes in `total_tax`. (db_default: every writer that does not name the column stays valid.)
    taxes_included = models.BooleanField(default=False, db_default=False)
    total = money_field()
    # Sum of this order's Refund rows (kept by the services in the same transaction): the refunds table
    # is the one truth, because refunds/create may arrive before or after the order itself.
    total_refunded = money_field()
    discount_codes = ArrayField(models.CharField(max_length=255), default=list, blank=True)
    landing_site = models.TextField(blank=True, default="")
    referring_site = models.TextField(blank=True, default="")
    # Test orders (Shopify's `test: true`, e.g. the "send test notification" sample) are stored but
    # excluded from every metric.
    test = models.BooleanField(default=False)
    synced_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "shopify_id"], name="commerce_order_shop_id_uniq"),
        ]
        indexes = [
            # Per customer, by date (summaries, a customer's history). Covering the columns the summaries
            # aggregate: summaries_rebuild reads a shop's orders with an index-only scan, already sorted
            # for its GROUP BYs (commerce.services.summaries; migration 0008).
            models.Index(fields=["shop", "customer_shopify_id", "processed_at"],
                         include=["total", "total_refunded", "test", "cancelled_at"],
                         name="commerce_order_shop_cust_cov"),
            # Per shop by date (cohorts, monthly revenue).
            models.Index(fields=["shop", "processed_at"], name="commerce_order_shop_processed"),
            # Reconciliation and "what changed" reads.
            models.Index(fields=["shop", "updated_at"], name="commerce_order_shop_updated"),
            # Orders that used a discount code, by date: the reports that match codes (rewards, coupons)
            # read these with an index-only scan instead of every order of the period. Partial: most
            # orders use no code, and those cost no index entry (migration 0009).
            models.Index(fields=["shop", "processed_at"], name="commerce_order_shop_coded",
                         include=["shopify_id", "customer_shopify_id", "total", "total_refunded", "total_discounts",
                                  "test", "cancelled_at", "discount_codes"],
                         condition=~models.Q(discount_codes=[])),
        ]

    def __str__(self) -> str:
        return f"Order {self.name} ({self.shopify_id})"

    @property
    def counts_in_metrics(self) -> bool:
        return not self.test and self.cancelled_at is None

    @property
    def net_revenue(self):
        """total - refunds; a cancelled or test order counts zero (see services.summaries)."""
        from decimal import Decimal

        return self.total - self.total_refunded if self.counts_in_metrics else Decimal("0")


class OrderLineItem(ShopScopedModel):
    shop = _shop_key()
    shopify_id = models.BigIntegerField()
    order_shopify_id = models.BigIntegerField()
    product_shopify_id = models.BigIntegerField(null=True, blank=True)
    variant_shopify_id = models.BigIntegerField(null=True, blank=True)
    title = models.CharField(max_length=255, blank=True, default="")
    sku = models.CharField(max_length=255, blank=True, default="")
    quantity = models.IntegerField()
    price = money_field(help_text="Unit price before discounts, shop money.")
    total_discount = money_field(help_text="Discount allocated to this line (all units), shop money.")
    # GraphQL LineItem.isGiftCard / REST line item `gift_card`: the line sells a gift card.
    gift_card = models.BooleanField(default=False, db_default=False)
    # Line items have no updated_at of their own: they carry their order's.
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "shopify_id"], name="commerce_line_shop_id_uniq"),
        ]
        indexes = [
            models.Index(fields=["shop", "order_shopify_id"], name="commerce_line_shop_order"),
            models.Index(fields=["shop", "product_shopify_id"], name="commerce_line_shop_product"),
        ]

    def __str__(self) -> str:
        return f"Line {self.shopify_id} of order {self.order_shopify_id}"


class Refund(ShopScopedModel):
    shop = _shop_key()
    shopify_id = models.BigIntegerField()
    # No foreign key on purpose: refunds/create may deliver the refund before the order exists here.
    order_shopify_id = models.BigIntegerField()
    created_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    amount = money_field(help_text="Total refunded by this refund, shop money.")
    currency = currency_field()
    # GraphQL Refund.updatedAt; the REST refund has none, so its created_at stands in.
    updated_at = models.DateTimeField()
    synced_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "shopify_id"], name="commerce_refund_shop_id_uniq"),
        ]
        indexes = [
            models.Index(fields=["shop", "order_shopify_id"], name="commerce_refund_shop_order"),
            models.Index(fields=["shop", "created_at"], name="commerce_refund_shop_created"),
        ]

    def __str__(self) -> str:
        return f"Refund {self.shopify_id} of order {self.order_shopify_id}"


class CustomerSummary(ShopScopedModel):
    """One customer's orders, aggregated (maintained by commerce.services.summaries).

    Counts only orders that count in metrics (not test, not cancelled); see
    `commerce.services.summaries` for the net-revenue rule. A customer with no such order has no row.
    """

    shop = _shop_key()
    customer_shopify_id = models.BigIntegerField()
    first_order_at = models.DateTimeField()
    last_order_at = models.DateTimeField()
    orders_count = models.IntegerField()
    net_revenue = money_field()
    refunded = money_field()
    currency = currency_field()
    # processed_at of the second counted order (by processed_at); NULL while the customer has one. Kept by
    # the same aggregate SQL as the rest of the row (commerce.services.summaries); read by the
    # days-from-first-to-second-order report instead of the orders.
    second_order_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "customer_shopify_id"], name="commerce_custsum_uniq"),
        ]
        indexes = [
            models.Index(fields=["shop", "first_order_at"], name="commerce_custsum_first"),
            models.Index(fields=["shop", "last_order_at"], name="commerce_custsum_last"),
        ]

    def __str__(self) -> str:
        return f"Summary of customer {self.customer_shopify_id}"


class CustomerMonthSummary(ShopScopedModel):
    """One customer's orders in one calendar month of the shop's time zone (by processed_at)."""

    shop = _shop_key()
    customer_shopify_id = models.BigIntegerField()
    month = models.DateField(help_text="First day of the month, in the shop's IANA time zone.")
    orders_count = models.IntegerField()
    net_revenue = money_field()
    currency = currency_field()
    # The month of the customer's first counted order (= the smallest `month` of their rows), repeated on
    # every row: the cohort matrix is then one GROUP BY (cohort_month, month) over this table instead of a
    # join of every customer-month with the customer summaries (60 ms instead of 1.1 s on 730,000 rows).
    # Kept by the same SQL as the rest of the row (commerce.services.summaries).
    cohort_month = models.DateField()
    # The customer's previous and next month with a counted order (NULL for the first / last): a range of
    # whole months [m0, m1) has one customer per row with previous_month NULL or < m0, and that customer
    # ordered twice or more in it when the row's orders_count > 1 or following_month < m1. Period reports
    # count customers and repeat customers with one pass over the rows instead of a GROUP BY customer.
    # Kept by the same SQL as the rest of the row (commerce.services.summaries).
    previous_month = models.DateField(null=True, blank=True)
    following_month = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            # INCLUDE orders_count: the period reports look up the orders of a few thousand customers
            # (those with orders in a range's partial end months) in their whole months with an
            # index-only scan (a third of the time of visiting 20,000 heap rows).
            models.UniqueConstraint(
                fields=["shop", "customer_shopify_id", "month"], name="commerce_custmonth_uniq",
                include=["orders_count"],
            ),
        ]
        indexes = [models.Index(fields=["shop", "month"], name="commerce_custmonth_month")]

    def __str__(self) -> str:
        return f"Customer {self.customer_shopify_id} in {self.month:%Y-%m}"


class MonthActivity(ShopScopedModel):
    """The shop's customer-months counted by what period reports ask of them (a rollup of
    CustomerMonthSummary, kept by commerce.services.rollups in the same transaction).

    Period reports count customers and repeat customers of a range of whole months [m0, m1) from each
    customer's first row in it (previous_month NULL or < m0) and its neighbour (following_month < m1),
    and the cohort matrix counts rows by (cohort_month, month): none of them needs to know WHICH
    customer a row is. Grouped by those columns, 730,000 customer-months of a 1,000,000-order shop are
    ~86,000 rows here, so a 12-month range reads a few ten thousand rows instead of ~320,000.
    """

    shop = _shop_key()
    month = models.DateField()
    cohort_month = models.DateField()
    previous_month = models.DateField(null=True, blank=True)
    following_month = models.DateField(null=True, blank=True)
    # orders_count > 1 in that month: the customer is a repeat customer of any range containing it.
    repeat_in_month = models.BooleanField()
    customers = models.IntegerField()
    orders = models.BigIntegerField()
    net_revenue = money_field()

    class Meta:
        constraints = [
            # NULLS NOT DISTINCT: a customer's first month (previous_month NULL) is one group, not one
            # row per customer; and ON CONFLICT finds it.
            models.UniqueConstraint(
                fields=["shop", "month", "cohort_month", "previous_month", "following_month", "repeat_in_month"],
                name="commerce_monthactivity_uniq", nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customers} customers in {self.month:%Y-%m}"


class OrderSyncRun(ShopScopedModel):
    """One backfill or reconcile of a shop's customers and orders: its progress and resume point.

    Progress (rows read/written, total when known, started, finished, failed with the reason) is what the
    admin shows through commerce.selectors.sync_status. A backfill also keeps where it is (stage, bulk
    operation, JSONL lines committed) so an interrupted one resumes. `watermark_at` is the instant the
    run started asking Shopify: when it succeeds, every change before it is in our copy, and the next
    reconcile asks for changes since then (minus an overlap).
    """

    class Kind(models.TextChoices):
        BACKFILL = "backfill"
        RECONCILE = "reconcile"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Stage(models.TextChoices):
        CUSTOMERS = "customers"
        ORDERS = "orders"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows_read = models.BigIntegerField(default=0)
    rows_written = models.BigIntegerField(default=0)
    rows_total = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    watermark_at = models.DateTimeField(null=True, blank=True)
    # Backfill only.
    stage = models.CharField(max_length=16, choices=Stage.choices, blank=True, default="")
    bulk_operation_gid = models.CharField(max_length=128, blank=True, default="")
    lines_committed = models.BigIntegerField(default=0)
    # Bulk operations started and not usable any more (failed, expired): a restart starts a new one.
    bulk_restarts = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["shop", "kind", "-created_at"], name="commerce_syncrun_shop_kind")]
        constraints = [
            # At most one active run of a kind per shop: a second resync request joins the first.
            models.UniqueConstraint(
                fields=["shop", "kind"],
                condition=models.Q(status__in=["queued", "running"]),
                name="commerce_syncrun_one_active",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} of shop {self.shop_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)
