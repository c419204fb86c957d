"""Link tokens: made random, stored only as a SHA-256 digest, compared in constant time.

A token is 128 random bits or more (``secrets.token_urlsafe(16)`` = 22 characters). The
database keeps its digest and looks it up by digest: whoever reads the database or an
export learns no link that opens anything. The digest of a 128-bit random value cannot be
guessed back, so no salt is needed; the lookup by digest leaks nothing about the token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

TOKEN_BYTES = 16  # 128 bits
DIGEST = re.compile(r"[0-9a-f]{64}")


def new_token() -> str:
    """A fresh link token (128 random bits, URL-safe)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_key() -> str:
    """A random record key in the form of a digest: identifies a record, opens nothing."""
    return secrets.token_hex(32)


def digest(token: str) -> str:
    """The SHA-256 digest (hex) a token is stored and looked up as."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def matches(token: str | None, stored_digest: str | None) -> bool:
    """Whether `token` is the one `stored_digest` was made from (constant time)."""
    if not token or not stored_digest:
        return False
    return hmac.compare_digest(digest(token), stored_digest)


def record_key(value: str) -> str:
    """The stored key for a token found in an export file.

    Exports since the access schema carry the stored keys (digests); older exports carry the
    plain tokens, which are stored as their digest. Only for matching imported records:
    a key given as a link is never accepted as the token itself.
    """
    return value if DIGEST.fullmatch(value) else digest(value)
