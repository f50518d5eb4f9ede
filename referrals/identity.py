"""How the fraud rules tell that two people are the same person: normalized e-mail addresses, phone
numbers and shipping addresses, compared as keyed hashes so the raw values need not be stored twice.

E-mail normalization (the rule behind "a.b+x@gmail.com is ab@gmail.com"):
- lower-case, trimmed;
- `googlemail.com` is `gmail.com`, and Gmail ignores dots in the local part;
- sub-addressing (`+tag`) is removed for the providers that deliver `name+tag@` to `name@` (Gmail,
  Microsoft, Apple, Fastmail, Proton). Other domains keep their local part: on a company server `a+b@`
  may well be another mailbox, and wrongly flagging an honest friend costs more than missing a rare
  trick (and every other rule still applies).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from django.conf import settings

GMAIL_DOMAINS = {"gmail.com", "googlemail.com"}
PLUS_ADDRESSING_DOMAINS = GMAIL_DOMAINS | {
    "outlook.com", "hotmail.com", "live.com", "msn.com", "icloud.com", "me.com", "mac.com",
    "fastmail.com", "fastmail.fm", "proton.me", "protonmail.com", "pm.me",
}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def email_normalize(email: str | None) -> str:
    """The mailbox an address delivers to, as far as we can tell; "" for an empty or invalid address."""
    value = (email or "").strip().lower()
    if not EMAIL_RE.match(value):
        return ""
    local, domain = value.rsplit("@", 1)
    if domain in PLUS_ADDRESSING_DOMAINS:
        local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}" if local else ""


def phone_digits(phone: str | None) -> str:
    """The last 9 digits of a phone number: enough to identify a line and blind to the different ways
    one number is written (+49 170 …, 0170 …, 0049170…). "" when there are fewer than 7 digits."""
    digits = re.sub(r"\D", "", phone or "")
    return digits[-9:] if len(digits) >= 7 else ""


# Letters NFKD does not decompose into a base letter: without these "Hauptstraße" ≠ "Hauptstrasse".
_SPELLED_OUT = str.maketrans({"ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "ø": "o", "Ø": "o", "œ": "oe", "Œ": "oe",
                              "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "þ": "th", "Þ": "th"})


def _fold(value: Any) -> str:
    text = str(value or "").translate(_SPELLED_OUT)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]", "", text)


def address_key(address: Mapping[str, Any] | None) -> str:
    """A shipping address reduced to street line, postcode and country (names, case, punctuation and
    the second line are left out: "Main St. 5" and "main st 5" are one address). "" when incomplete."""
    if not address:
        return ""
    street, postcode = _fold(address.get("address1")), _fold(address.get("zip"))
    country = _fold(address.get("country_code") or address.get("country"))
    if not street or not (postcode or country):
        return ""
    return f"{street}|{postcode}|{country}"


def keyed_hash(shop_id: int, kind: str, value: str) -> str:
    """HMAC-SHA256 of a normalized value, keyed by the app secret and the shop: equal values of one shop
    compare equal, and the stored hashes reveal nothing without the key. "" for an empty value."""
    if not value:
        return ""
    key = f"{settings.SECRET_KEY}:referrals:{shop_id}".encode()
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
