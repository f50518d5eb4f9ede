import pytest


@pytest.fixture
def order_rows():
    """All of a shop's commerce rows as comparable tuples (ids excluded)."""
    from commerce.models import Customer, CustomerMonthSummary, CustomerSummary, Order, OrderLineItem, Refund

    def rows(shop):
        fields = {
            Customer: ["shopify_id", "first_name", "last_name", "email", "phone", "email_marketing_state",
                       "tags", "birth_date", "created_at", "updated_at", "deleted_at"],
            Order: ["shopify_id", "name", "customer_shopify_id", "email", "created_at", "processed_at",
                    "updated_at", "cancelled_at", "cancel_reason", "financial_status", "fulfillment_status",
                    "currency", "presentment_currency", "subtotal", "total_discounts", "total_shipping",
                    "total_tax", "total", "total_refunded", "discount_codes", "landing_site",
                    "referring_site", "test", "taxes_included"],
            OrderLineItem: ["shopify_id", "order_shopify_id", "product_shopify_id", "variant_shopify_id",
                            "title", "sku", "quantity", "price", "total_discount", "gift_card"],
            Refund: ["shopify_id", "order_shopify_id", "created_at", "amount", "currency"],
            CustomerSummary: ["customer_shopify_id", "first_order_at", "last_order_at", "orders_count",
                              "net_revenue", "refunded", "currency"],
            CustomerMonthSummary: ["customer_shopify_id", "month", "orders_count", "net_revenue", "currency"],
        }
        return {
            model.__name__: sorted(tuple(r) for r in model.objects.filter(shop=shop).values_list(*cols))
            for model, cols in fields.items()
        }

    return rows
