"""Who may see the dashboard: access tokens (several during a rotation) and the cookie that
remembers a signed-in operator, holding a keyed hash of the token, never the token."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

__all__ = ["COOKIE_NAME", "MIN_TOKEN_LENGTH", "TOKEN_PARAM", "Tokens"]

COOKIE_NAME = "consentgate_dashboard"
MIN_TOKEN_LENGTH = 32
TOKEN_PARAM = "token"  # noqa: S105 - the query parameter name
_COOKIE_CONTEXT = b"consentgate-dashboard-cookie/1"


class Tokens:
    """The accepted tokens, kept only as digests; ``repr`` never shows them."""

    __slots__ = ("_cookie_values", "_digests")

    def __init__(self, tokens: Sequence[str]) -> None:
        self._digests = tuple(hashlib.sha256(t.encode()).digest() for t in tokens)
        self._cookie_values = tuple(hashlib.sha256(self.cookie_value_for(t)).digest() for t in tokens)

    def __repr__(self) -> str:
        return f"<{len(self._digests)} dashboard token(s) hidden>"

    def check_token(self, candidate: str) -> bool:
        """Constant-time: every configured token is compared, equal-length digests only."""
        digest = hashlib.sha256(candidate.encode("utf-8", "surrogateescape")).digest()
        found = False
        for expected in self._digests:
            found |= hmac.compare_digest(digest, expected)
        return found

    def check_cookie(self, candidate: bytes) -> bool:
        digest = hashlib.sha256(candidate).digest()
        found = False
        for expected in self._cookie_values:
            found |= hmac.compare_digest(digest, expected)
        return found

    @staticmethod
    def cookie_value_for(token: str) -> bytes:
        """What the access cookie holds: a keyed hash of the token, so the cookie never reveals it."""
        return hmac.new(token.encode(), _COOKIE_CONTEXT, hashlib.sha256).hexdigest().encode()
