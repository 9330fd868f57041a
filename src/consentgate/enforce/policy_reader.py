"""Reading a policy file's parsed TOML into the fields of a :class:`~consentgate.enforce.policy.Policy`,
one checked key at a time: every mistake raises :class:`~consentgate.enforce.rules.PolicyError`
naming the file, the key and the offending value."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from consentgate.enforce.rules import (
    DEFAULT_CATEGORIES,
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
    TenantRules,
    VisitRules,
    consent_cookie_domain,
)

__all__ = ["PolicyReader"]

_CATEGORY_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
# RFC 6265 token characters, plus '*' for globs. Anything else cannot be a cookie name a
# browser would keep under that pattern, so it is a typo.
_PATTERN_CHARS = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HOST = re.compile(r"(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_CATEGORY_KEYS = ("cookies", "hosts", "services", "label", "description", "storage")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PATH = re.compile(r"/[!$&'()*+,\-./0-9:=@A-Z_a-z~]*")


class PolicyReader:
    """Turns the parsed TOML mapping into a :class:`Policy`, one checked key at a time."""

    _TOP_KEYS = frozenset(
        {
            "revision",
            "consent_max_age_days",
            "refusal_max_age_days",
            "unknown_cookies",
            "unknown_storage",
            "csp",
            "default_language",
            "gpc_denies",
            "categories",
            "students",
            "tenants",
            "visits",
            "retention",
            "crawlers",
            "embeds",
            "locales",
            "consent_cookie",
        }
    )

    def __init__(self, source: str, base: Path | None = None) -> None:
        self.source = source
        self.base = base

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
            self.check_keys(
                item, ("name", "path", "domain", "description", "duration", "provider"), f"{key}."
            )
            name = item.get("name")
            path = item.get("path", "/")
            domain = item.get("domain")
            descriptions = self.texts(item.get("description", {}), f"{key}.description")
            durations = self.texts(item.get("duration", {}), f"{key}.duration")
            provider = item.get("provider")
            if provider is not None and (not isinstance(provider, str) or not provider.strip()):
                raise self.fail(f"{key}.provider", f"expected who sets the cookie, got {provider!r}")
            if not isinstance(path, str) or not _PATH.fullmatch(path):
                raise self.fail(f"{key}.path", f"{path!r} is not a cookie path starting with '/'")
            if domain is not None and (
                not isinstance(domain, str) or not _HOST.fullmatch(domain.lstrip(".").lower())
            ):
                raise self.fail(f"{key}.domain", f"{domain!r} is not a domain name")
        else:
            name, path, domain, provider = item, "/", None, None
            descriptions = durations = MappingProxyType({})
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
        return CookieRule(
            name,
            path,
            domain.lower() if isinstance(domain, str) else None,
            descriptions,
            durations,
            provider.strip() if isinstance(provider, str) else None,
        )

    def category(self, name: str, table: Any) -> Category:
        where = f"categories.{name}"
        if not _CATEGORY_NAME.fullmatch(name):
            raise self.fail(where, f"{name!r} is not a category name (lowercase letters, digits, '_')")
        if not isinstance(table, dict):
            raise self.fail(where, f"expected a table, got {table!r}")
        self.check_keys(table, _CATEGORY_KEYS, f"{where}.")
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
        storage = [
            self.storage_pattern(item, f"{where}.storage[{index}]")
            for index, item in enumerate(self.string_list(table.get("storage", []), f"{where}.storage"))
        ]
        return Category(
            name, tuple(rules), tuple(hosts), tuple(services), labels, descriptions, tuple(storage)
        )

    def storage_pattern(self, item: Any, key: str) -> str:
        """A localStorage/sessionStorage key or IndexedDB database name, exact or a ``*`` glob.
        Web storage keys are any text, so only what cannot be a key (or matches everything) fails."""
        if not isinstance(item, str) or not item:
            raise self.fail(key, f"expected a storage key or pattern, got {item!r}")
        if len(item) > 256 or _CONTROL.search(item):
            raise self.fail(key, f"{item!r} is not a storage key (control characters, or over 256)")
        if not item.replace("*", ""):
            raise self.fail(key, f"{item!r} would match every key; use unknown_storage for that")
        if "**" in item:
            raise self.fail(key, f"{item!r}: write a single '*'")
        return item

    def read(self, data: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments of a ``Policy`` (all but its fingerprint)."""
        self.check_keys(data, self._TOP_KEYS, "")
        if "revision" not in data:
            raise self.fail("revision", "missing: every policy needs a revision number (start with 1)")
        revision = self.integer(data, "revision", "", 1, 1, 2**31 - 1)
        consent_days = self.integer(data, "consent_max_age_days", "", MAX_CONSENT_DAYS, 1, MAX_CONSENT_DAYS)
        refusal_days = self.integer(data, "refusal_max_age_days", "", 182, 1, MAX_CONSENT_DAYS)
        unknown = self.choice(data, "unknown_cookies", ("block", "allow"), "block")
        unknown_storage = self.choice(data, "unknown_storage", ("report", "ignore"), "report")
        csp = self.choice(data, "csp", ("off", "report-only", "enforce"), "off")
        # Language packs can add languages, so whether one exists is checked where the packs are
        # read (the middleware's start-up, `consentgate check`); here only that it is a tag.
        language = data.get("default_language", "en")
        if not isinstance(language, str) or not _LANGUAGE.fullmatch(language):
            raise self.fail("default_language", f"{language!r} is not a language tag such as 'en' or 'pt-BR'")
        locales = self._locales(data.get("locales"))

        raw_categories = data.get("categories", {})
        if not isinstance(raw_categories, dict):
            raise self.fail("categories", f"expected tables [categories.NAME], got {raw_categories!r}")
        ordered: dict[str, Category] = {}
        # essential always exists and always comes first; the four usual categories exist even
        # when a policy leaves one out, so deny lists and the banner can name them.
        names = [ESSENTIAL, *(n for n in raw_categories if n != ESSENTIAL)]
        for default_name in DEFAULT_CATEGORIES:
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
        crawlers = self._crawlers(data.get("crawlers", {}))
        embeds = self._embeds(data.get("embeds", {}), ordered)
        cookie_domain = consent_cookie_domain(data.get("consent_cookie", {}), self.fail)
        return dict(
            revision=revision,
            categories=tuple(ordered.values()),
            consent_max_age_days=consent_days,
            refusal_max_age_days=refusal_days,
            unknown_cookies=unknown,
            unknown_storage=unknown_storage,
            csp=csp,
            default_language=language,
            gpc_denies=gpc,
            student_deny=student_deny,
            tenants=MappingProxyType(tenants),
            visits=visits,
            retention=retention,
            crawlers=crawlers,
            embeds=embeds,
            locales=locales,
            consent_cookie_domain=cookie_domain,
            source=self.source,
        )

    def _check_duplicates(self, categories: Iterable[Category]) -> None:
        owner: dict[str, str] = {}
        stored: dict[str, str] = {}
        for category in categories:
            for index, pattern in enumerate(category.storage):
                previous = stored.get(pattern)
                if previous is not None:
                    raise self.fail(
                        f"categories.{category.name}.storage[{index}]",
                        f"{pattern!r} is already listed under categories.{previous}",
                    )
                stored[pattern] = category.name
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

    def _crawlers(self, table: Any) -> CrawlerRules:
        if not isinstance(table, dict):
            raise self.fail("crawlers", f"expected a table, got {table!r}")
        self.check_keys(table, ("detect", "tokens"), "crawlers.")
        detect = table.get("detect", True)
        if not isinstance(detect, bool):
            raise self.fail("crawlers.detect", f"expected true or false, got {detect!r}")
        tokens: list[str] = []
        for index, token in enumerate(self.string_list(table.get("tokens", []), "crawlers.tokens")):
            if not isinstance(token, str) or not 3 <= len(token.strip()) <= 64 or not token.isprintable():
                raise self.fail(
                    f"crawlers.tokens[{index}]",
                    f"{token!r} is not a user-agent token (3 to 64 printable characters, e.g. 'mymonitor')",
                )
            tokens.append(token.strip().lower())
        return CrawlerRules(detect=detect, tokens=tuple(tokens))

    def _locales(self, value: Any) -> Path | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail("locales", f"expected the path of a folder of language packs, got {value!r}")
        folder = Path(value)
        if not folder.is_absolute() and self.base is not None:
            folder = self.base / folder
        if not folder.is_dir():
            raise self.fail("locales", f"{value!r} is not a folder (looked for {folder})")
        return folder

    def _embeds(self, table: Any, categories: Mapping[str, Category]) -> EmbedRules:
        """``[embeds]``: ``load_once`` and, per service, the hosts and cookies a placeholder names.
        Each must be declared by a category: a placeholder never names what the policy does not."""
        if not isinstance(table, dict):
            raise self.fail("embeds", f"expected a table, got {table!r}")
        self.check_keys(table, ("load_once", "services"), "embeds.")
        load_once = table.get("load_once", True)
        if not isinstance(load_once, bool):
            raise self.fail("embeds.load_once", f"expected true or false, got {load_once!r}")
        raw = table.get("services", {})
        if not isinstance(raw, dict):
            raise self.fail("embeds.services", f"expected tables [embeds.services.NAME], got {raw!r}")
        classifier = CookieClassifier(categories.values())
        declared = {h for c in categories.values() for h in c.hosts}
        services: dict[str, EmbedService] = {}
        for name, entry in raw.items():
            where = f"embeds.services.{name}"
            if not isinstance(entry, dict):
                raise self.fail(where, f"expected a table with hosts and cookies, got {entry!r}")
            self.check_keys(entry, ("hosts", "cookies"), f"{where}.")
            hosts = []
            for index, host in enumerate(self.string_list(entry.get("hosts", []), f"{where}.hosts")):
                if not isinstance(host, str) or not any(_host_matches(host.lower(), d) for d in declared):
                    raise self.fail(
                        f"{where}.hosts[{index}]", f"{host!r} is not among the hosts of any category"
                    )
                hosts.append(host.lower())
            cookies = []
            for index, cookie in enumerate(self.string_list(entry.get("cookies", []), f"{where}.cookies")):
                if not isinstance(cookie, str) or classifier.lookup(cookie) is None:
                    raise self.fail(
                        f"{where}.cookies[{index}]", f"{cookie!r} is not among the cookies of any category"
                    )
                cookies.append(cookie)
            services[name] = EmbedService(name, tuple(hosts), tuple(cookies))
        return EmbedRules(load_once, MappingProxyType(services))


def _host_matches(host: str, declared: str) -> bool:
    """Whether ``host`` is the declared host, or under a declared ``*.`` wildcard."""
    if declared.startswith("*."):
        return host.endswith(declared[1:]) or host == declared
    return host == declared
