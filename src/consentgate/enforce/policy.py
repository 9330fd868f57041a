"""The policy file: which cookies and hosts belong to which category, and the rules around them.

A privacy team writes the policy as TOML; :meth:`Policy.from_file` reads it once at start-up,
validates every key and freezes the result. Every mistake raises :class:`PolicyError` naming the
file, the key and the offending value, so a bad policy never reaches a running app.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

__all__ = [
    "ESSENTIAL",
    "Category",
    "CookieRule",
    "Policy",
    "PolicyError",
    "TenantRules",
]

ESSENTIAL = "essential"
MARKETING = "marketing"
MAX_CONSENT_DAYS = 395  # 13 months (R-CON-7)
_DEFAULT_CATEGORIES = ("essential", "personalization", "analytics", "marketing")
SUPPORTED_LANGUAGES = ("en", "es", "fr", "ar", "ja", "zh")

_CATEGORY_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?")
# RFC 6265 token characters, plus '*' for globs. Anything else cannot be a cookie name a
# browser would keep under that pattern, so it is a typo.
_PATTERN_CHARS = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HOST = re.compile(r"(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_PATH = re.compile(r"/[!$&'()*+,\-./0-9:=@A-Z_a-z~]*")


class PolicyError(ValueError):
    """A policy file is invalid. The message names the file, the key and the bad value."""

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source = source
        self.key = key
        super().__init__(f"{source}: {key}: {message}")


@dataclass(frozen=True, slots=True)
class CookieRule:
    """One cookie pattern of a category; ``path``/``domain`` are used when deleting it."""

    pattern: str
    path: str = "/"
    domain: str | None = None

    @property
    def is_glob(self) -> bool:
        return "*" in self.pattern


@dataclass(frozen=True, slots=True)
class Category:
    """A cookie category with its cookies, third-party hosts and banner texts."""

    name: str
    cookies: tuple[CookieRule, ...] = ()
    hosts: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    descriptions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def required(self) -> bool:
        """Essential cookies are always allowed and cannot be switched off."""
        return self.name == ESSENTIAL

    def label(self, language: str) -> str | None:
        return self.labels.get(language) or self.labels.get("*")

    def description(self, language: str) -> str | None:
        return self.descriptions.get(language) or self.descriptions.get("*")


@dataclass(frozen=True, slots=True)
class TenantRules:
    """What one school (tenant) adds for its own students."""

    tenant: str
    student_deny: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class VisitRules:
    """How visit metadata may be recorded (see the privacy log)."""

    category: str = "analytics"
    record: Literal["html-get", "get", "all"] = "html-get"
    ipv4_prefix: int = 24
    ipv6_prefix: int = 48
    students: bool = True  # False: never record visits of students, whatever is allowed


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each kind of record is kept, in days."""

    visits_days: int = 30
    receipts_days: int = 400


class _Classifier:
    """Maps a cookie name to its category and rule. Built once; lookups are memoised (bounded)."""

    __slots__ = ("_cache", "_exact", "_globs")

    _CACHE_LIMIT = 4096

    def __init__(self, categories: Iterable[Category]) -> None:
        self._exact: dict[str, tuple[str, CookieRule]] = {}
        globs: list[tuple[int, int, re.Pattern[str], str, CookieRule]] = []
        order = 0
        for category in categories:
            for rule in category.cookies:
                if rule.is_glob:
                    regex = re.compile(".*".join(re.escape(part) for part in rule.pattern.split("*")))
                    literal = len(rule.pattern.replace("*", ""))
                    globs.append((-literal, order, regex, category.name, rule))
                else:
                    self._exact[rule.pattern] = (category.name, rule)
                order += 1
        # The most specific glob (most literal characters) wins; ties go to policy order.
        globs.sort(key=lambda item: (item[0], item[1]))
        self._globs = tuple((regex, name, rule) for _, _, regex, name, rule in globs)
        self._cache: dict[str, tuple[str, CookieRule] | None] = {}

    def lookup(self, name: str) -> tuple[str, CookieRule] | None:
        cache = self._cache
        try:
            return cache[name]
        except KeyError:
            pass
        found = self._exact.get(name)
        if found is None:
            for regex, category, rule in self._globs:
                if regex.fullmatch(name):
                    found = (category, rule)
                    break
        if len(cache) >= self._CACHE_LIMIT:
            cache.clear()  # bounded: a flood of random names cannot grow memory
        cache[name] = found
        return found


