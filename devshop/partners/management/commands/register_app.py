"""`python -m devshop register_app --toml shopify.app.toml --client-secret S [--application-url URL]`"""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from devshop.partners.services import AppConfigError, app_register_from_toml


class Command(BaseCommand):
    help = "Deploy an app configuration from shopify.app.toml to the development store, as `shopify app deploy` does."

    def add_arguments(self, parser):
        parser.add_argument("--toml", required=True, type=Path)
        parser.add_argument("--client-secret", required=True)
        parser.add_argument(
            "--application-url",
            help="Override application_url; absolute URLs on the toml's own origin move with it.",
        )

    def handle(self, *args, toml: Path, client_secret: str, application_url: str | None, **options):
        try:
            app = app_register_from_toml(toml_path=toml, client_secret=client_secret, application_url=application_url)
        except (AppConfigError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Registered {app.name} (client_id {app.client_id}) at {app.application_url}")
        self.stdout.write(f"  redirect_urls: {', '.join(app.redirect_urls) or '-'}")
        self.stdout.write(f"  scopes: {','.join(app.scopes) or '-'}")
        self.stdout.write(f"  webhooks ({app.webhooks_api_version}): "
                          f"{', '.join(s['topic'] for s in app.toml_subscriptions) or '-'}; "
                          f"compliance: {', '.join(app.compliance_uris) or '-'}")
        if app.proxy_url:
            self.stdout.write(f"  app proxy: /{app.proxy_prefix}/{app.proxy_subpath} -> {app.proxy_url}")
