"""What the three examples share: the policy file next to them and a secret key from the environment."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from consentgate import Policy

POLICY = Policy.from_file(Path(__file__).with_name("consent.toml"))


def secret_key() -> str:
    """``CONSENTGATE_SECRET`` in production. Without it the example makes a random key for this run (and
    says so): every visitor's choice is then forgotten at the next restart."""
    key = os.environ.get("CONSENTGATE_SECRET")
    if key:
        return key
    print("examples: CONSENTGATE_SECRET is not set; using a random key for this run", file=sys.stderr)
    return secrets.token_urlsafe(32)
