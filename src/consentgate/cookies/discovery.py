"""Live discovery of undeclared cookies: folding what the middleware saw into a bounded list.

The middleware notes, on the request path, only a tuple per request that carries a cookie name
no policy rule names: ``(direction, names, path, time)`` — ``"set-cookie"`` for a name in a
``Set-Cookie`` the app sent, ``"cookie"`` for a name the browser sent back (so set by a script in
the page, or earlier). Everything else happens here, on the privacy log's writer thread:

* names fold into families: the database's wildcard patterns (``_ga_K3X9`` -> ``_ga_*``,
  ``_hjSessionUser_12345`` -> ``_hjSessionUser_*``) and, for names it does not know, a tail that
  looks like an identifier (``cart_8f3a9c21d0`` -> ``cart_*``), so a name that carries a
  per-visitor id is never stored as it is;
* each (name, direction) keeps a count, when it was first and last seen, and one example path
  (the first), cut to 200 characters with identifier-like segments replaced by ``*``;
* at most :data:`MAX_NAMES` entries exist; later new names are counted as dropped.

Names only: never a value, no consent id, nothing about the visitor.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from consentgate.cookies.database import CookieDatabase, default_database

__all__ = [
    "DIRECTIONS",
    "MAX_NAMES",
    "Direction",
    "Folder",
    "Sighting",
    "Tally",
    "UndeclaredCookie",
    "clean_path",
    "fold_name",
]

Direction = Literal["set-cookie", "cookie"]
DIRECTIONS: tuple[Direction, ...] = ("set-cookie", "cookie")
Sighting = tuple[str, tuple[str, ...], str, float]
"""(direction, undeclared names, request path, time): what the request path queues."""

MAX_NAMES = 1000
MAX_PATH = 200
_NAME_CACHE = 4096

# What an identifier looks like: five or more digits, hex (with a digit in it) of eight or more,
# or a token of 24 or more with a digit in it. "cart_8f3a9c21d0", "sess-000123456".
_HEX_WITH_DIGIT = re.compile(r"(?=[0-9a-fA-F-]*\d)[0-9a-fA-F-]{8,}")


def _looks_like_id(text: str) -> bool:
    return bool(
        re.fullmatch(r"\d{5,}", text)
        or _HEX_WITH_DIGIT.fullmatch(text)
        or (len(text) >= 24 and re.fullmatch(r"[0-9A-Za-z+/=_-]+", text) and re.search(r"\d", text))
    )


def fold_name(name: str, database: CookieDatabase) -> str:
    """The entry a name is counted under: its database family, an id-free stem, or itself."""
    family = database.family(name)
    if family is not None:
        return family
    if _looks_like_id(name):
        return "*"
    # The longest tail after a separator that is an identifier: "a_b_123456" -> "a_b_*".
    for cut in range(1, len(name)):
        if name[cut - 1] in "._:-" and _looks_like_id(name[cut:]):
            return name[:cut] + "*"
    return name


def clean_path(path: str) -> str:
    """An example path as stored: no query string, identifier-like segments as ``*``, bounded."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    segments = ["*" if segment and _looks_like_id(segment) else segment for segment in path.split("/")]
    cleaned = "/".join(segments)
    return cleaned[:MAX_PATH] or "/"


@dataclass(slots=True)
class Tally:
    """What is known of one (name, direction) since the last write."""

    count: int
    first_seen: float
    last_seen: float
    example_path: str


@dataclass(frozen=True, slots=True)
class UndeclaredCookie:
    """A stored entry, read back for the dashboard and the command line."""

    name: str
    direction: str
    count: int
    first_seen: str
    last_seen: str
    example_path: str

    def as_dict(self, suggestion: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "name": self.name,
            "direction": self.direction,
            "count": self.count,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "example_path": self.example_path,
            "suggestion": suggestion,
        }


class Folder:
    """Folds sightings into tallies (writer thread only; not thread-safe).

    ``known``: the (name, direction) entries already stored, so the bound holds across restarts.
    """

    def __init__(
        self,
        database: Callable[[], CookieDatabase] = default_database,
        *,
        max_names: int = MAX_NAMES,
    ) -> None:
        self._database = database
        self.max_names = max_names
        self.known: set[tuple[str, str]] = set()
        self.pending: dict[tuple[str, str], Tally] = {}
        self.dropped = 0
        self._keys: dict[str, str] = {}

    def key(self, name: str) -> str:
        keys = self._keys
        found = keys.get(name)
        if found is None:
            found = fold_name(name, self._database())
            if len(keys) >= _NAME_CACHE:
                keys.clear()
            keys[name] = found
        return found

    def add(self, sightings: Iterable[Sighting]) -> None:
        pending = self.pending
        for direction, names, path, moment in sightings:
            for name in names:
                entry = (self.key(name), direction)
                tally = pending.get(entry)
                if tally is None:
                    if entry not in self.known and len(self.known) + len(pending) >= self.max_names:
                        self.dropped += 1
                        continue
                    pending[entry] = Tally(1, moment, moment, clean_path(path))
                    continue
                tally.count += 1
                if moment < tally.first_seen:
                    tally.first_seen = moment
                if moment > tally.last_seen:
                    tally.last_seen = moment

    def take(self) -> dict[tuple[str, str], Tally]:
        """The tallies gathered since the last call (now counted as known)."""
        pending, self.pending = self.pending, {}
        self.known.update(pending)
        return pending
