"""The visitor's IP address: from the connection, or from proxy headers set by a trusted proxy.

``X-Forwarded-For`` and ``Forwarded`` are plain request headers: anybody can send them. They are
read only when the direct peer (``scope["client"]``) is one of the configured trusted proxies
(R-MIN-7), and then walked from the right — the end the nearest proxy appended to — skipping
further trusted proxies, so the first address no trusted proxy vouches for is the client.

Nothing here raises on bad input: a garbage header or peer means "address unknown" (``None``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from starlette.types import Scope

__all__ = ["TrustedProxies", "client_ip", "normalise_ip", "parse_forwarded_for", "parse_ip"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
HeaderChoice = Literal["auto", "forwarded", "x-forwarded-for"]

# Bounds on work per request: a hostile chain of thousands of hops costs no more than this.
MAX_HEADER_CHARS = 4096
MAX_HOPS = 32
_MEMO_LIMIT = 4096
_MAX_NODE_CHARS = 64  # "[ffff:...:ffff%zone]:65535" fits easily

_FORWARDED = b"forwarded"
_X_FORWARDED_FOR = b"x-forwarded-for"


def _parse_address(text: str) -> IPAddress | None:
    """A bare IPv4/IPv6 address (IPv6 zone ids dropped, IPv4-mapped IPv6 turned into IPv4)."""
    if not text or len(text) > _MAX_NODE_CHARS:
        return None
    text = text.partition("%")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_ip(text: str) -> IPAddress | None:
    """The IP address ``text`` holds (surrounding spaces and an IPv6 zone id ignored, IPv4-mapped
    IPv6 taken as the IPv4 address it carries), or ``None`` when it holds none."""
    return _parse_address(text.strip()) if isinstance(text, str) else None


def normalise_ip(text: str) -> str | None:
    """The canonical text of an IP address, or ``None`` when ``text`` is not one.

    ``::ffff:192.0.2.1`` becomes ``192.0.2.1``; IPv6 is compressed and lowercased.
    """
    address = parse_ip(text)
    return None if address is None else str(address)


def _parse_node(text: str) -> IPAddress | None:
    """One hop as a proxy wrote it: ``203.0.113.7``, ``203.0.113.7:4711``, ``[2001:db8::1]:80``,
    a bare IPv6 address (not what RFC 7239 allows, but some proxies write it). ``unknown``,
    obfuscated identifiers (``_hidden``) and garbage give ``None``."""
    text = text.strip()
    if not text or len(text) > _MAX_NODE_CHARS:
        return None
    if text.startswith("["):
        inside, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not (rest.startswith(":") and _is_port(rest[1:]))):
            return None
        # Only IPv6 belongs in brackets (an IPv4-mapped one comes back as IPv4).
        return _parse_address(inside) if ":" in inside else None
    address = _parse_address(text)
    if address is not None:
        return address
    host, colon, port = text.rpartition(":")
    if colon and ":" not in host and _is_port(port):
        address = _parse_address(host)
        if isinstance(address, ipaddress.IPv4Address):
            return address
    return None


def _is_port(text: str) -> bool:
    # RFC 7239 also allows obfuscated ports ("_abc"); either way only the address matters.
    return (text.isascii() and text.isdigit() and len(text) <= 5) or (
        text.startswith("_") and len(text) <= 32
    )


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        inner = value[1:-1]
        if "\\" in inner:
            out: list[str] = []
            escaped = False
            for char in inner:
                if escaped:
                    out.append(char)
                    escaped = False
                elif char == "\\":
                    escaped = True
                else:
                    out.append(char)
            inner = "".join(out)
        return inner
    return value


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    """Split on ``separator`` except inside quoted strings (RFC 7230 quoted-string, with ``\\``)."""
    parts: list[str] = []
    start = 0
    quoted = False
    escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def parse_forwarded_for(value: str) -> list[str | None]:
    """The ``for=`` value of each element of a ``Forwarded`` header (RFC 7239), left to right.

    An element without ``for=`` gives ``None``. Values are unquoted but not interpreted.
    """
    hops: list[str | None] = []
    for element in _split_outside_quotes(value, ","):
        if not element.strip():
            continue
        found: str | None = None
        for pair in _split_outside_quotes(element, ";"):
            name, equals, raw = pair.partition("=")
            if equals and name.strip().lower() == "for":
                found = _unquote(raw)
                break
        hops.append(found)
    return hops


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The proxies whose ``Forwarded`` / ``X-Forwarded-For`` headers are believed (R-MIN-7).

    Build it once with :meth:`parse`. ``header`` picks the header the proxies set: ``"auto"``
    reads ``Forwarded`` when it names any ``for=`` and ``X-Forwarded-For`` otherwise; name the
    one your proxy writes when it passes the other through from the client unchanged.
    """

    networks: tuple[IPNetwork, ...] = ()
    header: HeaderChoice = "auto"
    # Peer text -> (normalised address, trusted?). The same peers come back again and again
    # (the proxies themselves, returning visitors), so the request path mostly costs one dict
    # lookup. Bounded: a flood of new addresses cannot grow memory.
    _peers: dict[str, tuple[str | None, bool]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    # (peer, Forwarded, X-Forwarded-For) -> answer: a returning visitor behind the same proxies
    # sends the same headers.
    _chains: dict[tuple[str, str | None, str | None], str | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def parse(cls, items: Iterable[str], *, header: HeaderChoice = "auto") -> TrustedProxies:
        """Read IP addresses and CIDR networks such as ``"10.0.0.0/8"`` or ``"::1"``.

        Raises :class:`ValueError` naming the first entry that is neither.
        """
        if isinstance(items, str):
            raise ValueError(
                f"trusted proxies: expected a list of addresses or networks, got the text {items!r}"
            )
        if header not in ("auto", "forwarded", "x-forwarded-for"):
            raise ValueError(
                f"trusted proxies: header {header!r} is not one of 'auto', 'forwarded', 'x-forwarded-for'"
            )
        networks: list[IPNetwork] = []
        for item in items:
            networks.append(cls._network(item))
        return cls(tuple(dict.fromkeys(networks)), header)

    @staticmethod
    def _network(item: object) -> IPNetwork:
        if not isinstance(item, str):
            raise ValueError(f"trusted proxies: expected an IP address or network as text, got {item!r}")
        text = item.strip()
        try:
            network = ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            try:
                loose = ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted proxies: {item!r} is not an IP address or CIDR network "
                    "(such as '10.0.0.1', '10.0.0.0/8' or '2001:db8::/32')"
                ) from exc
            raise ValueError(
                f"trusted proxies: {item!r} has bits set after the /{loose.prefixlen} prefix; "
                f"did you mean '{loose}'?"
            ) from exc
        if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
            # Also trust the IPv4 form of an IPv4-mapped network, since addresses are normalised.
            mapped = network.network_address.ipv4_mapped
            if mapped is not None:
                return ipaddress.IPv4Network(f"{mapped}/{network.prefixlen - 96}")
        return network

    def __bool__(self) -> bool:
        return bool(self.networks)

    def contains(self, ip: str) -> bool:
        """Whether ``ip`` (text) is one of the trusted proxies. Garbage is never trusted."""
        address = _parse_address(ip.strip()) if isinstance(ip, str) else None
        return address is not None and self._contains(address)

    def _peer(self, text: str) -> tuple[str | None, bool]:
        """The direct peer's normalised address and whether it is a trusted proxy, memoised."""
        memo = self._peers
        try:
            return memo[text]
        except KeyError:
            pass
        address = _parse_address(text.strip())
        if address is None:
            answer: tuple[str | None, bool] = (None, False)
        else:
            answer = (str(address), bool(self.networks) and self._contains(address))
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[text] = answer
        return answer

    def _contains(self, address: IPAddress) -> bool:
        version = address.version
        return any(network.version == version and address in network for network in self.networks)


def _joined(values: list[bytes]) -> str | None:
    """The lines of one header joined with ", " (RFC 9110), bounded; ``None`` when absent."""
    if not values:
        return None
    joined = b", ".join(values)
    if len(joined) > MAX_HEADER_CHARS:
        # Keep the right end: that is what the trusted proxies appended.
        joined = joined[-MAX_HEADER_CHARS:]
        joined = joined[joined.find(b",") + 1 :] if b"," in joined else b""
    return joined.decode("latin-1")


def _proxy_headers(scope: Scope) -> tuple[str | None, str | None]:
    """``Forwarded`` and ``X-Forwarded-For`` of the request, each as one text, in one pass."""
    forwarded: list[bytes] = []
    xff: list[bytes] = []
    try:
        for key, value in scope.get("headers") or ():
            if len(key) == 9 and key.lower() == _FORWARDED:
                forwarded.append(value)
            elif len(key) == 15 and key.lower() == _X_FORWARDED_FOR:
                xff.append(value)
    except (TypeError, ValueError, AttributeError):
        return None, None
    return _joined(forwarded), _joined(xff)


def _hops(forwarded: str | None, xff: str | None, header: HeaderChoice) -> list[str | None] | None:
    """The claimed hops, left to right, from the header the proxies set; ``None`` when absent."""
    if header != "x-forwarded-for" and forwarded is not None:
        hops = parse_forwarded_for(forwarded)
        if header == "forwarded" or any(hop is not None for hop in hops):
            return hops
    if header != "forwarded" and xff is not None:
        return [part for part in (p.strip() for p in xff.split(",")) if part]
    return None


def _resolve(peer: str, hops: list[str | None] | None, trusted: TrustedProxies) -> str | None:
    if not hops:
        return peer  # the proxy itself is talking (health checks and the like)
    last: IPAddress | None = None
    for hop in reversed(hops[-MAX_HOPS:]):
        address = None if hop is None else _parse_node(hop)
        if address is None:
            return None
        if not trusted._contains(address):
            return str(address)
        last = address
    if len(hops) > MAX_HOPS:
        return None  # a longer chain than we walk: its origin is not known
    return None if last is None else str(last)


def client_ip(scope: Scope, trusted: TrustedProxies) -> str | None:
    """The visitor's IP address as normalised text, or ``None`` when it cannot be known.

    The direct peer is the answer unless it is a trusted proxy; then the proxy headers are
    walked from the right past trusted proxies, and the first other address is the answer
    (R-MIN-7). A hop written as ``unknown``, obfuscated or garbled ends the walk with
    ``None``: what lies beyond it is not vouched for by anyone trusted.
    """
    try:
        client = scope.get("client")
        peer_text = client[0] if client else None
    except (TypeError, IndexError, KeyError, AttributeError):
        return None
    if not isinstance(peer_text, str):
        return None
    peer, peer_trusted = trusted._peer(peer_text)
    if not peer_trusted or peer is None:
        return peer
    forwarded, xff = _proxy_headers(scope)
    key = (peer, forwarded, xff)
    memo = trusted._chains
    try:
        return memo[key]
    except KeyError:
        pass
    answer = _resolve(peer, _hops(forwarded, xff, trusted.header), trusted)
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[key] = answer
    return answer
