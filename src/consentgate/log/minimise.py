"""Visit metadata reduced to what the policy lets the privacy log keep (R-MIN-2 to R-MIN-5).

The middleware captures a :class:`RawVisit` (in memory only, on the writer's queue); the
background writer turns it into a :class:`VisitRecord` with a :class:`Minimiser` and stores only
that. A record holds a truncated IP, a country, browser/OS families with major versions, a device
class, a referrer origin and a path without query — never the raw IP, user-agent, referrer path or
query string.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from consentgate.enforce.policy import VisitRules
from consentgate.log.client_ip import parse_ip
from consentgate.log.geo import CountryLookup
from consentgate.log.useragent import parse_user_agent

__all__ = [
    "MAX_PATH_CHARS",
    "Minimiser",
    "RawVisit",
    "VisitRecord",
    "path_only",
    "referrer_origin",
    "truncate_ip",
]

MAX_PATH_CHARS = 512
MAX_REFERRER_CHARS = 4096
_DEFAULT_PORTS = {"http": 80, "https": 443}
# A DNS name as browsers send it in Referer (already punycode); IP literals are checked apart.
_HOSTNAME = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def truncate_ip(ip: str, ipv4_prefix: int = 24, ipv6_prefix: int = 48) -> str | None:
    """The network address of ``ip`` kept to its first bits: ``203.0.113.77`` → ``203.0.113.0``,
    ``2001:db8:1:2::5`` → ``2001:db8:1::`` (R-MIN-2). ``None`` when ``ip`` is not an address.

    IPv4-mapped IPv6 addresses are treated as the IPv4 address they carry. A prefix outside
    0-32 (IPv4) or 0-128 (IPv6) is a programming error and raises :class:`ValueError`.
    """
    _check_prefixes(ipv4_prefix, ipv6_prefix)
    address = parse_ip(ip)
    if address is None:
        return None
    # The address as a number, its host bits cleared: a third of the time ip_network((address,
    # bits)).network_address took (parsing the text again, building a network object).
    if isinstance(address, ipaddress.IPv4Address):
        return str(ipaddress.IPv4Address(int(address) & _mask(32, ipv4_prefix)))
    return str(ipaddress.IPv6Address(int(address) & _mask(128, ipv6_prefix)))


def _mask(width: int, bits: int) -> int:
    return ((1 << bits) - 1) << (width - bits)


def _check_prefixes(ipv4_prefix: int, ipv6_prefix: int) -> None:
    if isinstance(ipv4_prefix, bool) or not isinstance(ipv4_prefix, int) or not 0 <= ipv4_prefix <= 32:
        raise ValueError(f"ipv4_prefix must be a whole number from 0 to 32, got {ipv4_prefix!r}")
    if isinstance(ipv6_prefix, bool) or not isinstance(ipv6_prefix, int) or not 0 <= ipv6_prefix <= 128:
        raise ValueError(f"ipv6_prefix must be a whole number from 0 to 128, got {ipv6_prefix!r}")


def referrer_origin(value: str | None) -> str | None:
    """``scheme://host[:port]`` of an http(s) ``Referer`` value, or ``None`` (R-MIN-4).

    Path, query, fragment and user info are dropped, the host is lowercased, a default port is
    left out. Other schemes (``android-app:``, ``file:``...), relative values and garbage give
    ``None``.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_REFERRER_CHARS:
        return None
    value = value.strip()
    if _CONTROL.search(value):
        return None
    try:
        parts = urlsplit(value)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            return None
        host = parts.hostname  # lowercased, user info and brackets removed
        port = parts.port  # raises ValueError when not a number in 0-65535
    except ValueError:
        return None
    if not host:
        return None
    host_text = _host_text(host)
    if host_text is None:
        return None
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host_text}"
    if port == 0:
        return None
    return f"{scheme}://{host_text}:{port}"


def _host_text(host: str) -> str | None:
    if ":" in host:  # an IPv6 literal, written in brackets in an origin
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            return None
        return f"[{address.compressed}]"
    if not host.isascii():
        try:  # browsers send punycode; a hand-made Referer may not
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return None
    if len(host) <= 253 and _HOSTNAME.fullmatch(host):
        return host.rstrip(".") or None
    return None


def path_only(path: str) -> str:
    """The request path without query string or fragment, at most ``MAX_PATH_CHARS`` long.

    Control characters are dropped; an empty or odd value becomes ``/``.
    """
    if not isinstance(path, str):
        return "/"
    path = path.split("?", 1)[0].split("#", 1)[0]
    if _CONTROL.search(path):
        path = _CONTROL.sub("", path)
    path = path[:MAX_PATH_CHARS]
    return path if path.startswith("/") else "/" + path[: MAX_PATH_CHARS - 1]


