"""Money and rates as the merchant reads them, in the active language's number format."""
from decimal import Decimal

from django import template
from django.utils.formats import number_format

from core.money import MINOR_UNITS, Money

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return "–"
    rounded = Money(Decimal(amount), currency).rounded().amount
    places = MINOR_UNITS.get(currency, 2)
    return f"{number_format(rounded, decimal_pos=places, use_l10n=True, force_grouping=True)} {currency}"


@register.filter
def percent(rate: Decimal | None, places: int = 1) -> str:
    if rate is None:
        return "–"
    return f"{number_format(Decimal(rate) * 100, decimal_pos=places, use_l10n=True)} %"


@register.filter
def decimal(value: Decimal | None, places: int = 2) -> str:
    if value is None:
        return "–"
    return number_format(Decimal(value), decimal_pos=places, use_l10n=True, force_grouping=True)


@register.filter
def integer(value: int | None) -> str:
    if value is None:
        return "–"
    return number_format(value, decimal_pos=0, use_l10n=True, force_grouping=True)
