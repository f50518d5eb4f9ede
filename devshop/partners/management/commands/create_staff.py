"""`python -m devshop create_staff [--shop DOMAIN] [--email E] [--password P]`: a shop admin login."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devshop.partners.services import staff_member_create

DEMO_EMAIL = "owner@example.com"
DEMO_PASSWORD = "devshop-owner"  # noqa: S105 - the documented demo login of a local tool


class Command(BaseCommand):
    help = "Create (or reset) a staff login for a shop's admin; the account owner by default."

    def add_arguments(self, parser):
        parser.add_argument("--shop", help="shop domain (name.myshopify.com); default: the only/first shop")
        parser.add_argument("--email", default=DEMO_EMAIL)
        parser.add_argument("--password", default=DEMO_PASSWORD)
        parser.add_argument("--first-name", default="Demo")
        parser.add_argument("--last-name", default="Owner")
        parser.add_argument("--locale", default="en")
        parser.add_argument("--staff", action="store_true", help="a staff account, not the account owner")

    def handle(self, *args, **o):
        from devshop.store.models import Shop

        shop = Shop.objects.filter(domain=o["shop"]).first() if o["shop"] else Shop.objects.order_by("pk").first()
        if shop is None:
            raise CommandError(f"no shop {o['shop'] or ''} exists yet: seed or create one first")
        staff = staff_member_create(
            shop=shop, email=o["email"], password=o["password"], first_name=o["first_name"],
            last_name=o["last_name"], locale=o["locale"], account_owner=not o["staff"],
        )
        base = settings.DEVSHOP_PUBLIC_URL
        self.stdout.write(f"Staff login for {shop.domain}: {staff.email} / {o['password']}")
        self.stdout.write(f"  admin: {base}/store/{shop.domain}/admin")
