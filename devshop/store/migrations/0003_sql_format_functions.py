"""SQL helpers the bulk operation writer uses to format values exactly like the GraphQL API does.

devshop_dec: Shopify's Decimal scalar text ("10.0", "24.99"), the same as formats.decimal_str.
devshop_ts: Shopify's DateTime text in UTC ("2019-06-04T17:53:06Z"), the same as formats.iso_utc.
Both are IMMUTABLE SQL functions, which PostgreSQL inlines into the calling query.
"""
from django.db import migrations

CREATE = [
    """
    CREATE OR REPLACE FUNCTION devshop_dec(value numeric) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT CASE WHEN value IS NULL THEN NULL
                  WHEN scale(trim_scale(value)) = 0 THEN trim_scale(value)::text || '.0'
                  ELSE trim_scale(value)::text END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION devshop_ts(value timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT to_char(value AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    $$
    """,
]
DROP = ["DROP FUNCTION IF EXISTS devshop_dec(numeric)", "DROP FUNCTION IF EXISTS devshop_ts(timestamptz)"]


class Migration(migrations.Migration):
    dependencies = [("devshop_store", "0002_shopify_like_ids")]

    operations = [migrations.RunSQL(CREATE, reverse_sql=DROP)]
