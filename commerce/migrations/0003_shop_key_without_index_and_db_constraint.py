"""Commerce's synced tables: drop the shop_id foreign-key constraint and the shop_id-only index.

See commerce.models._shop_key: every lookup by shop is served by the table's unique constraint
(which starts with shop_id), and the per-row foreign-key check was a fifth of the database's work in a
1,000,000-order backfill. Django keeps the relation (joins, on_delete=CASCADE by its collector).
Reversible: AlterField back re-creates the index and the constraint (validating existing rows).
"""
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('commerce', '0002_customermonthsummary_cohort_month'),
        ('shops', '0002_oauthstate_expires_at'),
    ]

    operations = [
        migrations.AlterField(
            model_name='customer',
            name='shop',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='shops.shop'),
        ),
        migrations.AlterField(
            model_name='customermonthsummary',
            name='shop',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='shops.shop'),
        ),
        migrations.AlterField(
            model_name='customersummary',
            name='shop',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='shops.shop'),
        ),
        migrations.AlterField(
            model_name='order',
            name='shop',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='shops.shop'),
        ),
        migrations.AlterField(
            model_name='orderlineitem',
            name='shop',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='shops.shop'),
        ),
        migrations.AlterField(
            model_name='refund',
            name='shop',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='shops.shop'),
        ),
    ]
