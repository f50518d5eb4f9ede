"""Restart every identity column at a Shopify-like large number.

The starting points are ids from Shopify's documentation samples; all but the shop's are above 2**53, so
an app that round-trips ids through a JavaScript number or a Python float corrupts them visibly.
"""
from django.db import migrations

STARTS = {
    "devshop_store_shop": 548380009,
    "devshop_store_customer": 115310627314723954,
    "devshop_store_metafield": 1069228935000000001,
    "devshop_store_product": 788032119674292922,
    "devshop_store_productvariant": 642667041472713922,
    "devshop_store_order": 820982911946154508,
    "devshop_store_lineitem": 866550311766439020,
    "devshop_store_refund": 509562969000000001,
    "devshop_store_refundlineitem": 104689539000000001,
    "devshop_store_discountnode": 1057371238000000001,
    "devshop_store_discountredeemcode": 1057371100000000001,
    "devshop_store_discountredeemcodebulkcreation": 1057371300000000001,
    "devshop_store_bulkoperation": 1073817380000000001,
}


class Migration(migrations.Migration):
    dependencies = [("devshop_store", "0001_initial")]

    operations = [
        migrations.RunSQL(
            [f"ALTER TABLE {table} ALTER COLUMN id RESTART WITH {start}" for table, start in STARTS.items()],
            reverse_sql=migrations.RunSQL.noop,
        )
    ]
