"""python manage.py shop_sync_state <shop-domain>"""
from django.core.management.base import BaseCommand, CommandError

from commerce.selectors import sync_status
from shops.models import Shop


class Command(BaseCommand):
    help = "Print a shop's sync runs, its customer and order counts and its last good sync."

    def add_arguments(self, parser):
        parser.add_argument("shop_domain")

    def handle(self, *args, shop_domain: str, **options):
        shop = Shop.objects.filter(domain=shop_domain.strip().lower()).first()
        if shop is None:
            raise CommandError(f"unknown shop {shop_domain!r}")
        state = sync_status(shop, recent=20)
        out = self.stdout
        out.write(f"shop            {state.shop_domain}")
        out.write(f"customers       {state.customers}")
        out.write(f"orders          {state.orders}")
        out.write(f"last good sync  {state.last_good_sync_at.isoformat() if state.last_good_sync_at else 'never'}")
        out.write("runs:")
        if not state.recent:
            out.write("  (none)")
        for run in state.recent:
            total = f"/{run.rows_total}" if run.rows_total is not None else ""
            line = (
                f"  #{run.id} {run.kind:<9} {run.status:<9} {run.stage or '-':<9} "
                f"read {run.rows_read}{total} written {run.rows_written} "
                f"started {run.started_at.isoformat() if run.started_at else '-'} "
                f"finished {run.finished_at.isoformat() if run.finished_at else '-'}"
            )
            if run.stalled:
                line += " STALLED"
            if run.error:
                line += f" error: {run.error}"
            out.write(line)
