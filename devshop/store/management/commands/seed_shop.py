"""python -m devshop seed_shop --preset de --customers 5000 --years 3 --seed 1

Creates (or updates) the shop and seeds a realistic history into it. See seeding/generate.py.
"""
import json

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from devshop.store import services
from devshop.store.markets import PRESETS
from devshop.store.models import Shop
from devshop.store.seeding.generate import SeedSpec, seed_shop

RESET_SQL = [
    "DELETE FROM devshop_store_refundlineitem WHERE refund_id IN (SELECT id FROM devshop_store_refund WHERE shop_id = %s)",
    "DELETE FROM devshop_store_refund WHERE shop_id = %s",
    "DELETE FROM devshop_store_lineitem WHERE shop_id = %s",
    "DELETE FROM devshop_store_order WHERE shop_id = %s",
    "DELETE FROM devshop_store_metafield WHERE shop_id = %s",
    "DELETE FROM devshop_store_customer WHERE shop_id = %s",
    "DELETE FROM devshop_store_discountredeemcodebulkcreation WHERE shop_id = %s",
    "DELETE FROM devshop_store_discountredeemcode WHERE shop_id = %s",
    "DELETE FROM devshop_store_discountnode WHERE shop_id = %s",
    "DELETE FROM devshop_store_productvariant WHERE shop_id = %s",
    "DELETE FROM devshop_store_product WHERE shop_id = %s",
]


class Command(BaseCommand):
    help = "Create a development shop and seed customers, orders, refunds and discounts into it."

    def add_arguments(self, parser):
        parser.add_argument("--preset", choices=sorted(PRESETS), help="market defaults: de, se, ee, gr, mk")
        parser.add_argument("--domain")
        parser.add_argument("--name")
        parser.add_argument("--email")
        parser.add_argument("--currency")
        parser.add_argument("--locale")
        parser.add_argument("--country")
        parser.add_argument("--timezone")
        parser.add_argument("--plan", choices=["basic", "advanced", "plus"])
        parser.add_argument("--customers", type=int, default=2000)
        parser.add_argument("--years", type=float, default=3.0)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--end", help="ISO date-time the history ends at (default: today 00:00 UTC)")
        parser.add_argument("--products", type=int, default=60)
        parser.add_argument("--rate-scale", type=float, default=1.0,
                            help="multiply every customer's purchase rate (CDNOW's shop is a quiet one)")
        parser.add_argument("--reset", action="store_true", help="delete the shop's existing data first")

    def handle(self, *args, **opts):
        preset = PRESETS[opts["preset"]] if opts["preset"] else PRESETS["de"]
        domain = opts["domain"] or preset.domain
        fields = {
            "name": opts["name"] or preset.name,
            "currency_code": (opts["currency"] or preset.currency).upper(),
            "primary_locale": opts["locale"] or preset.locale,
            "country_code": (opts["country"] or preset.country).upper(),
            "iana_timezone": opts["timezone"] or preset.timezone,
            "enabled_presentment_currencies": [preset.currency, *preset.other_currencies],
        }
        if opts["email"]:
            fields["email"] = opts["email"]
        if opts["plan"]:
            fields["plan"] = opts["plan"]
        if opts["customers"] < 0 or opts["years"] <= 0:
            raise CommandError("--customers must be >= 0 and --years > 0")
        try:
            shop, created = services.shop_create(domain=domain, **fields)
        except services.StoreError as exc:
            raise CommandError(str(exc)) from exc
        if opts["reset"] and not created:
            with transaction.atomic(), connection.cursor() as cur:
                for sql in RESET_SQL:
                    cur.execute(sql, [shop.id])
        spec = SeedSpec(customers=opts["customers"], years=opts["years"], seed=opts["seed"], end=opts["end"],
                        products=opts["products"], rate_scale=opts["rate_scale"])
        result = seed_shop(Shop.objects.get(pk=shop.pk), spec)
        self.stdout.write(json.dumps({"shop": shop.domain, "created": created, **result}))