@dataclass(frozen=True, slots=True, eq=False)
class Policy:
    """A validated, frozen consent policy. Build it with :meth:`from_file` or :meth:`from_toml`."""

    revision: int
    categories: tuple[Category, ...]
    consent_max_age_days: int = MAX_CONSENT_DAYS
    refusal_max_age_days: int = 182
    unknown_cookies: Literal["block", "allow"] = "block"
    csp: Literal["off", "report-only", "enforce"] = "off"
    default_language: str = "en"
    gpc_denies: frozenset[str] = frozenset({MARKETING})
    student_deny: frozenset[str] = frozenset({MARKETING})
    tenants: Mapping[str, TenantRules] = field(default_factory=lambda: MappingProxyType({}))
    visits: VisitRules = VisitRules()
    retention: Retention = Retention()
    source: str = "<policy>"
    fingerprint: str = ""
    _classifier: _Classifier = field(init=False, repr=False, compare=False)
    _by_name: Mapping[str, Category] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_classifier", _Classifier(self.categories))
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
        return cls.from_toml(text, source=source)

    @classmethod
    def from_toml(cls, text: str, *, source: str = "<policy>") -> Policy:
        """Parse and validate policy TOML text; ``source`` names it in error messages."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(source, "<toml>", f"not valid TOML: {exc}") from exc
        fingerprint = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return _PolicyReader(source).read(data, fingerprint)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<policy>") -> Policy:
        """Validate a policy given as a mapping (the same shape as the TOML file)."""
        fingerprint = hashlib.sha256(repr(sorted(data.items(), key=str)).encode()).hexdigest()
        return _PolicyReader(source).read(dict(data), fingerprint)

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
            f"csp: {self.csp}",
        ]
        for category in self.categories:
            flag = " (always on)" if category.required else ""
            lines.append(f"  [{category.name}]{flag}")
            cookies = ", ".join(r.pattern for r in category.cookies) or "-"
            hosts = ", ".join(category.hosts) or "-"
            lines.append(f"    cookies: {cookies}")
            lines.append(f"    hosts:   {hosts}")
        lines.append(f"  students: denied {', '.join(sorted(self.student_deny))}")
        for tenant in self.tenants.values():
            extra = ", ".join(sorted(tenant.student_deny)) or "-"
            lines.append(f"  tenant {tenant.tenant}: students also denied {extra}")
        lines.append(f"  Global Privacy Control denies: {', '.join(sorted(self.gpc_denies))}")
        return "\n".join(lines)


class _PolicyReader:
    """Turns the parsed TOML mapping into a :class:`Policy`, one checked key at a time."""

    _TOP_KEYS = frozenset(
        {
            "revision",
            "consent_max_age_days",
            "refusal_max_age_days",
            "unknown_cookies",
            "csp",
            "default_language",
            "gpc_denies",
            "categories",
            "students",
            "tenants",
            "visits",
            "retention",
        }
    )

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, message: str) -> PolicyError:
        return PolicyError(self.source, key, message)

    def check_keys(self, table: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
        allowed_set = set(allowed)
        for key in table:
            if key not in allowed_set:
                known = ", ".join(sorted(allowed_set))
                raise self.fail(f"{where}{key}", f"unknown key {key!r} (known keys: {known})")

    def integer(self, table: Mapping[str, Any], key: str, where: str, default: int, lo: int, hi: int) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{where}{key}", f"expected a whole number, got {value!r}")
        if not lo <= value <= hi:
            raise self.fail(f"{where}{key}", f"{value} is out of range ({lo} to {hi})")
        return value

    def choice(self, table: Mapping[str, Any], key: str, options: tuple[str, ...], default: str) -> str:
        value = table.get(key, default)
        if value not in options:
            raise self.fail(key, f"{value!r} is not one of {', '.join(repr(o) for o in options)}")
        return str(value)

    def string_list(self, value: Any, key: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list, got {value!r}")
        return value

    def category_refs(self, value: Any, key: str, known: Mapping[str, Category]) -> frozenset[str]:
        names: set[str] = set()
        for item in self.string_list(value, key):
            if not isinstance(item, str):
                raise self.fail(key, f"expected category names, got {item!r}")
            if item not in known:
                raise self.fail(key, f"unknown category {item!r} (categories: {', '.join(known)})")
            if item == ESSENTIAL:
                raise self.fail(key, "'essential' cannot be denied: it holds what the site needs to work")
            names.add(item)
        return frozenset(names)

    def texts(self, value: Any, key: str) -> Mapping[str, str]:
        if isinstance(value, str):
            return MappingProxyType({"*": value})
        if not isinstance(value, dict):
            raise self.fail(key, f"expected text or a table of texts per language, got {value!r}")
        out: dict[str, str] = {}
        for language, text in value.items():
            if not _LANGUAGE.fullmatch(language):
                raise self.fail(f"{key}.{language}", f"{language!r} is not a language code such as 'en'")
            if not isinstance(text, str):
                raise self.fail(f"{key}.{language}", f"expected text, got {text!r}")
            out[language] = text
        return MappingProxyType(out)

    def cookie_rule(self, item: Any, key: str) -> CookieRule:
        if isinstance(item, dict):
            self.check_keys(item, ("name", "path", "domain"), f"{key}.")
            name = item.get("name")
            path = item.get("path", "/")
            domain = item.get("domain")
            if not isinstance(path, str) or not _PATH.fullmatch(path):
                raise self.fail(f"{key}.path", f"{path!r} is not a cookie path starting with '/'")
            if domain is not None and (
                not isinstance(domain, str) or not _HOST.fullmatch(domain.lstrip(".").lower())
            ):
                raise self.fail(f"{key}.domain", f"{domain!r} is not a domain name")
        else:
            name, path, domain = item, "/", None
        if not isinstance(name, str):
            raise self.fail(key, f"expected a cookie name or pattern, got {name!r}")
        if not name or not _PATTERN_CHARS.fullmatch(name):
            raise self.fail(
                key,
                f"{name!r} cannot match a cookie name (names are letters, digits and !#$%&'*+-.^_`|~)",
            )
        if not name.replace("*", ""):
            raise self.fail(key, f"{name!r} would match every cookie; use unknown_cookies for that")
        if "**" in name:
            raise self.fail(key, f"{name!r}: write a single '*'")
        return CookieRule(name, path, domain.lower() if isinstance(domain, str) else None)

    def category(self, name: str, table: Any) -> Category:
        where = f"categories.{name}"
        if not _CATEGORY_NAME.fullmatch(name):
            raise self.fail(where, f"{name!r} is not a category name (lowercase letters, digits, '_')")
        if not isinstance(table, dict):
            raise self.fail(where, f"expected a table, got {table!r}")
        self.check_keys(table, ("cookies", "hosts", "services", "label", "description"), f"{where}.")
        rules: list[CookieRule] = []
        for index, item in enumerate(self.string_list(table.get("cookies", []), f"{where}.cookies")):
            rules.append(self.cookie_rule(item, f"{where}.cookies[{index}]"))
        hosts: list[str] = []
        for index, host in enumerate(self.string_list(table.get("hosts", []), f"{where}.hosts")):
            if not isinstance(host, str) or not _HOST.fullmatch(host.lower()) or len(host) > 253:
                raise self.fail(
                    f"{where}.hosts[{index}]", f"{host!r} is not a host name such as 'www.example.com'"
                )
            hosts.append(host.lower())
        services: list[str] = []
        for index, service in enumerate(self.string_list(table.get("services", []), f"{where}.services")):
            if not isinstance(service, str) or not service.strip():
                raise self.fail(f"{where}.services[{index}]", f"expected a service name, got {service!r}")
            services.append(service)
        labels = self.texts(table.get("label", {}), f"{where}.label")
        descriptions = self.texts(table.get("description", {}), f"{where}.description")
        return Category(name, tuple(rules), tuple(hosts), tuple(services), labels, descriptions)

    def read(self, data: dict[str, Any], fingerprint: str) -> Policy:
        self.check_keys(data, self._TOP_KEYS, "")
        if "revision" not in data:
            raise self.fail("revision", "missing: every policy needs a revision number (start with 1)")
        revision = self.integer(data, "revision", "", 1, 1, 2**31 - 1)
        consent_days = self.integer(data, "consent_max_age_days", "", MAX_CONSENT_DAYS, 1, MAX_CONSENT_DAYS)
        refusal_days = self.integer(data, "refusal_max_age_days", "", 182, 1, MAX_CONSENT_DAYS)
        unknown = self.choice(data, "unknown_cookies", ("block", "allow"), "block")
        csp = self.choice(data, "csp", ("off", "report-only", "enforce"), "off")
        language = data.get("default_language", "en")
        if not isinstance(language, str) or language not in SUPPORTED_LANGUAGES:
            raise self.fail(
                "default_language", f"{language!r} is not one of {', '.join(SUPPORTED_LANGUAGES)}"
            )

        raw_categories = data.get("categories", {})
        if not isinstance(raw_categories, dict):
            raise self.fail("categories", f"expected tables [categories.NAME], got {raw_categories!r}")
        ordered: dict[str, Category] = {}
        # essential always exists and always comes first; the four usual categories exist even
        # when a policy leaves one out, so deny lists and the banner can name them.
        names = [ESSENTIAL, *(n for n in raw_categories if n != ESSENTIAL)]
        for default_name in _DEFAULT_CATEGORIES:
            if default_name not in names:
                names.append(default_name)
        for name in names:
            ordered[name] = self.category(name, raw_categories.get(name, {}))
        self._check_duplicates(ordered.values())

        gpc = self.category_refs(data.get("gpc_denies", [MARKETING]), "gpc_denies", ordered)

        students = data.get("students", {})
        if not isinstance(students, dict):
            raise self.fail("students", f"expected a table, got {students!r}")
        self.check_keys(students, ("deny",), "students.")
        student_deny = self.category_refs(students.get("deny", []), "students.deny", ordered) | {MARKETING}

        raw_tenants = data.get("tenants", {})
        if not isinstance(raw_tenants, dict):
            raise self.fail("tenants", f"expected tables [tenants.ID], got {raw_tenants!r}")
        tenants: dict[str, TenantRules] = {}
        for tenant_id, table in raw_tenants.items():
            where = f"tenants.{tenant_id}"
            if not _TENANT_ID.fullmatch(tenant_id):
                raise self.fail(where, f"{tenant_id!r} is not a tenant id (letters, digits, '.', '_', '-')")
            if not isinstance(table, dict):
                raise self.fail(where, f"expected a table, got {table!r}")
            self.check_keys(table, ("student_deny",), f"{where}.")
            deny = self.category_refs(table.get("student_deny", []), f"{where}.student_deny", ordered)
            tenants[tenant_id] = TenantRules(tenant_id, deny)

        visits = self._visits(data.get("visits", {}), ordered)
        retention = self._retention(data.get("retention", {}))
        return Policy(
            revision=revision,
            categories=tuple(ordered.values()),
            consent_max_age_days=consent_days,
            refusal_max_age_days=refusal_days,
            unknown_cookies=unknown,  # type: ignore[arg-type]
            csp=csp,  # type: ignore[arg-type]
            default_language=language,
            gpc_denies=gpc,
            student_deny=student_deny,
            tenants=MappingProxyType(tenants),
            visits=visits,
            retention=retention,
            source=self.source,
            fingerprint=fingerprint,
        )

    def _check_duplicates(self, categories: Iterable[Category]) -> None:
        owner: dict[str, str] = {}
        for category in categories:
            for index, rule in enumerate(category.cookies):
                previous = owner.get(rule.pattern)
                if previous is not None:
                    raise self.fail(
                        f"categories.{category.name}.cookies[{index}]",
                        f"{rule.pattern!r} is already listed under categories.{previous}",
                    )
                owner[rule.pattern] = category.name

    def _visits(self, table: Any, categories: Mapping[str, Category]) -> VisitRules:
        if not isinstance(table, dict):
            raise self.fail("visits", f"expected a table, got {table!r}")
        self.check_keys(table, ("category", "record", "ipv4_prefix", "ipv6_prefix", "students"), "visits.")
        category = table.get("category", "analytics")
        if category not in categories:
            raise self.fail("visits.category", f"unknown category {category!r}")
        record = table.get("record", "html-get")
        if record not in ("html-get", "get", "all"):
            raise self.fail("visits.record", f"{record!r} is not one of 'html-get', 'get', 'all'")
        students = table.get("students", True)
        if not isinstance(students, bool):
            raise self.fail("visits.students", f"expected true or false, got {students!r}")
        return VisitRules(
            category=category,
            record=record,
            ipv4_prefix=self.integer(table, "ipv4_prefix", "visits.", 24, 0, 24),
            ipv6_prefix=self.integer(table, "ipv6_prefix", "visits.", 48, 0, 48),
            students=students,
        )

    def _retention(self, table: Any) -> Retention:
        if not isinstance(table, dict):
            raise self.fail("retention", f"expected a table, got {table!r}")
        self.check_keys(table, ("visits_days", "receipts_days"), "retention.")
        return Retention(
            visits_days=self.integer(table, "visits_days", "retention.", 30, 1, 3650),
            receipts_days=self.integer(table, "receipts_days", "retention.", 400, 1, 3650),
        )
