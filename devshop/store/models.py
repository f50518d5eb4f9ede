"""Data of the development store's shops. Only devshop reads these tables.

Ids are Shopify-like 64-bit integers: every table's identity column is restarted at a large number in
migration 0002 (the ids of Shopify's own documentation samples, all above 2**53), so an app that parses
ids through a float, or truncates them, breaks here the way it would break against Shopify.
Money is Decimal(20, 3) beside a currency code. Timestamps are stored in UTC.

Nullable text columns are deliberate: they mirror Shopify fields that are null rather than empty
(an order's email, a guest's customer, a missing phone), and the APIs must tell the two apart.
These rows are never shown in a Django admin, hence no __str__ beyond Shop's.
"""
# ruff: noqa: DJ001, DJ008
from django.db import models
from django.db.models.functions import Upper

MONEY = {"max_digits": 20, "decimal_places": 3}


def money_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(default=0, **MONEY, **kwargs)


class Shop(models.Model):
    PLAN_CHOICES = [("basic", "Basic"), ("advanced", "Advanced"), ("plus", "Plus")]

    domain = models.CharField(max_length=255, unique=True)  # name.myshopify.com, the real form
    name = models.CharField(max_length=255)
    email = models.EmailField()
    currency_code = models.CharField(max_length=3, default="EUR")
    iana_timezone = models.CharField(max_length=64, default="Europe/Berlin")
    primary_locale = models.CharField(max_length=16, default="en")
    country_code = models.CharField(max_length=2, default="DE")
    plan = models.CharField(max_length=16, choices=PLAN_CHOICES, default="basic")
    created_at = models.DateTimeField(auto_now_add=True)
    # Store additions (not part of the contract's field list, which they extend).
    enabled_presentment_currencies = models.JSONField(default=list, blank=True)
    taxes_included = models.BooleanField(default=True)
    # Test knobs for the API's leaky bucket; null means "the plan's numbers" (see graphql/throttle.py).
    api_bucket_size = models.FloatField(null=True, blank=True)
    api_restore_rate = models.FloatField(null=True, blank=True)

    def __str__(self) -> str:
        return self.domain


class Customer(models.Model):
    MARKETING_STATES = [
        ("not_subscribed", "not subscribed"),
        ("pending", "pending"),
        ("subscribed", "subscribed"),
        ("unsubscribed", "unsubscribed"),
        ("redacted", "redacted"),
        ("invalid", "invalid"),
    ]
    OPT_IN_LEVELS = [("single_opt_in", "single"), ("confirmed_opt_in", "confirmed"), ("unknown", "unknown")]

    id = models.BigAutoField(primary_key=True)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="customers")
    first_name = models.CharField(max_length=255, blank=True, default="")
    last_name = models.CharField(max_length=255, blank=True, default="")
    email = models.CharField(max_length=255, null=True, blank=True)
    phone = models.CharField(max_length=32, null=True, blank=True)
    email_marketing_state = models.CharField(max_length=16, choices=MARKETING_STATES, default="not_subscribed")
    email_marketing_opt_in_level = models.CharField(max_length=20, choices=OPT_IN_LEVELS, null=True, blank=True)
    email_marketing_updated_at = models.DateTimeField(null=True, blank=True)
    tags = models.TextField(blank=True, default="")  # Shopify's REST form: "vip, newsletter"
    locale = models.CharField(max_length=16, default="en")
    note = models.TextField(null=True, blank=True)
    verified_email = models.BooleanField(default=True)
    state = models.CharField(max_length=16, default="enabled")
    country_code = models.CharField(max_length=2, null=True, blank=True)
    city = models.CharField(max_length=128, null=True, blank=True)
    amount_spent = money_field()
    orders_count = models.IntegerField(default=0)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["shop", "updated_at", "id"], name="store_cust_shop_upd"),
            models.Index(fields=["shop", "created_at", "id"], name="store_cust_shop_crt"),
            models.Index(fields=["shop", "email"], name="store_cust_shop_email"),
        ]

    @property
    def display_name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return full or (self.email or self.phone or "")


