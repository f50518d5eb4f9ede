"""Personal referral codes: readable (the customer's first name, then random characters without the
look-alikes 0/O, 1/I/L) and hard to guess: 8 random characters from 31 are 31**8 ≈ 8.5e11 codes per name,
and a link hands out at most `friend_codes_per_day` friend codes a day, so guessing codes buys nothing.
"""
from __future__ import annotations

import re
import secrets
import unicodedata

from discounts.codes import ALPHABET

RANDOM_LENGTH = 8
NAME_LENGTH = 10
CODE_RE = re.compile(r"^[A-Z0-9]{1,10}-[A-Z0-9]{4,12}$|^[A-Z0-9]{6,16}$")


def referral_code_generate(first_name: str = "") -> str:
    """`ANNA-7KQ3M9P2`, or `FRIEND-…` when the name has no latin letters to show."""
    folded = unicodedata.normalize("NFKD", first_name or "").encode("ascii", "ignore").decode().upper()
    name = re.sub(r"[^A-Z]", "", folded)[:NAME_LENGTH] or "FRIEND"
    return f"{name}-" + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))


def referral_code_clean(raw: str | None) -> str:
    """A code as typed or taken from a URL, upper-cased; "" when it cannot be a referral code (so a
    lookup with garbage never reaches the database)."""
    value = (raw or "").strip().upper()
    return value if CODE_RE.match(value) else ""
