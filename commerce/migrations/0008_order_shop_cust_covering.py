"""commerce_order_shop_cust becomes a covering index: the columns the summaries aggregate ride along.

summaries_rebuild reads every counted order of a shop in (customer, processed_at) order. With total,
total_refunded, test and cancelled_at in the index, that read is an index-only scan (a ~90 MB index
instead of the ~380 MB table, already in the order the GROUP BY and the window functions need, so no
sort of a million rows); see commerce.services.summaries. The lookups the old index served (a customer's
orders by date) use the new one the same way: the key columns are unchanged.

Built CONCURRENTLY before the old index is dropped, so order writes are not blocked while a big
orders table is indexed and no moment is left without an index on these keys.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("commerce", "0007_monthactivity"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="order",
            index=models.Index(
                fields=["shop", "customer_shopify_id", "processed_at"],
                include=["total", "total_refunded", "test", "cancelled_at"],
                name="commerce_order_shop_cust_cov",
            ),
        ),
        RemoveIndexConcurrently(model_name="order", name="commerce_order_shop_cust"),
    ]
