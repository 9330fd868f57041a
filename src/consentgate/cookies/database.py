"""The cookie database: what a cookie (or web-storage key) name is known to be.

consentgate ships the Open Cookie Database (``data/open-cookie-database.csv``, Apache-2.0: see
``data/LICENSE`` and ``data/NOTICE``). It is read once, lazily, the first time a name is looked
up (about 2,300 rows, a few tens of milliseconds), never on import and never on a request.

Reading cleans up what is messy in the data without changing the file:

* names lose stray white space, soft hyphens and zero-width characters, and ``[x4]``-style
  suffixes; ``%INTEGER%``-style placeholders become ``*``;
* an entry flagged "wildcard" is a prefix (``_ga_`` matches ``_ga_K3X9Q2``) and becomes the glob
  ``_ga_*``; a name that already holds a ``*`` is a glob as it is;
* the database's categories map onto consentgate's: Functional, Necessary and Security ->
  ``essential``; Personalization -> ``personalization``; Analytics -> ``analytics``; Marketing ->
  ``marketing``;
* the same name under several platforms stays as several entries: alternatives, all returned.

A lookup tries the exact name, then the longest matching prefix, then any other glob.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = [
    "CATEGORY_MAP",
    "DATABASE_NAME",
    "CookieDatabase",
    "CookieEntry",
    "Match",
    "default_database",
    "normalise_name",
]

DATABASE_NAME = "Open Cookie Database"
DATABASE_FILE = "open-cookie-database.csv"

CATEGORY_MAP = {
    "functional": "essential",
    "necessary": "essential",
    "security": "essential",
    "personalization": "personalization",
    "personalisation": "personalization",
    "analytics": "analytics",
    "marketing": "marketing",
}

_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_COUNT_SUFFIX = re.compile(r"\s*\[x\d+\]$", re.I)
_PLACEHOLDER = re.compile(r"%[A-Z_]+%")
# A Domain column that names a platform's own domain ("instagram.com", "x.com (3rd party)") and
# not the site the cookie sits on ("advertiser's website domain (1st party)").
_FIRST_PARTY = re.compile(r"1st party|website|advertiser|site domain|your domain", re.I)


def normalise_name(raw: str, wildcard: bool = False) -> str:
    """A database name as a pattern consentgate can match: cleaned, and a glob when it is one."""
    name = _INVISIBLE.sub("", raw).strip()
    name = _COUNT_SUFFIX.sub("", name).strip()
    name = _PLACEHOLDER.sub("*", name)
    if wildcard and not name.endswith("*"):
        name += "*"
    while "**" in name:
        name = name.replace("**", "*")
    return name


@dataclass(frozen=True, slots=True)
class CookieEntry:
    """One row of the database, cleaned."""

    pattern: str
    """The name as a pattern: exact, or a glob with ``*`` (``_ga_*``)."""
    platform: str
    category: str | None
    """consentgate's category for the row (``None`` when the database's is not one we know)."""
    source_category: str
    domain: str
    description: str
    retention: str
    controller: str
    privacy_portal: str

    @property
    def is_glob(self) -> bool:
        return "*" in self.pattern

    @property
    def third_party(self) -> bool:
        """The database knows this cookie from a platform's own domain only (not the site's)."""
        domain = self.domain.strip()
        return bool(domain) and not _FIRST_PARTY.search(domain)

    def domain_names(self) -> tuple[str, ...]:
        """The host names the Domain column mentions (``.x.com (3rd party) or y.com`` -> x.com, y.com)."""
        found = re.findall(r"[a-z0-9][a-z0-9.-]*\.[a-z]{2,}", self.domain.lower())
        return tuple(name.strip(".") for name in found)


@dataclass(frozen=True, slots=True)
class Match:
    """What the database knows of one name: the entries of the best-matching pattern (alternatives
    across platforms, in database order)."""

    name: str
    matched: str
    """The database pattern that matched: the name itself, or a glob such as ``_ga_*``."""
    entries: tuple[CookieEntry, ...]

    @property
    def wildcard(self) -> bool:
        return "*" in self.matched

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.platform for e in self.entries if e.platform))


class CookieDatabase:
    """Looks names up in a list of entries (by default the shipped database)."""

    def __init__(self, entries: Iterable[CookieEntry]) -> None:
        self.entries = tuple(entries)
        exact: dict[str, list[CookieEntry]] = {}
        prefixes: dict[int, dict[str, list[CookieEntry]]] = {}
        globs: dict[str, list[CookieEntry]] = {}
        for entry in self.entries:
            pattern = entry.pattern
            if "*" not in pattern:
                exact.setdefault(pattern, []).append(entry)
            elif pattern.endswith("*") and pattern.count("*") == 1:
                prefix = pattern[:-1]
                prefixes.setdefault(len(prefix), {}).setdefault(prefix, []).append(entry)
            else:
                globs.setdefault(pattern, []).append(entry)
        self._exact = {name: tuple(found) for name, found in exact.items()}
        # Longest prefix first: "_pk_id." beats "_pk_id" for "_pk_id.1.ab12".
        self._prefixes = tuple(
            (length, {p: tuple(found) for p, found in table.items()})
            for length, table in sorted(prefixes.items(), reverse=True)
        )
        self._globs = tuple(
            (re.compile(".*".join(re.escape(part) for part in pattern.split("*"))), pattern, tuple(found))
            for pattern, found in globs.items()
        )
        hosts: dict[str, list[CookieEntry]] = {}
        for entry in self.entries:
            for domain in entry.domain_names():
                hosts.setdefault(domain, []).append(entry)
        self._hosts = {domain: tuple(found) for domain, found in hosts.items()}

    @classmethod
    def from_csv(cls, text: str) -> CookieDatabase:
        """Read the Open Cookie Database's CSV (its header row names the columns)."""
        rows = csv.DictReader(io.StringIO(text))
        entries = []
        for row in rows:
            raw_name = row.get("Cookie / Data Key name") or ""
            wildcard = (row.get("Wildcard match") or "").strip() == "1"
            pattern = normalise_name(raw_name, wildcard)
            if not pattern.replace("*", ""):
                continue  # nothing left to match on
            source = (row.get("Category") or "").strip()
            entries.append(
                CookieEntry(
                    pattern=pattern,
                    platform=(row.get("Platform") or "").strip(),
                    category=CATEGORY_MAP.get(source.lower()),
                    source_category=source,
                    domain=(row.get("Domain") or "").strip(),
                    description=" ".join((row.get("Description") or "").split()),
                    retention=(row.get("Retention period") or "").strip(),
                    controller=(row.get("Data Controller") or "").strip(),
                    privacy_portal=(row.get("User Privacy & GDPR Rights Portals") or "").strip(),
                )
            )
        return cls(entries)

    def __len__(self) -> int:
        return len(self.entries)

    def lookup(self, name: str) -> Match | None:
        """The best match for a cookie or storage name: exact, else longest prefix, else a glob."""
        name = name.strip()
        if not name:
            return None
        found = self._exact.get(name)
        if found is not None:
            return Match(name, name, found)
        for length, table in self._prefixes:
            if len(name) >= length:
                hit = table.get(name[:length])
                if hit is not None:
                    return Match(name, hit[0].pattern, hit)
        for regex, pattern, entries in self._globs:
            if regex.fullmatch(name):
                return Match(name, pattern, entries)
        return None

    def lookup_host(self, host: str) -> tuple[str, tuple[CookieEntry, ...]] | None:
        """The platform domain a request host belongs to (``www.google-analytics.com`` ->
        ``google-analytics.com``) and the entries of cookies the database knows from it."""
        host = host.lower().rstrip(".")
        parts = host.split(".")
        for start in range(len(parts) - 1):  # longest suffix first, never a bare TLD
            domain = ".".join(parts[start:])
            found = self._hosts.get(domain)
            if found is not None:
                return domain, found
        return None

    def family(self, name: str) -> str | None:
        """The wildcard pattern a name belongs to (``_ga_K3X9`` -> ``_ga_*``), else ``None``."""
        match = self.lookup(name)
        return match.matched if match is not None and match.wildcard else None

    def patterns(self) -> Sequence[str]:
        """Every distinct pattern, in database order."""
        return tuple(dict.fromkeys(e.pattern for e in self.entries))


@cache
def default_database() -> CookieDatabase:
    """The shipped Open Cookie Database, read on first use and kept."""
    data = resources.files("consentgate.cookies") / "data" / DATABASE_FILE
    return CookieDatabase.from_csv(data.read_text(encoding="utf-8"))