@dataclass(frozen=True, slots=True)
class RawVisit:
    """One recorded request as the middleware saw it. In memory only: never stored.

    The path (which may carry a query string), IP, user-agent and referrer are left out of
    ``repr`` so they cannot leak into logs or tracebacks.
    """

    time: float
    path: str = field(repr=False)
    client_ip: str | None = field(repr=False)
    user_agent: str = field(repr=False)
    referrer: str | None = field(repr=False)
    consent_id: str
    tenant: str | None
    is_student: bool


class VisitRecord(NamedTuple):
    """What the privacy log stores for one visit (R-MIN-2 to R-MIN-5). Immutable; a tuple, so
    the writer builds thousands a second cheaply."""

    time: float
    path: str
    ip_prefix: str | None
    country: str | None
    browser: str
    browser_major: str | None
    os: str
    os_major: str | None
    device: str
    referrer_origin: str | None
    consent_id: str
    tenant: str | None
    is_student: bool

    def as_dict(self) -> dict[str, Any]:
        """The record as a plain dict, keys in field order (for storage and JSON)."""
        return {name: getattr(self, name) for name in _RECORD_FIELDS}


_RECORD_FIELDS = VisitRecord._fields
_MEMO_LIMIT = 4096


class Minimiser:
    """Turns a :class:`RawVisit` into a :class:`VisitRecord` under the policy's visit rules.

    Build it once (the writer does) with the policy's ``visits`` rules and, when configured, a
    :class:`CountryLookup`; without one no country is recorded.
    """

    __slots__ = ("_addresses", "_country", "_ipv4_prefix", "_ipv6_prefix", "_paths", "_referrers")

    def __init__(self, visits: VisitRules, country_lookup: CountryLookup | None = None) -> None:
        _check_prefixes(visits.ipv4_prefix, visits.ipv6_prefix)  # now, not on the first visit
        self._ipv4_prefix = visits.ipv4_prefix
        self._ipv6_prefix = visits.ipv6_prefix
        self._country = country_lookup
        # Memos of the writer thread (visitors repeat): address -> (prefix, country) and
        # referrer -> origin. Bounded; they live in memory only, like the queue itself.
        self._addresses: dict[str, tuple[str | None, str | None]] = {}
        self._referrers: dict[str, str | None] = {}
        self._paths: dict[str, str] = {}  # request path -> stored path

    def _address(self, ip: str) -> tuple[str | None, str | None]:
        known = self._addresses.get(ip)
        if known is None:
            # Country comes from the full address, at record time (R-MIN-5); then only the
            # truncated prefix is kept (R-MIN-2).
            country = self._country.country(ip) if self._country is not None else None
            known = (truncate_ip(ip, self._ipv4_prefix, self._ipv6_prefix), country)
            if len(self._addresses) >= _MEMO_LIMIT:
                self._addresses.clear()
            self._addresses[ip] = known
        return known

    def _referrer(self, referrer: str | None) -> str | None:
        if referrer is None:
            return None
        try:
            return self._referrers[referrer]
        except KeyError:
            pass
        origin = referrer_origin(referrer)
        if len(referrer) <= 512:
            if len(self._referrers) >= _MEMO_LIMIT:
                self._referrers.clear()
            self._referrers[referrer] = origin
        return origin

    def minimise(self, raw: RawVisit) -> VisitRecord:
        """The record to store; the raw IP, user-agent and referrer stop here."""
        return self.record(
            raw.time, raw.path, raw.client_ip, raw.user_agent, raw.referrer,
            raw.consent_id, raw.tenant, raw.is_student,
        )  # fmt: skip

    def record(
        self,
        time: float,
        path: str,
        client_ip: str | None,
        user_agent: str,
        referrer: str | None,
        consent_id: str,
        tenant: str | None,
        is_student: bool,
    ) -> VisitRecord:
        """:meth:`minimise` from the parts of a visit (the writer's way: no RawVisit per visit)."""
        ip_prefix, country = self._address(client_ip) if client_ip else (None, None)
        info = parse_user_agent(user_agent)
        stored_path = self._paths.get(path)
        if stored_path is None:
            stored_path = path_only(path)
            if len(path) <= 512:
                if len(self._paths) >= _MEMO_LIMIT:
                    self._paths.clear()
                self._paths[path] = stored_path
        return VisitRecord(
            time, stored_path, ip_prefix, country, info.browser, info.browser_major, info.os,
            info.os_major, info.device, self._referrer(referrer), consent_id, tenant, is_student,
        )  # fmt: skip
