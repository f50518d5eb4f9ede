from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "devshop.partners"
    label = "devshop_partners"
