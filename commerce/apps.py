from django.apps import AppConfig


class CommerceConfig(AppConfig):
    """Customers, orders and the per-customer summaries the reports read.

    ready() plugs commerce into shopify_sync's registries (webhook topics, sync kinds) so shopify_sync
    never imports commerce: the dependency points one way (commerce -> shopify_sync).
    """

    name = "commerce"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import integration

        integration.register_with_shopify_sync()
