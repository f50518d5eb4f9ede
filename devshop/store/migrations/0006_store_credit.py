"""Store credit: StoreCreditAccount (one per customer and currency) and its transactions, with
Shopify-like large ids (see 0002)."""
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('devshop_store', '0005_gift_cards'),
    ]

    operations = [
        migrations.CreateModel(
            name='StoreCreditAccount',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('currency', models.CharField(max_length=3)),
                ('balance', models.DecimalField(decimal_places=3, default=0, max_digits=20)),
                ('created_at', models.DateTimeField()),
                ('updated_at', models.DateTimeField()),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                               related_name='store_credit_accounts', to='devshop_store.customer')),
                ('shop', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+',
                                           to='devshop_store.shop')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('customer', 'currency'),
                                                        name='store_credit_account_unique_currency')],
            },
        ),
        migrations.CreateModel(
            name='StoreCreditTransaction',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('kind', models.CharField(choices=[('credit', 'credit')], default='credit', max_length=16)),
                ('amount', models.DecimalField(decimal_places=3, default=0, max_digits=20)),
                ('balance_after', models.DecimalField(decimal_places=3, default=0, max_digits=20)),
                ('remaining_amount', models.DecimalField(decimal_places=3, default=0, max_digits=20)),
                ('expires_at', models.DateTimeField(blank=True, null=True)),
                ('notify', models.BooleanField(default=False)),
                ('created_by_app', models.CharField(blank=True, max_length=255, null=True)),
                ('created_at', models.DateTimeField()),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                              related_name='transactions', to='devshop_store.storecreditaccount')),
                ('shop', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+',
                                           to='devshop_store.shop')),
            ],
        ),
        migrations.RunSQL(
            [
                "ALTER TABLE devshop_store_storecreditaccount ALTER COLUMN id RESTART WITH 1034719231000000001",
                "ALTER TABLE devshop_store_storecredittransaction ALTER COLUMN id RESTART WITH 1034719232000000001",
            ],
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