class Metafield(models.Model):
    """A metafield of any owner (Customer, Order, Shop, ...), addressed by (owner_type, owner_id)."""

    id = models.BigAutoField(primary_key=True)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="metafields")
    owner_type = models.CharField(max_length=32)  # GraphQL type name: "Customer", "Order", "Shop"
    owner_id = models.BigIntegerField()
    namespace = models.CharField(max_length=255)
    key = models.CharField(max_length=64)
    type = models.CharField(max_length=64)
    value = models.TextField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "owner_type", "owner_id", "namespace", "key"], name="store_metafield_unique"
            )
        ]


class Product(models.Model):
    id = models.BigAutoField(primary_key=True)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="products")
    title = models.CharField(max_length=255)
    handle = models.CharField(max_length=255)
    vendor = models.CharField(max_length=255, blank=True, default="")
    product_type = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=16, default="active")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # Product.isGiftCard: its lines are gift cards (not taxed, not shipped, not discounted).
    gift_card = models.BooleanField(default=False, db_default=False)


class ProductVariant(models.Model):
    id = models.BigAutoField(primary_key=True)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="variants")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    title = models.CharField(max_length=255)
    sku = models.CharField(max_length=64, blank=True, default="")
    price = money_field()
    # Relative sales weight the seeder draws from (best sellers are heavy, the long tail light).
    popularity = models.FloatField(default=1.0)
    requires_shipping = models.BooleanField(default=True)
    taxable = models.BooleanField(default=True)


class Order(models.Model):
    FINANCIAL_STATUSES = [
        (s, s)
        for s in ("pending", "authorized", "partially_paid", "paid", "partially_refunded", "refunded", "voided")
    ]
    CANCEL_REASONS = [(s, s) for s in ("customer", "declined", "fraud", "inventory", "other", "staff")]

    id = models.BigAutoField(primary_key=True)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="orders")
    number = models.IntegerField()  # 1001, 1002, ... per shop; name is "#" + number
    name = models.CharField(max_length=32)
    email = models.CharField(max_length=255, null=True, blank=True)
    phone = models.CharField(max_length=32, null=True, blank=True)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    created_at = models.DateTimeField()
    processed_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=16, choices=CANCEL_REASONS, null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    financial_status = models.CharField(max_length=20, choices=FINANCIAL_STATUSES, default="paid")
    fulfillment_status = models.CharField(max_length=20, null=True, blank=True)  # None, fulfilled, partial, restocked
    currency = models.CharField(max_length=3)
    presentment_currency = models.CharField(max_length=3)
    # Shop money.
    subtotal_price = money_field()  # line items after line discounts and order discounts, before shipping/tax
    total_discounts = money_field()
    total_shipping = money_field()
    total_tax = money_field()
    total_price = money_field()
    total_refunded = money_field()
    total_refunded_shipping = money_field()
    # The same amounts in the buyer's (presentment) currency.
    subtotal_price_pres = money_field()
    total_discounts_pres = money_field()
    total_shipping_pres = money_field()
    total_tax_pres = money_field()
    total_price_pres = money_field()
    total_refunded_pres = money_field()
    total_refunded_shipping_pres = money_field()
    taxes_included = models.BooleanField(default=True)
    # [{"code": "WELCOME10", "amount": "5.00", "type": "percentage"}], Shopify's REST shape.
    discount_codes = models.JSONField(default=list, blank=True)
    landing_site = models.TextField(null=True, blank=True)
    referring_site = models.TextField(null=True, blank=True)
    # The cart's attributes (/cart/update.js `attributes`), Shopify's REST shape: [{"name": "ref", "value": "X"}].
    note_attributes = models.JSONField(default=list, blank=True)
    source_name = models.CharField(max_length=64, default="web")
    test = models.BooleanField(default=False)
    tags = models.TextField(blank=True, default="")
    note = models.TextField(null=True, blank=True)
    customer_locale = models.CharField(max_length=16, null=True, blank=True)
    buyer_accepts_marketing = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["shop", "updated_at", "id"], name="store_order_shop_upd"),
            models.Index(fields=["shop", "created_at", "id"], name="store_order_shop_crt"),
            models.Index(fields=["shop", "processed_at", "id"], name="store_order_shop_proc"),
            models.Index(fields=["shop", "customer", "id"], name="store_order_shop_cust"),
        ]
        constraints = [models.UniqueConstraint(fields=["shop", "number"], name="store_order_number_unique")]


