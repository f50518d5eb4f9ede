"""Formatting of report values by kind (money, rate, number, decimal, days) and heatmap shading."""
from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.templatetags.money import decimal, integer, money, percent

register = template.Library()


@register.simple_tag
def report_value(value, kind: str, currency: str = "") -> str:
    if value is None:
        return "–"
    if kind == "money":
        return money(Decimal(value), currency)
    if kind == "rate":
        return percent(Decimal(value))
    if kind == "number":
        return integer(int(value))
    if kind == "days":
        days = Decimal(value).quantize(Decimal(1))
        return ngettext("%(days)s day", "%(days)s days", int(days)) % {"days": decimal(days, 0)}
    return decimal(Decimal(str(value)), 2)


@register.simple_tag
def report_change(card) -> str:
    """+2.1 pts for rates, +4.0 % otherwise, – when there is nothing to compare with."""
    change = card.change
    if change is None:
        return "–"
    sign = "+" if change > 0 else ""
    if card.change_is_points:
        return _("%(sign)s%(points)s pts") % {"sign": sign, "points": decimal(change * 100, 1)}
    return f"{sign}{percent(change)}"


@register.filter
def heat(value, maximum) -> str:
    """Opacity 0..1 of a heatmap cell (value ÷ the table's maximum), as a CSS number."""
    try:
        if value is None or not maximum:
            return "0"
        return f"{min(float(value) / float(maximum), 1.0):.3f}"
    except (TypeError, ValueError, ZeroDivisionError):
        return "0"


@register.filter
def at(sequence, index):
    try:
        return sequence[index]
    except (IndexError, KeyError, TypeError):
        return None
