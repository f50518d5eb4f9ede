from __future__ import annotations


class ReferralError(Exception):
    """Base of referral errors; `message` is translated and fit to show to the customer or merchant."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ReferralRefused(ReferralError):
    """The request breaks a rule of the programme (own link, existing customer, limit reached...)."""
