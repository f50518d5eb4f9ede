"""CustomerMonthSummary.cohort_month: the month of the customer's first counted order, on every row.

Added nullable, filled from the rows themselves (a customer's first counted order falls in their
smallest month), then made NOT NULL.
"""
from django.db import migrations, models

FILL = """
UPDATE commerce_customermonthsummary m SET cohort_month = c.first_month
FROM (SELECT shop_id, customer_shopify_id, min(month) AS first_month
      FROM commerce_customermonthsummary GROUP BY shop_id, customer_shopify_id) c
WHERE c.shop_id = m.shop_id AND c.customer_shopify_id = m.customer_shopify_id
"""


class Migration(migrations.Migration):
    dependencies = [("commerce", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="customermonthsummary", name="cohort_month", field=models.DateField(null=True),
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="customermonthsummary", name="cohort_month", field=models.DateField(),
        ),
    ]
