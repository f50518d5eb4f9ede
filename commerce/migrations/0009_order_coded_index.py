"""A partial index of the orders that used a discount code, by date (commerce_order_shop_coded).

The loyalty report's "orders that used a reward" and the campaigns' coupon usage match order codes
against their own codes; without this they read every order of the period (a parallel scan of a
million-order table, ~200 ms) to find the few percent that carry a code. The columns they read ride
along (INCLUDE), so the read is an index-only scan. Built CONCURRENTLY so order
writes go on while a big orders table is indexed.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("commerce", "0008_order_shop_cust_covering"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="order",
            index=models.Index(fields=["shop", "processed_at"], name="commerce_order_shop_coded",
                               include=["shopify_id", "customer_shopify_id", "total", "total_refunded",
                                        "total_discounts", "test", "cancelled_at", "discount_codes"],
                               condition=~models.Q(discount_codes=[])),
        ),
    ]
