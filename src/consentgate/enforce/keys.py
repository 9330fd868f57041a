"""Secret keys that sign the consent cookie: validated once, hidden from ``repr`` and logs."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["MIN_SECRET_LENGTH", "SecretKeys", "WeakSecretError"]

logger = logging.getLogger("consentgate")

MIN_SECRET_LENGTH = 32
DEVELOPMENT_KEY_WARNING = (
    "consentgate: development mode: signing consent cookies with a random key made at start-up; "
    "every restart asks visitors again. Never use development mode in production."
)


class WeakSecretError(ValueError):
    """The secret key is missing or too weak to sign consent cookies."""


@dataclass(frozen=True, slots=True)
class SecretKeys:
    """Signing keys, oldest first and newest last; the newest signs, all of them verify.

    ``repr`` never shows the keys.
    """

    keys: tuple[str, ...] = field(repr=False)

    def __repr__(self) -> str:
        return f"SecretKeys(<{len(self.keys)} hidden>)"

    @property
    def newest(self) -> str:
        return self.keys[-1]

    @classmethod
    def load(
        cls, secret_key: str | Sequence[str] | SecretKeys | None, *, development: bool = False
    ) -> SecretKeys:
        """Validate the configured key(s).

        ``secret_key`` is one string or a sequence for rotation (oldest first, newest last: add the
        new key at the end, drop the old one once every cookie it signed has expired). Outside
        development mode a missing or short key (under 32 characters) is a start-up error.
        """
        if isinstance(secret_key, SecretKeys):
            return secret_key
        if secret_key is None or secret_key == "" or (not isinstance(secret_key, str) and not secret_key):
            if development:
                logger.warning(DEVELOPMENT_KEY_WARNING)
                return cls((secrets.token_urlsafe(32),))
            raise WeakSecretError(
                "consentgate: secret_key is missing. Give a random string of at least "
                f"{MIN_SECRET_LENGTH} characters (for example the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`), "
                "or pass development=True for local development only."
            )
        keys = (secret_key,) if isinstance(secret_key, str) else tuple(secret_key)
        for index, key in enumerate(keys):
            if not isinstance(key, str):
                raise WeakSecretError(f"consentgate: secret_key[{index}] must be a string")
            if not development and (len(key) < MIN_SECRET_LENGTH or len(set(key)) < 8):
                raise WeakSecretError(
                    f"consentgate: secret_key[{index}] is too weak ({len(key)} characters, "
                    f"{len(set(key))} distinct): use at least {MIN_SECRET_LENGTH} random characters, "
                    "or pass development=True for local development only."
                )
        return cls(keys)
