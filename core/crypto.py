"""Encryption of secrets at rest (Shopify access and refresh tokens).

MultiFernet with the keys from TOKEN_ENCRYPTION_KEYS, newest first: rotating a key means putting the
new key in front; old ciphertexts still decrypt and are re-encrypted with the newest key on next write.
"""
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class TokenDecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise TokenDecryptionError("TOKEN_ENCRYPTION_KEYS is empty")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    return _fernet(tuple(settings.TOKEN_ENCRYPTION_KEYS)).encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    try:
        return _fernet(tuple(settings.TOKEN_ENCRYPTION_KEYS)).decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise TokenDecryptionError("stored token does not decrypt with any TOKEN_ENCRYPTION_KEYS") from exc
