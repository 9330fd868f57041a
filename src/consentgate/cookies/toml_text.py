"""Writing policy TOML by hand: quoted strings, cookie rules, and the check that a name can be
written as a policy pattern at all (the policy reader is the judge)."""

from __future__ import annotations

import json

from consentgate.enforce.policy import CookieRule, PolicyError
from consentgate.enforce.policy_reader import PolicyReader

__all__ = ["comment", "is_pattern", "rule_toml", "toml_string"]

_READER = PolicyReader("<draft>")


def toml_string(text: str) -> str:
    """A TOML basic string (JSON's escaping is valid TOML for every character)."""
    return json.dumps(text, ensure_ascii=False)


def comment(text: str, limit: int = 140) -> str:
    """Text made safe for a one-line ``# comment`` (no line breaks), cut at ``limit``."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def is_pattern(name: str) -> bool:
    """Whether ``name`` can stand in a policy's ``cookies`` list (else it can only be a comment)."""
    try:
        _READER.cookie_rule(name, "cookies")
    except PolicyError:
        return False
    return True


def rule_toml(rule: CookieRule) -> str:
    """A cookie rule as the policy writes it: the plain name, or an inline table."""
    fields = []
    if rule.path != "/":
        fields.append(f"path = {toml_string(rule.path)}")
    if rule.domain:
        fields.append(f"domain = {toml_string(rule.domain)}")
    for key, texts in (("description", rule.descriptions), ("duration", rule.durations)):
        if not texts:
            continue
        if set(texts) == {"*"}:
            fields.append(f"{key} = {toml_string(texts['*'])}")
        else:
            inner = ", ".join(f"{lang} = {toml_string(text)}" for lang, text in texts.items() if lang != "*")
            fields.append(f"{key} = {{ {inner} }}")
    if rule.provider:
        fields.append(f"provider = {toml_string(rule.provider)}")
    if not fields:
        return toml_string(rule.pattern)
    return "{ " + ", ".join([f"name = {toml_string(rule.pattern)}", *fields]) + " }"
