"""python manage.py shop_resync <shop-domain> [--kind backfill|reconcile]"""
from django.core.management.base import BaseCommand, CommandError

from commerce.models import OrderSyncRun
from commerce.services.sync import sync_request
from shops.models import Shop


class Command(BaseCommand):
    help = "Queue a backfill or reconcile of a shop's customers and orders (joins one already active)."

    def add_arguments(self, parser):
        parser.add_argument("shop_domain")
        parser.add_argument("--kind", choices=OrderSyncRun.Kind.values, default=OrderSyncRun.Kind.BACKFILL)

    def handle(self, *args, shop_domain: str, kind: str, **options):
        shop = Shop.objects.filter(domain=shop_domain.strip().lower()).first()
        if shop is None:
            raise CommandError(f"unknown shop {shop_domain!r}")
        run = sync_request(shop=shop, kind=kind)
        self.stdout.write(f"{kind} run {run.pk} for {shop.domain}: {run.status}")
