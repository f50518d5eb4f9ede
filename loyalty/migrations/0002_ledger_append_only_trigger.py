"""The points ledger refuses UPDATE and DELETE in the database itself, so raw SQL, a bulk update or a
cascade cannot rewrite history either. shop/redact erases a shop's ledger through
loyalty.services.ledger.ledger_purge_for_shop, which sets `loyalty.ledger_purge` for its transaction."""
from django.db import migrations

CREATE = """
CREATE FUNCTION loyalty_pointsentry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('loyalty.ledger_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'loyalty_pointsentry is append-only (% refused)', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER loyalty_pointsentry_append_only
    BEFORE UPDATE OR DELETE ON loyalty_pointsentry
    FOR EACH ROW EXECUTE FUNCTION loyalty_pointsentry_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS loyalty_pointsentry_append_only ON loyalty_pointsentry;
DROP FUNCTION IF EXISTS loyalty_pointsentry_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0001_initial")]
    operations = [migrations.RunSQL(CREATE, DROP)]
