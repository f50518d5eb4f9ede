from django.apps import AppConfig


class StoreConfig(AppConfig):
    name = "devshop.store"
    label = "devshop_store"
