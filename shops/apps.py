from django.apps import AppConfig


class ShopsConfig(AppConfig):
    name = "shops"

    def ready(self) -> None:
        from .shopify_urls import install_urllib_handler

        install_urllib_handler()