class LineItem(models.Model):
    id = models.BigAutoField(primary_key=True)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="line_items")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    variant = models.ForeignKey(ProductVariant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    title = models.CharField(max_length=255)
    variant_title = models.CharField(max_length=255, null=True, blank=True)
    sku = models.CharField(max_length=64, null=True, blank=True)
    vendor = models.CharField(max_length=255, null=True, blank=True)
    quantity = models.IntegerField()
    price = money_field()  # unit price, shop money
    price_pres = money_field()
    total_discount = money_field()  # discount allocated to this line (all units)
    total_discount_pres = money_field()
    tax = money_field()
    tax_pres = money_field()
    requires_shipping = models.BooleanField(default=True)
    taxable = models.BooleanField(default=True)
    # LineItem.isGiftCard / REST `gift_card`: copied from the product when the order was placed.
    gift_card = models.BooleanField(default=False, db_default=False)


class Refund(models.Model):
    id = models.BigAutoField(primary_key=True)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refunds")
    created_at = models.DateTimeField()
    processed_at = models.DateTimeField()
    note = models.TextField(null=True, blank=True)
    amount = money_field()  # total refunded by this refund, shop money (line items + tax + shipping)
    amount_pres = money_field()
    shipping = money_field()
    shipping_pres = money_field()
    restock = models.BooleanField(default=False)


class RefundLineItem(models.Model):
    id = models.BigAutoField(primary_key=True)
    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="refund_line_items")
    line_item = models.ForeignKey(LineItem, on_delete=models.CASCADE, related_name="+")
    quantity = models.IntegerField()
    subtotal = money_field()
    subtotal_pres = money_field()
    total_tax = money_field()
    total_tax_pres = money_field()
    restock_type = models.CharField(max_length=16, default="no_restock")


class DiscountNode(models.Model):
    """A code discount (DiscountCodeBasic or DiscountCodeFreeShipping) and its settings."""

    KINDS = [("basic", "DiscountCodeBasic"), ("free_shipping", "DiscountCodeFreeShipping")]

    id = models.BigAutoField(primary_key=True)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="discounts")
    kind = models.CharField(max_length=16, choices=KINDS)
    title = models.CharField(max_length=255)
    # basic: "percentage" (value is a fraction 0..1) or "fixed_amount" (value is money in shop currency)
    value_type = models.CharField(max_length=16, null=True, blank=True)
    value = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    applies_on_each_item = models.BooleanField(default=False)
    items_all = models.BooleanField(default=True)
    context_all = models.BooleanField(default=True)
    context_customer_ids = models.JSONField(default=list, blank=True)
    minimum_subtotal = models.DecimalField(null=True, blank=True, **MONEY)
    minimum_quantity = models.IntegerField(null=True, blank=True)
    usage_limit = models.IntegerField(null=True, blank=True)
    applies_once_per_customer = models.BooleanField(default=False)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    combines_with_order = models.BooleanField(default=False)
    combines_with_product = models.BooleanField(default=False)
    combines_with_shipping = models.BooleanField(default=False)
    maximum_shipping_price = models.DecimalField(null=True, blank=True, **MONEY)
    destination_all = models.BooleanField(default=True)
    destination_countries = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True)
    created_by_app = models.CharField(max_length=255, null=True, blank=True)  # client_id
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()


