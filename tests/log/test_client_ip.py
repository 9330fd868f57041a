"""Client IP from the connection, or from proxy headers only behind trusted proxies (R-MIN-7)."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentgate.log.client_ip import TrustedProxies, client_ip, normalise_ip, parse_forwarded_for

PROXIES = TrustedProxies.parse(["10.0.0.0/8", "192.0.2.10", "2001:db8:ffff::/48"])
NONE = TrustedProxies.parse([])


def scope(peer: Any, *headers: tuple[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "client": None if peer is None else (peer, 40000),
        "headers": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers],
    }


# -- TrustedProxies --------------------------------------------------------------------------


def test_parse_accepts_addresses_and_networks() -> None:
    trusted = TrustedProxies.parse([" 10.0.0.0/8 ", "192.0.2.10", "::1", "2001:db8::/32"])
    assert [str(n) for n in trusted.networks] == ["10.0.0.0/8", "192.0.2.10/32", "::1/128", "2001:db8::/32"]
    assert trusted.contains("10.200.3.4")
    assert trusted.contains("192.0.2.10")
    assert not trusted.contains("192.0.2.11")
    assert trusted.contains("::1")
    assert trusted.contains("2001:db8:1234::9")
    assert not trusted.contains("2001:db9::1")


def test_contains_normalises_ipv4_mapped_and_refuses_garbage() -> None:
    assert PROXIES.contains("::ffff:10.1.2.3")
    assert not PROXIES.contains("garbage")
    assert not PROXIES.contains("")
    assert not PROXIES.contains("10.0.0.0/8")


def test_ipv4_mapped_network_also_trusts_the_ipv4_form() -> None:
    trusted = TrustedProxies.parse(["::ffff:10.0.0.0/104"])
    assert trusted.contains("10.9.9.9")
    assert trusted.contains("::ffff:10.9.9.9")


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["proxy.example"], "'proxy.example' is not an IP address or CIDR network"),
        (["10.0.0.0/33"], "'10.0.0.0/33' is not an IP address or CIDR network"),
        (["10.0.0.1/8"], r"'10.0.0.1/8' has bits set after the /8 prefix; did you mean '10.0.0.0/8'\?"),
        ([""], "'' is not an IP address"),
        ([10], "expected an IP address or network as text, got 10"),
        ("10.0.0.1", "expected a list of addresses or networks, got the text '10.0.0.1'"),
    ],
)
def test_parse_rejects_bad_entries_with_a_clear_message(items: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrustedProxies.parse(items)


def test_parse_rejects_unknown_header_choice() -> None:
    with pytest.raises(ValueError, match="header 'x-real-ip' is not one of"):
        TrustedProxies.parse(["10.0.0.1"], header="x-real-ip")  # type: ignore[arg-type]


def test_trusted_proxies_are_frozen() -> None:
    with pytest.raises(AttributeError):
        PROXIES.networks = ()  # type: ignore[misc]


# -- the connection's own address ------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("testclient", None),
        ("/run/app.sock", None),
        ("", None),
        (None, None),
        (1234, None),
    ],
)
def test_peer_address_is_normalised(peer: Any, expected: str | None) -> None:
    assert client_ip(scope(peer), NONE) == expected
    assert client_ip(scope(peer), PROXIES) == expected


def test_scope_without_client_or_headers() -> None:
    assert client_ip({"type": "http"}, PROXIES) is None
    assert client_ip({"type": "http", "client": ("10.0.0.1", 1)}, PROXIES) == "10.0.0.1"
    assert client_ip({"type": "http", "client": ("10.0.0.1", 1), "headers": None}, PROXIES) == "10.0.0.1"


# -- R-MIN-7: headers only from trusted peers ------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        [("x-forwarded-for", "198.51.100.1")],
        [("forwarded", "for=198.51.100.1")],
        [("forwarded", 'for="[2001:db8::1]"'), ("x-forwarded-for", "198.51.100.1, 10.0.0.1")],
    ],
)
def test_r_min_7_spoofed_headers_from_untrusted_peer_are_ignored(headers: list[tuple[str, str]]) -> None:
    assert client_ip(scope("203.0.113.50", *headers), PROXIES) == "203.0.113.50"
    assert client_ip(scope("10.0.0.5", *headers), NONE) == "10.0.0.5"


def test_r_min_7_x_forwarded_for_from_trusted_peer() -> None:
    assert client_ip(scope("10.0.0.5", ("x-forwarded-for", "198.51.100.1")), PROXIES) == "198.51.100.1"


def test_r_min_7_walks_from_the_right_skipping_trusted_proxies() -> None:
    # The client made up the first entry; the edge proxy (10.1.1.1) appended the real address.
    header = ("x-forwarded-for", "1.1.1.1, 198.51.100.7, 10.1.1.1")
    assert client_ip(scope("10.0.0.5", header), PROXIES) == "198.51.100.7"


def test_r_min_7_multiple_header_lines_are_one_list() -> None:
    headers = [("x-forwarded-for", "1.1.1.1, 198.51.100.7"), ("X-Forwarded-For", "10.1.1.1")]
    assert client_ip(scope("10.0.0.5", *headers), PROXIES) == "198.51.100.7"


def test_r_min_7_all_hops_trusted_gives_the_leftmost() -> None:
    assert client_ip(scope("10.0.0.5", ("x-forwarded-for", "10.9.9.9, 10.1.1.1")), PROXIES) == "10.9.9.9"


def test_r_min_7_trusted_peer_without_headers_is_the_client() -> None:
    assert client_ip(scope("10.0.0.5"), PROXIES) == "10.0.0.5"
    assert client_ip(scope("10.0.0.5", ("x-forwarded-for", " , ")), PROXIES) == "10.0.0.5"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("198.51.100.7:51234", "198.51.100.7"),
        ("[2001:db8::7]:443", "2001:db8::7"),
        ("2001:db8::7", "2001:db8::7"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("unknown", None),
        ("not-an-ip", None),
        ("198.51.100.7:99999999", None),
        ("[198.51.100.7]", None),
    ],
)
def test_r_min_7_x_forwarded_for_entry_forms(value: str, expected: str | None) -> None:
    assert client_ip(scope("10.0.0.5", ("x-forwarded-for", value)), PROXIES) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("for=198.51.100.7", "198.51.100.7"),
        ("For=198.51.100.7;proto=https;by=10.0.0.5", "198.51.100.7"),
        ('for="198.51.100.7:4711"', "198.51.100.7"),
        ('for="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17"),
        ('for="[2001:db8:cafe::17]"', "2001:db8:cafe::17"),
        ('for="_gazonk"', None),
        ("for=unknown", None),
        ("proto=https", "10.0.0.5"),  # auto mode: no for= anywhere, so the peer itself
        ('for=198.51.100.7, for="[2001:db8::1]"', "2001:db8::1"),
        ('for=198.51.100.7, for="10.2.2.2"', "198.51.100.7"),
        ('for=198.51.100.7, for="_hidden", for=10.2.2.2', None),
        ('for="198.51.100.7;x=\\"a,b\\""; proto=http, for=10.2.2.2', None),
        ('proto="a,b;c"; for=203.0.113.4', "203.0.113.4"),
        ("for=[2001:db8::1]", "2001:db8::1"),
        ('for="[2001:db8::1]:_port"', "2001:db8::1"),
        ('for="[2001:db8::1"', None),
        ('for="[198.51.100.7]"', None),
        ('for="[::ffff:198.51.100.7]:80"', "198.51.100.7"),
    ],
)
def test_r_min_7_forwarded_rfc_7239_forms(value: str, expected: str | None) -> None:
    assert client_ip(scope("10.0.0.5", ("forwarded", value)), PROXIES) == expected


def test_r_min_7_forwarded_wins_over_x_forwarded_for_in_auto_mode() -> None:
    headers = [("forwarded", "for=198.51.100.1"), ("x-forwarded-for", "198.51.100.2")]
    assert client_ip(scope("10.0.0.5", *headers), PROXIES) == "198.51.100.1"


def test_r_min_7_forwarded_without_for_falls_back_to_x_forwarded_for() -> None:
    headers = [("forwarded", "proto=https;host=example.org"), ("x-forwarded-for", "198.51.100.2")]
    assert client_ip(scope("10.0.0.5", *headers), PROXIES) == "198.51.100.2"


def test_r_min_7_header_choice_ignores_the_other_header() -> None:
    only_xff = TrustedProxies.parse(["10.0.0.0/8"], header="x-forwarded-for")
    only_fwd = TrustedProxies.parse(["10.0.0.0/8"], header="forwarded")
    headers = [("forwarded", "for=198.51.100.66"), ("x-forwarded-for", "198.51.100.2")]
    assert client_ip(scope("10.0.0.5", *headers), only_xff) == "198.51.100.2"
    assert client_ip(scope("10.0.0.5", *headers), only_fwd) == "198.51.100.66"
    assert client_ip(scope("10.0.0.5", ("x-forwarded-for", "198.51.100.2")), only_fwd) == "10.0.0.5"
    assert client_ip(scope("10.0.0.5", ("forwarded", "proto=https")), only_fwd) is None


def test_r_min_7_overlong_chains_are_bounded() -> None:
    # Thousands of trusted hops: the walk stops and the origin counts as unknown.
    long_chain = ", ".join(["10.0.0.1"] * 5000)
    assert client_ip(scope("10.0.0.5", ("x-forwarded-for", long_chain)), PROXIES) is None
    # A huge header whose right end names the client still works.
    padded = ", ".join(["1.1.1.1"] * 5000) + ", 198.51.100.3, 10.0.0.9"
    assert client_ip(scope("10.0.0.5", ("x-forwarded-for", padded)), PROXIES) == "198.51.100.3"


def test_parse_forwarded_for_lists_every_element() -> None:
    assert parse_forwarded_for('for=a;proto=http, by=b, FOR="c\\"d", ,') == ["a", None, 'c"d']


def test_normalise_ip() -> None:
    assert normalise_ip(" ::FFFF:192.0.2.1 ") == "192.0.2.1"
    assert normalise_ip("2001:0db8::0001") == "2001:db8::1"
    assert normalise_ip("192.0.2.300") is None


# -- property tests --------------------------------------------------------------------------

header_names = st.sampled_from(["forwarded", "x-forwarded-for", "x-real-ip", "Forwarded"])
latin1 = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=300)
addresses = st.ip_addresses()
untrusted_v4 = st.ip_addresses(v=4).filter(lambda a: not PROXIES.contains(str(a)))
untrusted_v6 = st.ip_addresses(v=6).filter(lambda a: not PROXIES.contains(str(a)))
trusted_hops = st.lists(
    st.one_of(
        st.ip_addresses(network="10.0.0.0/8"),
        st.just(ipaddress.ip_address("192.0.2.10")),
        st.ip_addresses(network="2001:db8:ffff::/48"),
    ),
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(
    peer=st.one_of(addresses.map(str), st.text(max_size=40), st.just("10.0.0.5")),
    headers=st.lists(st.tuples(header_names, latin1), max_size=4),
)
def test_r_min_7_garbage_never_raises_and_answers_an_address_or_none(
    peer: str, headers: list[tuple[str, str]]
) -> None:
    result = client_ip(scope(peer, *headers), PROXIES)
    if result is not None:
        assert normalise_ip(result) == result
    if not PROXIES.contains(peer):
        assert result == normalise_ip(peer)


@settings(max_examples=300, deadline=None)
@given(
    client=st.one_of(untrusted_v4, untrusted_v6),
    spoofed=st.lists(addresses, max_size=3),
    hops=trusted_hops,
    use_forwarded=st.booleans(),
    port=st.one_of(st.none(), st.integers(0, 65535)),
)
def test_r_min_7_real_client_found_behind_any_chain_of_trusted_proxies(
    client: Any, spoofed: list[Any], hops: list[Any], use_forwarded: bool, port: int | None
) -> None:
    chain = [*spoofed, client, *hops]
    if use_forwarded:

        def node(address: Any) -> str:
            text = f"[{address}]" if address.version == 6 else str(address)
            return f'for="{text}:{port}"' if port is not None else f'for="{text}"'

        header = ("forwarded", ", ".join(f"{node(a)};proto=https" for a in chain))
    else:
        header = ("x-forwarded-for", ", ".join(str(a) for a in chain))
    assert client_ip(scope("10.0.0.5", header), PROXIES) == normalise_ip(str(client))
    # The same headers from an untrusted peer are ignored.
    assert client_ip(scope("203.0.113.1", header), PROXIES) == "203.0.113.1"


def test_memoised_answers_are_bounded_and_still_right() -> None:
    trusted = TrustedProxies.parse(["10.0.0.0/8"])
    for i in range(6000):
        peer = f"198.{i // 256 % 256}.{i % 256}.1"
        assert client_ip(scope(peer), trusted) == peer
        chain = ("x-forwarded-for", f"203.0.{i // 256 % 256}.{i % 256}")
        assert client_ip(scope("10.0.0.5", chain), trusted) == f"203.0.{i // 256 % 256}.{i % 256}"
    assert len(trusted._peers) <= 4096
    assert len(trusted._chains) <= 4096
    # A repeat after the memo was cleared gives the same answer.
    assert client_ip(scope("198.0.0.1"), trusted) == "198.0.0.1"
