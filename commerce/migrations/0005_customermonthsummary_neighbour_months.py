"""CustomerMonthSummary.previous_month / following_month: the customer's neighbouring months with orders.

Filled from the rows themselves (lag / lead over a customer's months), as commerce.services.summaries
computes them; NULL for a customer's first / last month.
"""
from django.db import migrations, models

FILL = """
UPDATE commerce_customermonthsummary m SET previous_month = n.previous_month, following_month = n.following_month
FROM (SELECT id, lag(month) OVER w AS previous_month, lead(month) OVER w AS following_month
      FROM commerce_customermonthsummary
      WINDOW w AS (PARTITION BY shop_id, customer_shopify_id ORDER BY month)) n
WHERE n.id = m.id
  AND (m.previous_month, m.following_month) IS DISTINCT FROM (n.previous_month, n.following_month)
"""


class Migration(migrations.Migration):
    dependencies = [("commerce", "0004_customersummary_second_order_at")]

    operations = [
        migrations.AddField(
            model_name="customermonthsummary", name="previous_month", field=models.DateField(null=True, blank=True),
        ),
        migrations.AddField(
            model_name="customermonthsummary", name="following_month", field=models.DateField(null=True, blank=True),
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
    ]
