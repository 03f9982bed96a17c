"""Per-user API keys: ``ha_<key id>_<secret>``, shown once, stored as a salted HMAC-SHA-256.

The key id (12 hex digits) is stored in clear and is how a key is found; the
secret (``secrets.token_urlsafe(32)``, 256 random bits) is never stored: only
``HMAC-SHA-256(salt, secret)`` with a random per-key salt, compared in
constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "ha_"
_ID_HEX = 12


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly made key: ``value`` goes to the user once, the rest to the database."""

    value: str
    key_id: str
    salt: str
    digest: str


def generate() -> NewKey:
    """A new random key and what to store of it."""
    key_id = secrets.token_hex(_ID_HEX // 2)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    return NewKey(f"{PREFIX}{key_id}_{secret}", key_id, salt, digest(salt, secret))


def digest(salt: str, secret: str) -> str:
    """Hex HMAC-SHA-256 of ``secret`` keyed by ``salt``."""
    return hmac.new(salt.encode("ascii"), secret.encode("utf-8"), hashlib.sha256).hexdigest()


def parse(value: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed key, else None."""
    if not value.startswith(PREFIX) or len(value) < len(PREFIX) + _ID_HEX + 2:
        return None
    key_id = value[len(PREFIX) : len(PREFIX) + _ID_HEX]
    rest = value[len(PREFIX) + _ID_HEX :]
    if not rest.startswith("_") or any(c not in "0123456789abcdef" for c in key_id):
        return None
    return key_id, rest[1:]


def verify(secret: str, salt: str, expected_digest: str) -> bool:
    """Whether ``secret`` hashes to ``expected_digest`` (constant-time)."""
    return hmac.compare_digest(digest(salt, secret), expected_digest)
