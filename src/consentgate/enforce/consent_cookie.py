"""The signed consent cookie: what the visitor chose, under which policy revision, and when.

The value is compact text signed with itsdangerous (HMAC-SHA256)::

    c1.<revision>.<given_at, base 36 seconds>.<consent id>.<category>~<category>.<signature>

It carries no personal data: the consent id is random and only links receipts together.

Its name: ``__Host-consentgate`` over HTTPS (``Secure; Path=/``, no ``Domain``: this host only),
``consentgate`` over plain HTTP. With ``[consent_cookie] domain = "school.example"`` in the policy a
choice made on one subdomain holds on all of them: the cookie is then
``__Secure-consentgate; Domain=school.example; Secure`` (the ``__Host-`` prefix forbids a Domain),
or ``consentgate; Domain=school.example`` over HTTP. Every name is read, the configured one first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
import time
from collections.abc import Iterable
from email.utils import formatdate
from typing import NamedTuple

from itsdangerous import BadSignature, Signer

from consentgate.enforce.keys import SecretKeys
from consentgate.enforce.policy import Policy

__all__ = ["CONSENT_COOKIE_NAMES", "ConsentCookieCodec", "StoredChoice", "new_consent_id"]

COOKIE_NAME = "consentgate"
SECURE_COOKIE_NAME = "__Host-consentgate"
DOMAIN_COOKIE_NAME = "__Secure-consentgate"  # shared with the subdomains of [consent_cookie] domain
#: every name a consent cookie may have (always allowed, never filtered out)
CONSENT_COOKIE_NAMES = frozenset({COOKIE_NAME, SECURE_COOKIE_NAME, DOMAIN_COOKIE_NAME})
MAX_COOKIE_BYTES = 1024  # a real value is under 200 bytes; anything bigger is not ours
_FORMAT = "c1"
_CLOCK_SKEW = 300  # seconds a cookie may claim to come from the future (clock differences)
_CACHE_LIMIT = 2048


def new_consent_id() -> str:
    """A random consent id: 96 bits, URL-safe, no link to the person."""
    return secrets.token_urlsafe(12)


class StoredChoice(NamedTuple):
    """A decision read back from a valid consent cookie (a tuple: built on every cache miss)."""

    granted: frozenset[str]
    revision: int
    given_at: int
    consent_id: str


class _CachingSigner(Signer):
    """itsdangerous' Signer derives the HMAC key from the secret on every call; do it once per key."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._derived: dict[bytes, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        raw = self.secret_keys[-1] if secret_key is None else secret_key
        key = raw.encode() if isinstance(raw, str) else raw
        derived = self._derived.get(key)
        if derived is None:
            derived = super().derive_key(key)
            self._derived[key] = derived
        return derived


