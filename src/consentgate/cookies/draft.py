"""A drafted policy: what a visit with everything allowed found, written as a commented policy file.

Known cookies go into their suggested category with the platform and description as a comment;
names the database does not know, or could not place (a server-set name that only matches
another platform's third-party cookie), go into a commented "to decide" block, so they stay
blocked (``unknown_cookies = "block"``) until someone decides. Third-party hosts are grouped by
category where the database knows the platform behind the host, and listed for a decision
otherwise. The text always passes ``Policy.from_toml`` (the caller checks it too).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from consentgate.cookies.database import DATABASE_NAME, CookieDatabase, default_database
from consentgate.cookies.discovery import fold_name
from consentgate.cookies.suggestions import RANK, SetBy, Suggestion, suggest
from consentgate.cookies.toml_text import comment, is_pattern, toml_string
from consentgate.enforce.rules import DEFAULT_CATEGORIES

__all__ = ["Draft", "FoundCookie", "FoundHost", "FoundStorage", "draft_policy"]

StorageKind = Literal["localStorage", "sessionStorage", "indexedDB"]


@dataclass(frozen=True, slots=True)
class FoundCookie:
    name: str
    set_by: SetBy
    page: str
    domain: str = ""


@dataclass(frozen=True, slots=True)
class FoundHost:
    host: str
    page: str
    kind: str = ""


@dataclass(frozen=True, slots=True)
class FoundStorage:
    name: str
    kind: StorageKind
    page: str


@dataclass(slots=True)
class _Entry:
    pattern: str
    note: str
    seen_as: set[str] = field(default_factory=set)

    def line(self) -> str:
        seen = sorted(n for n in self.seen_as if n != self.pattern)
        extra = " " + comment(f"(seen as {', '.join(seen[:3])})", 60) if seen else ""
        return f"{toml_string(self.pattern)},  # {comment(self.note, 140 - len(extra))}{extra}"


def _per_category() -> dict[str, dict[str, Any]]:
    return {c: {} for c in DEFAULT_CATEGORIES}


@dataclass(slots=True)
class _Sections:
    """What goes where in the drafted file, in the order found."""

    placed: dict[str, dict[str, _Entry]] = field(default_factory=_per_category)
    undecided: dict[str, _Entry] = field(default_factory=dict)
    host_place: dict[str, dict[str, str]] = field(default_factory=_per_category)
    host_undecided: dict[str, str] = field(default_factory=dict)
    storage_place: dict[str, dict[str, _Entry]] = field(default_factory=_per_category)
    storage_undecided: dict[str, _Entry] = field(default_factory=dict)


@dataclass(slots=True)
class Draft:
    """The drafted file and what went where (for the command's summary)."""

    text: str
    placed: dict[str, list[str]]
    undecided: list[str]
    hosts: dict[str, list[str]]
    undecided_hosts: list[str]
    storage: dict[str, list[str]] = field(default_factory=dict)
    undecided_storage: list[str] = field(default_factory=list)


def _where(set_by: str, page: str, domain: str, site: str) -> str:
    who = "the server" if set_by == "server" else "a script"
    on = f" for {domain}" if domain and domain != site else ""
    return f"set by {who} on {page}{on}"


def _cookie_note(found: Suggestion, where: str) -> str:
    """``Platform, retention, where: description`` (a long description is what gets cut), or why
    the name was not placed."""
    if found.note or not found.known:
        return f"{where}; {found.note or 'not in the cookie database'}"
    head = ", ".join(p for p in (found.platform or "unknown platform", found.retention, where) if p)
    return f"{head}: {found.description}" if found.description else head


def draft_policy(
    url: str,
    site: str,
    pages: Sequence[str],
    cookies: Iterable[FoundCookie],
    hosts: Iterable[FoundHost],
    storage: Iterable[FoundStorage] = (),
    *,
    now: datetime,
    database: CookieDatabase | None = None,
) -> Draft:
    """The commented starter policy for what one visit found."""
    db = database if database is not None else default_database()
    parts = _Sections()
    placed, undecided = parts.placed, parts.undecided
    for cookie in cookies:
        pattern = fold_name(cookie.name, db)
        found = suggest(cookie.name, set_by=cookie.set_by, site=site, database=db)
        note = _cookie_note(found, _where(cookie.set_by, cookie.page, cookie.domain, site))
        usable = is_pattern(pattern)
        target = placed[found.category] if found.category and usable else undecided
        if not usable:
            note = f"cannot be written as a policy pattern; {note}"
        entry = target.setdefault(pattern, _Entry(pattern, note))
        entry.seen_as.add(cookie.name)

    host_place, host_undecided = parts.host_place, parts.host_undecided
    for found_host in hosts:
        known = db.lookup_host(found_host.host)
        where = f"{found_host.kind or 'request'} from {found_host.page}"
        if known is None:
            host_undecided.setdefault(found_host.host, f"{where}; not known to the cookie database")
            continue
        domain, entries = known
        categories = [e.category for e in entries if e.category in RANK]
        platforms = " / ".join(dict.fromkeys(e.platform for e in entries if e.platform))
        if not categories:
            host_undecided.setdefault(found_host.host, f"{where}; {platforms} ({domain})")
            continue
        category = max(categories, key=RANK.__getitem__)
        host_place[category].setdefault(
            found_host.host, f"{platforms}: the cookie database knows {domain} from its cookies ({where})"
        )

    storage_place, storage_undecided = parts.storage_place, parts.storage_undecided
    for item in storage:
        pattern = fold_name(item.name, db)
        found = suggest(item.name, set_by="script", site=site, database=db)
        note = _cookie_note(found, f"{item.kind} on {item.page}")
        target_s = storage_place[found.category] if found.category else storage_undecided
        target_s.setdefault(pattern, _Entry(pattern, note)).seen_as.add(item.name)

    return Draft(
        text=_render(url, pages, now, parts),
        placed={c: list(e) for c, e in placed.items() if e},
        undecided=list(undecided),
        hosts={c: list(h) for c, h in host_place.items() if h},
        undecided_hosts=list(host_undecided),
        storage={c: list(e) for c, e in storage_place.items() if e},
        undecided_storage=list(storage_undecided),
    )


_ABOUT = {
    "essential": "What the site cannot work without: session, sign-in, CSRF, load balancing, a\n"
    "# preference the visitor asked for. The consent cookie itself needs no entry.",
    "personalization": "Remembers choices visitors make (theme, language, last opened page).",
    "analytics": "Measures how the site is used.",
    "marketing": "Advertising and tracking across sites.",
}


def _render(url: str, pages: Sequence[str], now: datetime, parts: _Sections) -> str:
    placed, undecided = parts.placed, parts.undecided
    host_place, host_undecided = parts.host_place, parts.host_undecided
    storage_place, storage_undecided = parts.storage_place, parts.storage_undecided
    visited = comment(", ".join(pages), 80)
    lines = [
        f"# consentgate policy drafted by `consentgate init {url}` on {now:%Y-%m-%d %H:%M} UTC,",
        f"# from {len(pages)} page(s) visited in Chromium with everything allowed: {visited}",
        "#",
        "# A draft, not a verdict: each category below is a suggestion by cookie name from the",
        f"# {DATABASE_NAME} (Apache-2.0). Check every line, decide the \"to decide\" block at the",
        "# end, then run:   consentgate check consent.toml",
        "",
        "# Raise it whenever the notice changes in substance: every visitor is asked again.",
        "revision = 1",
        "",
        "# A Set-Cookie no rule names is dropped: whatever is left in \"to decide\" stays blocked.",
        'unknown_cookies = "block"',
    ]
    any_storage = any(storage_place.values()) or storage_undecided
    if any_storage:
        lines.append('unknown_storage = "report"')
    for category in DEFAULT_CATEGORIES:
        lines += ["", f"[categories.{category}]", f"# {_ABOUT[category]}"]
        lines += _list("cookies", [e.line() for e in placed[category].values()])
        if host_place[category]:
            lines += _list(
                "hosts", [f"{toml_string(h)},  # {comment(n)}" for h, n in host_place[category].items()]
            )
        if storage_place[category]:
            lines += _list("storage", [e.line() for e in storage_place[category].values()])
    if undecided or host_undecided or storage_undecided:
        lines += [
            "",
            "# -- to decide ------------------------------------------------------------------------",
            "# The cookie database does not know these, or could not place them. Move each one,",
            "# uncommented, into the right category above: until then a cookie stays blocked, and",
            "# `consentgate audit` reports a third-party host or a storage key.",
        ]
        if undecided:
            lines.append("# cookies:")
            lines += [f"#   {e.line()}" for e in undecided.values()]
        if host_undecided:
            lines.append("# third-party hosts (add each to the hosts of its category):")
            lines += [f"#   {toml_string(h)},  # {comment(n)}" for h, n in host_undecided.items()]
        if storage_undecided:
            lines.append("# web storage keys and IndexedDB databases (add each to its category's storage):")
            lines += [f"#   {e.line()}" for e in storage_undecided.values()]
    return "\n".join(lines) + "\n"


def _list(key: str, items: list[str]) -> list[str]:
    if not items:
        return [f"{key} = []"]
    return [f"{key} = [", *(f"  {item}" for item in items), "]"]
