from django.apps import AppConfig


class ShopifySyncConfig(AppConfig):
    name = "shopify_sync"

    def ready(self) -> None:
        # Registers the app/uninstalled and compliance handlers before any other app adds its topics.
        from . import webhook_handlers  # noqa: F401