class ConsentCookieCodec:
    """Encodes and verifies consent cookies for one policy and one set of secret keys."""

    def __init__(self, keys: SecretKeys, policy: Policy) -> None:
        self._policy = policy
        self.domain = policy.consent_cookie_domain
        secure = DOMAIN_COOKIE_NAME if self.domain else SECURE_COOKIE_NAME
        other = SECURE_COOKIE_NAME if self.domain else DOMAIN_COOKIE_NAME
        #: the names a request's consent cookie is looked for under, in order (the one this policy
        #: writes over HTTPS first; the other prefixed one is a choice from before a change)
        self.read_order = (secure.encode(), other.encode(), COOKIE_NAME.encode())
        self._secure_name = secure
        self._domain_attr = f"; Domain={self.domain}" if self.domain else ""
        self._signer = _CachingSigner(
            list(keys.keys), salt="consentgate.consent-cookie", digest_method=hashlib.sha256
        )
        self._known = frozenset(policy.optional_categories)
        self._granted_sets: dict[bytes, frozenset[str]] = {}
        # The newest key's HMAC state, copied per verification (cheaper than a new HMAC each time);
        # the same computation as itsdangerous' HMACAlgorithm with the derived key.
        self._mac = hmac.new(self._signer.derive_key(), digestmod=hashlib.sha256)
        # Verified values, so a returning visitor's cookie is checked once (bounded).
        self._cache: dict[bytes, StoredChoice | None] = {}

    def derive_key(self, purpose: bytes) -> bytes:
        """Secret material for another use than signing (a keyed hash), from the newest key."""
        return hmac.new(self._signer.derive_key(), b"consentgate." + purpose, hashlib.sha256).digest()

    # -- writing ---------------------------------------------------------------------------

    def encode(self, granted: Iterable[str], consent_id: str, given_at: int | None = None) -> str:
        """Sign a decision. ``granted`` may include essential; it is implied and not stored."""
        when = int(time.time()) if given_at is None else given_at
        names = "~".join(c for c in self._policy.optional_categories if c in set(granted))
        payload = f"{_FORMAT}.{self._policy.revision}.{_base36(when)}.{consent_id}.{names}"
        return self._signer.sign(payload.encode("ascii")).decode("ascii")

    def cookie_name(self, https: bool) -> str:
        return self._secure_name if https else COOKIE_NAME

    def set_cookie_header(self, value: str, *, https: bool, max_age: int) -> bytes:
        """The ``Set-Cookie`` value that stores a decision (R-CK-1)."""
        expires = formatdate(time.time() + max_age, usegmt=True)
        attrs = f"Max-Age={max_age}; Expires={expires}; Path=/{self._domain_attr}; HttpOnly; SameSite=Lax"
        if https:
            attrs += "; Secure"
        return f"{self.cookie_name(https)}={value}; {attrs}".encode("ascii")

    def clear_cookie_header(self, *, https: bool) -> bytes:
        return self._clear(self.cookie_name(https), self._domain_attr, https)

    def clear_cookie_headers(self, *, https: bool) -> list[bytes]:
        """Deletions of the consent cookie ("forget me"): the one this policy writes and, with a
        Domain, the host-only one a choice made before it may have left (it would be read next)."""
        headers = [self.clear_cookie_header(https=https)]
        headers += self.superseded_cookie_headers(https=https)
        return headers

    def superseded_cookie_headers(self, *, https: bool) -> list[bytes]:
        """With a Domain over HTTPS: deletes ``__Host-consentgate``, which a choice made before the
        policy shared the cookie left on this host (a decision now writes the shared one)."""
        return [self._clear(SECURE_COOKIE_NAME, "", True)] if self.domain and https else []

    def host_matches(self, host: bytes | None) -> bool:
        """Whether a browser on ``host`` (a Host header) keeps the cookie: without a Domain always;
        with one, only on that domain or a subdomain of it."""
        if not self.domain or host is None:
            return True
        name = host.decode("latin-1").lower().rsplit(":", 1)[0] if not host.startswith(b"[") else ""
        return name == self.domain or name.endswith("." + self.domain)

    @staticmethod
    def _clear(name: str, domain_attr: str, https: bool) -> bytes:
        secure = "; Secure" if https else ""
        expired = "Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        return f"{name}=; {expired}; Path=/{domain_attr}; HttpOnly; SameSite=Lax{secure}".encode("ascii")

    # -- reading ---------------------------------------------------------------------------

    def decode_any(self, value: bytes) -> StoredChoice | None:
        """Verify the signature and parse, whatever the revision or age; ``None`` if not ours."""
        cache = self._cache
        try:
            return cache[value]
        except KeyError:
            pass
        choice = self._verify(value)
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[value] = choice
        return choice

    def decode(self, value: bytes, now: float | None = None) -> StoredChoice | None:
        """A choice that is valid now: signed by one of our keys, current revision, not expired."""
        choice = self.decode_any(value)
        if choice is None or not self.is_current(choice, now):
            return None
        return choice

    def is_current(self, choice: StoredChoice, now: float | None = None) -> bool:
        start, end = self.current_window(choice)
        return start <= (time.time() if now is None else now) <= end

    def current_window(self, choice: StoredChoice) -> tuple[float, float]:
        """The times (epoch seconds) between which ``choice`` is current: empty for another
        policy revision (R-CON-8: a new revision asks again), else from when it was given (less
        the allowed clock skew) until its category lifetime runs out."""
        if choice.revision != self._policy.revision:
            return (math.inf, -math.inf)
        lifetime = self._policy.max_age_seconds(bool(choice.granted))
        return (choice.given_at - _CLOCK_SKEW, choice.given_at + lifetime)

    def verify(self, value: bytes) -> StoredChoice | None:
        """Like :meth:`decode_any` without the memo (for callers that keep their own)."""
        return self._verify(value)

    def _verify(self, value: bytes) -> StoredChoice | None:
        if len(value) > MAX_COOKIE_BYTES:
            return None
        payload, _, signature = value.rpartition(b".")
        # Fast path: the newest key, compared in constant time; older keys through itsdangerous'
        # full verification (only during a key rotation).
        mac = self._mac.copy()
        mac.update(payload)
        expected = base64.urlsafe_b64encode(mac.digest()).rstrip(b"=")
        if not hmac.compare_digest(expected, signature):
            # Only canonical signatures: base64 decoding would otherwise skip stray bytes.
            if not _SIGNATURE_CHARS.fullmatch(signature):
                return None
            try:
                payload = self._signer.unsign(value)
            except (BadSignature, ValueError, TypeError):
                return None
        try:
            fmt, revision, given_at, consent_id, names = payload.split(b".")
            if fmt != _FORMAT_BYTES:
                return None
            granted = self._granted_sets.get(names)
            if granted is None:
                granted = frozenset(n for n in names.decode("ascii").split("~") if n in self._known)
                if len(self._granted_sets) < 256:  # signed by us: few distinct sets exist
                    self._granted_sets[names] = granted
            return StoredChoice(granted, int(revision), int(given_at, 36), consent_id.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            return None


_SIGNATURE_CHARS = re.compile(rb"[A-Za-z0-9_-]{20,100}")


_FORMAT_BYTES = _FORMAT.encode()


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out
