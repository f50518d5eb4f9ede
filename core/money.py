"""Money is an exact Decimal amount with an ISO 4217 currency code, never a float."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import models

# Decimal places per currency for display and rounding at the edges (ISO 4217 minor units).
MINOR_UNITS = {"JPY": 0, "KRW": 0, "HUF": 2, "ISK": 0, "CLP": 0, "KWD": 3, "BHD": 3}


def money_field(**kwargs) -> models.DecimalField:
    """The one column type for amounts: 20 digits, 3 decimals (enough for KWD/BHD)."""
    kwargs.setdefault("max_digits", 20)
    kwargs.setdefault("decimal_places", 3)
    kwargs.setdefault("default", Decimal("0"))
    return models.DecimalField(**kwargs)


def currency_field(**kwargs) -> models.CharField:
    kwargs.setdefault("max_length", 3)
    return models.CharField(**kwargs)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, float):
            raise TypeError("Money amounts are Decimal, never float")
        if not isinstance(self.amount, Decimal):
            object.__setattr__(self, "amount", Decimal(str(self.amount)))
        if len(self.currency) != 3:
            raise ValueError(f"not an ISO 4217 currency code: {self.currency!r}")

    @classmethod
    def parse(cls, amount: str | int | Decimal | None, currency: str) -> Money:
        """Parse Shopify's string amounts ("403.00") exactly."""
        return cls(Decimal(str(amount if amount not in (None, "") else "0")), currency.upper())

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def rounded(self) -> Money:
        """Rounded to the currency's minor unit, banker's rounding (the rounding mode we state)."""
        places = MINOR_UNITS.get(self.currency, 2)
        return Money(self.amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN), self.currency)

    def __str__(self) -> str:
        return f"{self.rounded().amount} {self.currency}"
