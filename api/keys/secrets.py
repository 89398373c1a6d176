"""API key material: the secret is shown once, only its hash is stored, its prefix finds the row.

Keys look like `atk_3Fq9XbT2_<32 more url-safe characters>`. The first `PREFIX_LENGTH` characters are the
prefix (unique, shown in listings so people can tell keys apart); the whole key is hashed with SHA-256.
A fast hash is the right tool here: the secret has ~190 bits of entropy, so there is nothing to brute-force,
and it is checked on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_SCHEME = "atk_"
PREFIX_LENGTH = len(KEY_SCHEME) + 8
_SECRET_BYTES = 24


def new_key() -> str:
    body = secrets.token_urlsafe(_SECRET_BYTES + 6)
    return f"{KEY_SCHEME}{body[:8]}_{body[8:]}"


def key_prefix(key: str) -> str:
    return key[:PREFIX_LENGTH]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(key), stored_hash)


def looks_like_key(key: str) -> bool:
    return key.startswith(KEY_SCHEME) and len(key) > PREFIX_LENGTH + 16
