"""CustomerSummary.second_order_at: when the customer's second counted order was processed (NULL with one).

The days-from-first-to-second-order report reads it instead of one ordered index lookup in commerce_order
per new customer of the period. Added nullable (it stays so: one-order customers have none), filled
from the orders with the aggregate commerce.services.summaries uses.
"""
from django.db import migrations, models

FILL = """
UPDATE commerce_customersummary s SET second_order_at = c.second_order_at
FROM (SELECT shop_id, customer_shopify_id,
             (array_agg(processed_at ORDER BY processed_at))[2] AS second_order_at
      FROM commerce_order
      WHERE customer_shopify_id IS NOT NULL AND NOT test AND cancelled_at IS NULL
      GROUP BY shop_id, customer_shopify_id
      HAVING count(*) > 1) c
WHERE c.shop_id = s.shop_id AND c.customer_shopify_id = s.customer_shopify_id
"""


class Migration(migrations.Migration):
    dependencies = [("commerce", "0003_shop_key_without_index_and_db_constraint")]

    operations = [
        migrations.AddField(
            model_name="customersummary", name="second_order_at", field=models.DateTimeField(null=True, blank=True),
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
    ]
