"""The policy file: which cookies and hosts belong to which category, and the rules around them.

A privacy team writes the policy as TOML; :meth:`Policy.from_file` reads it once at start-up,
validates every key and freezes the result. Every mistake raises :class:`PolicyError` naming the
file, the key and the offending value, so a bad policy never reaches a running app.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from consentgate.enforce.policy_reader import PolicyReader
from consentgate.enforce.rules import (
    BUILTIN_LANGUAGES,
    ESSENTIAL,
    MARKETING,
    MAX_CONSENT_DAYS,
    Category,
    CookieClassifier,
    CookieRule,
    CrawlerRules,
    EmbedRules,
    EmbedService,
    PolicyError,
    Retention,
    StorageClassifier,
    TenantRules,
    VisitRules,
)

__all__ = [
    "BUILTIN_LANGUAGES",
    "ESSENTIAL",
    "MARKETING",
    "MAX_CONSENT_DAYS",
    "Category",
    "CookieRule",
    "CrawlerRules",
    "EmbedRules",
    "EmbedService",
    "Policy",
    "PolicyError",
    "Retention",
    "TenantRules",
    "VisitRules",
]


@dataclass(frozen=True, slots=True, eq=False)
class Policy:
    """A validated, frozen consent policy. Build it with :meth:`from_file` or :meth:`from_toml`."""

    revision: int
    categories: tuple[Category, ...]
    consent_max_age_days: int = MAX_CONSENT_DAYS
    refusal_max_age_days: int = 182
    unknown_cookies: Literal["block", "allow"] = "block"
    unknown_storage: Literal["report", "ignore"] = "report"
    csp: Literal["off", "report-only", "enforce"] = "off"
    default_language: str = "en"
    gpc_denies: frozenset[str] = frozenset({MARKETING})
    student_deny: frozenset[str] = frozenset({MARKETING})
    tenants: Mapping[str, TenantRules] = field(default_factory=lambda: MappingProxyType({}))
    visits: VisitRules = field(default_factory=VisitRules)
    retention: Retention = field(default_factory=Retention)
    crawlers: CrawlerRules = field(default_factory=CrawlerRules)
    embeds: EmbedRules = field(default_factory=EmbedRules)
    #: a folder of the site's language packs (relative paths: from the policy file's folder)
    locales: Path | None = None
    consent_cookie_domain: str | None = None
    """``[consent_cookie] domain``: the consent cookie is set for this domain and its subdomains
    (``__Secure-consentgate; Domain=...``) instead of for the one host (``__Host-consentgate``)."""
    source: str = "<policy>"
    fingerprint: str = ""
    _classifier: CookieClassifier = field(init=False, repr=False, compare=False)
    _by_name: Mapping[str, Category] = field(init=False, repr=False, compare=False)
    _storage: StorageClassifier = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_classifier", CookieClassifier(self.categories))
        object.__setattr__(self, "_storage", StorageClassifier(self.categories))
        object.__setattr__(self, "_by_name", MappingProxyType({c.name: c for c in self.categories}))

    # -- loading ---------------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path) -> Policy:
        """Read and validate a TOML policy file."""
        source = str(path)
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise PolicyError(source, "<file>", f"cannot read the policy file ({exc.strerror})") from exc
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError(source, "<file>", f"not UTF-8 text (byte {exc.start})") from exc
        return cls.from_toml(text, source=source, base=Path(path).resolve().parent)

    @classmethod
    def from_toml(cls, text: str, *, source: str = "<policy>", base: Path | None = None) -> Policy:
        """Parse and validate policy TOML text; ``source`` names it in error messages, ``base`` is
        where a relative ``locales`` folder is (default: the working directory)."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(source, "<toml>", f"not valid TOML: {exc}") from exc
        fingerprint = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return cls(**PolicyReader(source, base).read(data), fingerprint=fingerprint)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, source: str = "<policy>", base: Path | None = None
    ) -> Policy:
        """Validate a policy given as a mapping (the same shape as the TOML file)."""
        fingerprint = hashlib.sha256(repr(sorted(data.items(), key=str)).encode()).hexdigest()
        return cls(**PolicyReader(source, base).read(dict(data)), fingerprint=fingerprint)

    # -- queries ---------------------------------------------------------------------------

    @property
    def category_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.categories)

    @property
    def optional_categories(self) -> tuple[str, ...]:
        """Every category a visitor may switch on or off (all but essential)."""
        return tuple(c.name for c in self.categories if not c.required)

    def category(self, name: str) -> Category:
        return self._by_name[name]

    def has_category(self, name: str) -> bool:
        return name in self._by_name

    def category_of_cookie(self, name: str) -> str | None:
        """The category a cookie name belongs to, or ``None`` when no rule names it."""
        found = self._classifier.lookup(name)
        return None if found is None else found[0]

    def category_of_storage(self, name: str) -> str | None:
        """The category of a web-storage key or IndexedDB database name, or ``None``."""
        return self._storage.lookup(name)

    def deletion_rule(self, name: str) -> CookieRule:
        """The Path and Domain to use when deleting a cookie of this name (R-CK-2)."""
        found = self._classifier.lookup(name)
        if found is None:
            return CookieRule(name)
        rule = found[1]
        return CookieRule(name, rule.path, rule.domain)

    def student_denied(self, tenant: str | None) -> frozenset[str]:
        """Categories denied to a student of ``tenant`` (marketing always among them)."""
        if tenant is not None:
            rules = self.tenants.get(tenant)
            if rules is not None:
                return self.student_deny | rules.student_deny
        return self.student_deny

    def hosts_for(self, categories: Iterable[str]) -> tuple[str, ...]:
        """Third-party hosts of the given categories, in policy order, without repeats."""
        wanted = set(categories)
        seen: dict[str, None] = {}
        for category in self.categories:
            if category.name in wanted:
                for host in category.hosts:
                    seen.setdefault(host, None)
        return tuple(seen)

    def max_age_seconds(self, granted_optional: bool) -> int:
        """Lifetime of a stored choice: consent if anything optional was granted, else refusal."""
        days = self.consent_max_age_days if granted_optional else self.refusal_max_age_days
        return days * 86400

    def describe(self) -> str:
        """A plain-text summary for ``consentgate check``."""
        lines = [
            f"policy {self.source}",
            f"  revision {self.revision}; consent kept {self.consent_max_age_days} days, "
            f"refusal {self.refusal_max_age_days} days; unknown cookies: {self.unknown_cookies}; "
            f"unknown storage: {self.unknown_storage}; csp: {self.csp}",
        ]
        for category in self.categories:
            flag = " (always on)" if category.required else ""
            lines.append(f"  [{category.name}]{flag}")
            cookies = ", ".join(r.pattern for r in category.cookies) or "-"
            hosts = ", ".join(category.hosts) or "-"
            lines.append(f"    cookies: {cookies}")
            lines.append(f"    hosts:   {hosts}")
            if category.storage:
                lines.append(f"    storage: {', '.join(category.storage)}")
        lines.append(f"  students: denied {', '.join(sorted(self.student_deny))}")
        for tenant in self.tenants.values():
            extra = ", ".join(sorted(tenant.student_deny)) or "-"
            lines.append(f"  tenant {tenant.tenant}: students also denied {extra}")
        lines.append(f"  Global Privacy Control denies: {', '.join(sorted(self.gpc_denies))}")
        lines.append(_describe_crawlers(self.crawlers))
        once = "offered" if self.embeds.load_once else "not offered"
        described = ", ".join(self.embeds.services) or "none"
        lines.append(f"  embeds: \"Load this once\" {once}; services described: {described}")
        folder = f"; language packs from {self.locales}" if self.locales is not None else ""
        lines.append(f"  default language: {self.default_language}{folder}")
        if self.consent_cookie_domain:
            lines.append(
                f"  consent cookie: __Secure-consentgate; Domain={self.consent_cookie_domain} over HTTPS "
                f"(consentgate over HTTP): one choice for {self.consent_cookie_domain} and its subdomains"
            )
        else:
            lines.append(
                "  consent cookie: __Host-consentgate over HTTPS (consentgate over HTTP), this host only"
            )
        return "\n".join(lines)


def _describe_crawlers(rules: CrawlerRules) -> str:
    if not rules.detect:
        return "  crawlers: not detected ([crawlers] detect = false): they get the banner like browsers"
    extra = f"; extra tokens: {', '.join(rules.tokens)}" if rules.tokens else ""
    return f"  crawlers: detected (no banner, no visit, no receipt){extra}"


