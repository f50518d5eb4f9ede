"""Data of the development store's shops. Only devshop reads these tables."""
from django.db import models


class Shop(models.Model):
    PLAN_CHOICES = [("basic", "Basic"), ("advanced", "Advanced"), ("plus", "Plus")]

    domain = models.CharField(max_length=255, unique=True)  # name.myshopify.com, the real form
    name = models.CharField(max_length=255)
    email = models.EmailField()
    currency_code = models.CharField(max_length=3, default="EUR")
    iana_timezone = models.CharField(max_length=64, default="Europe/Berlin")
    primary_locale = models.CharField(max_length=16, default="en")
    country_code = models.CharField(max_length=2, default="DE")
    plan = models.CharField(max_length=16, choices=PLAN_CHOICES, default="basic")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.domain
