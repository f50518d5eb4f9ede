"""MonthActivity: the rollup of CustomerMonthSummary that period reports and the cohort matrix read.

Filled here from the existing month summaries, grouped as commerce.services.rollups groups them. The
month summaries' unique index gets orders_count as an included column.
"""

import django.db.models.deletion
from decimal import Decimal
from django.db import migrations, models


FILL = """
INSERT INTO commerce_monthactivity (shop_id, month, cohort_month, previous_month, following_month,
                                    repeat_in_month, customers, orders, net_revenue)
SELECT shop_id, month, cohort_month, previous_month, following_month, orders_count > 1, count(*),
       sum(orders_count), sum(net_revenue)
FROM commerce_customermonthsummary
GROUP BY shop_id, month, cohort_month, previous_month, following_month, orders_count > 1
"""


class Migration(migrations.Migration):

    dependencies = [
        ('commerce', '0006_order_taxes_included_line_gift_card'),
        ('shops', '0002_oauthstate_expires_at'),
    ]

    operations = [
        migrations.CreateModel(
            name='MonthActivity',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField()),
                ('cohort_month', models.DateField()),
                ('previous_month', models.DateField(blank=True, null=True)),
                ('following_month', models.DateField(blank=True, null=True)),
                ('repeat_in_month', models.BooleanField()),
                ('customers', models.IntegerField()),
                ('orders', models.BigIntegerField()),
                ('net_revenue', models.DecimalField(decimal_places=3, default=Decimal('0'), max_digits=20)),
                ('shop', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='shops.shop')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('shop', 'month', 'cohort_month', 'previous_month', 'following_month', 'repeat_in_month'), name='commerce_monthactivity_uniq', nulls_distinct=False)],
            },
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
        # The month summaries' unique index carries orders_count for index-only lookups (reports.selectors.periods).
        migrations.RemoveConstraint(model_name="customermonthsummary", name="commerce_custmonth_uniq"),
        migrations.AddConstraint(
            model_name="customermonthsummary",
            constraint=models.UniqueConstraint(
                fields=("shop", "customer_shopify_id", "month"), name="commerce_custmonth_uniq",
                include=("orders_count",),
            ),
        ),
    ]