class DiscountRedeemCode(models.Model):
    id = models.BigAutoField(primary_key=True)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    discount = models.ForeignKey(DiscountNode, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(max_length=255)
    usage_count = models.IntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        # Codes are unique per shop regardless of case, as on Shopify (a second "welcome10" is TAKEN).
        constraints = [models.UniqueConstraint("shop", Upper("code"), name="store_redeem_code_unique_ci")]


class DiscountRedeemCodeBulkCreation(models.Model):
    id = models.BigAutoField(primary_key=True)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    discount = models.ForeignKey(DiscountNode, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    done = models.BooleanField(default=False)
    codes_count = models.IntegerField(default=0)
    imported_count = models.IntegerField(default=0)
    failed_count = models.IntegerField(default=0)
    # [{"code": "X", "redeem_code_id": 123 | None, "errors": [{"field": [...], "code": "TAKEN", "message": ...}]}]
    results = models.JSONField(default=list)


class BulkOperation(models.Model):
    STATUSES = [(s, s) for s in ("CREATED", "RUNNING", "COMPLETED", "CANCELING", "CANCELED", "FAILED", "EXPIRED")]

    id = models.BigAutoField(primary_key=True)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="bulk_operations")
    installation_id = models.BigIntegerField(null=True)  # devshop_partners Installation that started it
    app_client_id = models.CharField(max_length=255, null=True, blank=True)
    type = models.CharField(max_length=8, default="QUERY")
    status = models.CharField(max_length=16, choices=STATUSES, default="CREATED")
    query = models.TextField()
    group_objects = models.BooleanField(default=False)
    error_code = models.CharField(max_length=32, null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)  # devshop-only diagnostics for FAILED runs
    object_count = models.BigIntegerField(default=0)
    root_object_count = models.BigIntegerField(default=0)
    file_size = models.BigIntegerField(null=True, blank=True)
    file_path = models.CharField(max_length=1024, null=True, blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "status"], name="store_bulkop_shop_status")]


class ApiThrottleBucket(models.Model):
    """Leaky bucket state of one installation (app + shop); rows are locked with select_for_update."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    installation_key = models.CharField(max_length=64)
    available = models.FloatField()
    refilled_at = models.FloatField()  # time.time() of the last refill computation

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "installation_key"], name="store_bucket_unique")
        ]


class ApiFault(models.Model):
    """Injected failure for the next `remaining` Admin API requests of a shop (control API)."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    status = models.IntegerField()  # 429, 500, 502, 503, 504
    retry_after = models.IntegerField(null=True, blank=True)
    remaining = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True)


class StoreCreditAccount(models.Model):
    """A customer's store credit in one currency (Shopify: one account per owner and currency, created by
    the first `storeCreditAccountCredit` with the owner's id). Company locations are not modelled."""

    id = models.BigAutoField(primary_key=True)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="store_credit_accounts")
    currency = models.CharField(max_length=3)
    balance = money_field()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "currency"], name="store_credit_account_unique_currency")
        ]


class StoreCreditTransaction(models.Model):
    """One movement of a store credit account. devshop makes credits only (`storeCreditAccountCredit`,
    GraphQL type StoreCreditAccountCreditTransaction); `amount` is signed so debits can follow."""

    KINDS = [("credit", "credit")]

    id = models.BigAutoField(primary_key=True)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(StoreCreditAccount, on_delete=models.CASCADE, related_name="transactions")
    kind = models.CharField(max_length=16, choices=KINDS, default="credit")
    amount = money_field()
    balance_after = money_field()
    remaining_amount = money_field()
    expires_at = models.DateTimeField(null=True, blank=True)
    notify = models.BooleanField(default=False)  # recorded only: devshop sends no customer email
    created_by_app = models.CharField(max_length=255, null=True, blank=True)  # client_id
    created_at = models.DateTimeField()
