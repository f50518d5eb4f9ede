"""Discount code strings: readable aloud and typed from an e-mail, hard to guess.

The alphabet leaves out characters people confuse (0/O, 1/I/L) and vowels-free is not needed because
codes are random. 10 random characters from 31 give 31**10 ≈ 8e14 (~49 bits) per prefix; a code also
works only for the one customer it was made for, so guessing one is worthless to anybody else.
"""
from __future__ import annotations

import re
import secrets

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
RANDOM_LENGTH = 10
GROUP = 5
PREFIX_RE = re.compile(r"^[A-Z0-9]{1,12}$")


def code_generate(prefix: str) -> str:
    """`PREFIX-XXXXX-XXXXX` from a cryptographic random source."""
    prefix = prefix.upper()
    if not PREFIX_RE.match(prefix):
        raise ValueError(f"a code prefix is 1-12 letters or digits, not {prefix!r}")
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    groups = [body[i : i + GROUP] for i in range(0, RANDOM_LENGTH, GROUP)]
    return "-".join([prefix, *groups])


def code_normalize(code: str) -> str:
    """How codes are stored and compared: Shopify matches discount codes case-insensitively."""
    return code.strip().upper()
