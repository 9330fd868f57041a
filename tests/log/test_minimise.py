"""Visit metadata minimisation (R-MIN-2 to R-MIN-5): truncated IPs, referrer origins, records."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.provisional import domains

from consentgate.enforce.policy import Policy, VisitRules
from consentgate.log.geo import CountryLookup
from consentgate.log.minimise import (
    MAX_PATH_CHARS,
    Minimiser,
    RawVisit,
    VisitRecord,
    path_only,
    referrer_origin,
    truncate_ip,
)

MAXMIND_TEST_DB = Path(__file__).resolve().parents[1] / "data" / "GeoLite2-Country-Test.mmdb"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
)


# -- R-MIN-2: truncated IPs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "v4", "v6", "expected"),
    [
        ("203.0.113.77", 24, 48, "203.0.113.0"),
        ("203.0.113.77", 16, 48, "203.0.0.0"),
        ("203.0.113.77", 0, 48, "0.0.0.0"),
        ("::ffff:203.0.113.77", 24, 48, "203.0.113.0"),
        ("2001:db8:1:2:3:4:5:6", 24, 48, "2001:db8:1::"),
        ("2001:db8:1:2:3:4:5:6", 24, 32, "2001:db8::"),
        ("2001:DB8:1:2ff::6", 24, 56, "2001:db8:1:200::"),
        ("fe80::1%eth0", 24, 48, "fe80::"),
        (" 198.51.100.9 ", 24, 48, "198.51.100.0"),
    ],
)
def test_r_min_2_truncate_ip(ip: str, v4: int, v6: int, expected: str) -> None:
    assert truncate_ip(ip, v4, v6) == expected


def test_r_min_2_default_prefixes_are_24_and_48() -> None:
    assert truncate_ip("192.0.2.200") == "192.0.2.0"
    assert truncate_ip("2001:db8:abcd:12:ff::1") == "2001:db8:abcd::"


@pytest.mark.parametrize("ip", ["", "garbage", "1.2.3", "256.1.1.1", "1.2.3.4/24", "::g", "[::1]"])
def test_r_min_2_garbage_gives_none(ip: str) -> None:
    assert truncate_ip(ip) is None


def test_r_min_2_non_text_gives_none() -> None:
    assert truncate_ip(None) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(("v4", "v6"), [(-1, 48), (33, 48), (24, 129), (24, -3), (True, 48)])
def test_r_min_2_prefix_out_of_range_is_a_programming_error(v4: int, v6: int) -> None:
    with pytest.raises(ValueError, match="prefix must be a whole number"):
        truncate_ip("192.0.2.1", v4, v6)


@settings(max_examples=500, deadline=None)
@given(
    address=st.ip_addresses(),
    v4=st.integers(0, 24),
    v6=st.integers(0, 48),
)
def test_r_min_2_truncated_ip_is_the_network_within_the_prefix(address: Any, v4: int, v6: int) -> None:
    raw = str(address)
    result = truncate_ip(raw, v4, v6)
    assert result is not None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = v4 if address.version == 4 else v6
    network = ipaddress.ip_network((address, prefix), strict=False)
    truncated = ipaddress.ip_address(result)
    assert truncated == network.network_address
    assert truncated in network
    host_bits = int(address) & int(network.hostmask)
    if host_bits:
        assert result != raw  # the raw address never comes back when it had host bits
        assert truncated != address


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_r_min_2_truncate_ip_never_raises_on_text(text: str) -> None:
    result = truncate_ip(text)
    if result is not None:
        address = ipaddress.ip_address(result)
        assert int(address) & (0xFF if address.version == 4 else (1 << 80) - 1) == 0


# -- R-MIN-4: referrer origin and path -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://www.Example.COM/search?q=secret#frag", "https://www.example.com"),
        ("https://user:password@example.com/", "https://example.com"),
        ("http://example.com:80/a", "http://example.com"),
        ("https://example.com:443/a", "https://example.com"),
        ("http://example.com:443/a", "http://example.com:443"),
        ("https://example.com:8443", "https://example.com:8443"),
        ("HTTP://EXAMPLE.com", "http://example.com"),
        ("https://example.com.", "https://example.com"),
        ("https://[2001:DB8::1]:8443/x", "https://[2001:db8::1]:8443"),
        ("http://192.0.2.1/path", "http://192.0.2.1"),
        ("https://bücher.example/", "https://xn--bcher-kva.example"),
        ("  https://example.com/x  ", "https://example.com"),
        ("ftp://example.com/file", None),
        ("android-app://com.google.android.gm/", None),
        ("file:///etc/passwd", None),
        ("javascript:alert(1)", None),
        ("//example.com/x", None),
        ("/relative/path", None),
        ("https://", None),
        ("https:///path", None),
        ("https://exa mple.com/", None),
        ("https://example.com:99999/", None),
        ("https://example.com:0/", None),
        ("https://example.com:abc/", None),
        ("https://[::1/", None),
        ("https://ex\x00ample.com/", None),
        ("https://a_b%20c.com/", None),
        ("", None),
        (None, None),
    ],
)
def test_r_min_4_referrer_origin(value: str | None, expected: str | None) -> None:
    assert referrer_origin(value) == expected


def test_r_min_4_overlong_referrer_is_dropped() -> None:
    assert referrer_origin("https://example.com/" + "a" * 10_000) is None


_ORIGIN_SHAPE = r"https?://(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(:[0-9]{1,5})?"


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "HTTPS"]),
    host=domains(),
    port=st.one_of(st.none(), st.integers(1, 65535)),
    userinfo=st.one_of(st.none(), st.from_regex(r"[a-z]{1,8}(:[a-z0-9]{1,8})?", fullmatch=True)),
    path=st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), min_size=1, max_size=40),
    query=st.from_regex(r"[a-z]{1,8}=[a-z0-9]{4,12}", fullmatch=True),
)
def test_r_min_4_origin_never_keeps_path_query_or_userinfo(
    scheme: str, host: str, port: int | None, userinfo: str | None, path: str, query: str
) -> None:
    authority = (f"{userinfo}@" if userinfo else "") + host + (f":{port}" if port is not None else "")
    url = f"{scheme}://{authority}/{path.replace('#', '').replace('?', '')}?{query}#frag"
    result = referrer_origin(url)
    expected_port = "" if port is None or port == {"http": 80, "https": 443}[scheme.lower()] else f":{port}"
    assert result == f"{scheme.lower()}://{host.lower().rstrip('.')}{expected_port}"
    assert query not in result
    if userinfo:
        assert "@" not in result


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=120), st.from_regex(r"https?://[^/]{0,30}(/.{0,20})?", fullmatch=True)))
def test_r_min_4_referrer_origin_never_raises_and_is_an_origin(value: str) -> None:
    import re

    result = referrer_origin(value)
    if result is not None:
        assert re.fullmatch(_ORIGIN_SHAPE, result), result
        assert "?" not in result and "#" not in result and "@" not in result


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", "/"),
        ("/courses/algebra", "/courses/algebra"),
        ("/search?q=private", "/search"),
        ("/page#section", "/page"),
        ("/a?b#c", "/a"),
        ("", "/"),
        ("relative", "/relative"),
        ("/tab\there\x00", "/tabhere"),
    ],
)
def test_r_min_4_path_only(path: str, expected: str) -> None:
    assert path_only(path) == expected


def test_r_min_4_path_is_bounded() -> None:
    assert path_only("/" + "x" * 5000) == "/" + "x" * (MAX_PATH_CHARS - 1)
    assert len(path_only("y" * 5000)) == MAX_PATH_CHARS


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=1000))
def test_r_min_4_path_only_never_keeps_a_query(path: str) -> None:
    result = path_only(path)
    assert result.startswith("/")
    assert "?" not in result and "#" not in result
    assert len(result) <= MAX_PATH_CHARS


# -- records and the Minimiser ---------------------------------------------------------------


def raw_visit(**changes: Any) -> RawVisit:
    values: dict[str, Any] = {
        "time": 1_700_000_000.25,
        "path": "/courses/algebra?student=alice",
        "client_ip": "81.2.69.142",
        "user_agent": IPHONE,
        "referrer": "https://search.example/?q=alice+smith",
        "consent_id": "c0ffee",
        "tenant": "lincoln-high",
        "is_student": True,
    }
    values.update(changes)
    return RawVisit(**values)


def test_r_min_2_3_4_record_holds_only_minimised_fields() -> None:
    record = Minimiser(VisitRules()).minimise(raw_visit())
    assert record == VisitRecord(
        time=1_700_000_000.25,
        path="/courses/algebra",
        ip_prefix="81.2.69.0",
        country=None,
        browser="Mobile Safari",
        browser_major="17",
        os="iOS",
        os_major="17",
        device="mobile",
        referrer_origin="https://search.example",
        consent_id="c0ffee",
        tenant="lincoln-high",
        is_student=True,
    )
    text = json.dumps(record.as_dict())
    for secret in ("81.2.69.142", IPHONE, "alice", "student=", "605.1.15", "17.2"):
        assert secret not in text


def test_as_dict_keys_follow_the_fields() -> None:
    record = Minimiser(VisitRules()).minimise(raw_visit())
    as_dict = record.as_dict()
    assert list(as_dict) == list(VisitRecord._fields)
    assert as_dict["ip_prefix"] == "81.2.69.0"
    assert VisitRecord(**as_dict) == record


def test_r_min_5_country_comes_from_the_full_address_before_truncation() -> None:
    # MaxMind's test DB places 81.2.69.142/31 in GB but holds nothing for 81.2.69.0, so a GB
    # answer proves the lookup used the untruncated address.
    with CountryLookup.open(MAXMIND_TEST_DB) as lookup:
        assert lookup.country("81.2.69.0") is None
        record = Minimiser(VisitRules(), lookup).minimise(raw_visit())
        ipv6 = Minimiser(VisitRules(), lookup).minimise(raw_visit(client_ip="2a02:d180:1:2::3"))
    assert record.country == "GB"
    assert record.ip_prefix == "81.2.69.0"
    assert ipv6.country == "DE"
    assert ipv6.ip_prefix == "2a02:d180:1::"


def test_r_min_5_without_a_database_no_country_is_recorded() -> None:
    assert Minimiser(VisitRules()).minimise(raw_visit()).country is None


def test_r_min_2_policy_prefixes_are_applied() -> None:
    policy = Policy.from_toml("revision = 1\n[visits]\nipv4_prefix = 16\nipv6_prefix = 32\n")
    minimiser = Minimiser(policy.visits)
    assert minimiser.minimise(raw_visit()).ip_prefix == "81.2.0.0"
    assert minimiser.minimise(raw_visit(client_ip="2001:db8:1:2::3")).ip_prefix == "2001:db8::"


def test_r_min_2_bad_prefixes_fail_when_the_minimiser_is_built() -> None:
    with pytest.raises(ValueError, match="ipv4_prefix"):
        Minimiser(VisitRules(ipv4_prefix=40))


@pytest.mark.parametrize("ip", [None, "", "testclient", "not-an-ip"])
def test_r_min_2_missing_or_garbage_ip_records_no_prefix(ip: str | None) -> None:
    with CountryLookup.open(MAXMIND_TEST_DB) as lookup:
        record = Minimiser(VisitRules(), lookup).minimise(raw_visit(client_ip=ip))
    assert record.ip_prefix is None
    assert record.country is None


def test_r_min_3_4_empty_user_agent_and_referrer() -> None:
    record = Minimiser(VisitRules()).minimise(raw_visit(user_agent="", referrer=None))
    assert (record.browser, record.browser_major, record.os, record.os_major, record.device) == (
        "Other",
        None,
        "Other",
        None,
        "other",
    )
    assert record.referrer_origin is None


def test_raw_visit_repr_hides_raw_ip_user_agent_and_referrer() -> None:
    text = repr(raw_visit())
    assert "81.2.69.142" not in text
    assert "iPhone" not in text
    assert "alice" not in text
    assert "c0ffee" in text


def test_records_are_frozen() -> None:
    record = Minimiser(VisitRules()).minimise(raw_visit())
    with pytest.raises(AttributeError):
        record.ip_prefix = "81.2.69.142"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        raw_visit().client_ip = None  # type: ignore[misc]


@settings(max_examples=200, deadline=None)
@given(
    ip=st.one_of(st.none(), st.ip_addresses().map(str), st.text(max_size=30)),
    user_agent=st.text(max_size=200),
    referrer=st.one_of(st.none(), st.text(max_size=100)),
    path=st.text(max_size=200),
)
def test_r_min_2_4_minimiser_never_raises_and_drops_the_raw_address(
    ip: str | None, user_agent: str, referrer: str | None, path: str
) -> None:
    raw = raw_visit(client_ip=ip, user_agent=user_agent, referrer=referrer, path=path)
    record = Minimiser(VisitRules()).minimise(raw)
    if record.ip_prefix is not None:
        address = ipaddress.ip_address(record.ip_prefix)
        mask = 0xFF if address.version == 4 else (1 << 80) - 1
        assert int(address) & mask == 0
    assert "?" not in record.path


# -- edges the mutation run found untested -----------------------------------------------------------


def test_r_min_2_the_widest_prefixes_are_allowed_and_booleans_are_not() -> None:
    assert truncate_ip("203.0.113.77", 32, 48) == "203.0.113.77"
    assert truncate_ip("2001:db8::7", 24, 128) == "2001:db8::7"
    for v4, v6 in ((24, True), (24, False), (24, 48.0), (False, 48), ("24", 48)):
        with pytest.raises(ValueError, match=r"^ipv[46]_prefix must be a whole number from 0 to (32|128), got "):
            truncate_ip("192.0.2.1", v4, v6)  # type: ignore[arg-type]


def test_r_min_2_anything_but_text_gives_no_prefix() -> None:
    for value in (None, 3232235777, b"192.0.2.1", ["192.0.2.1"]):
        assert truncate_ip(value) is None  # type: ignore[arg-type]


def test_r_min_4_path_stops_at_the_first_question_mark_or_hash() -> None:
    assert path_only("/a?b?c") == "/a"
    assert path_only("/a#b#c") == "/a"
    assert path_only("/a#b?c") == "/a"
    assert path_only(None) == "/"  # type: ignore[arg-type]
    assert path_only(b"/bytes") == "/"  # type: ignore[arg-type]


def test_r_min_5_no_address_means_no_lookup_at_all() -> None:
    with CountryLookup.open(MAXMIND_TEST_DB) as lookup:
        minimiser = Minimiser(VisitRules(), lookup)
        for ip in (None, ""):
            record = minimiser.record(1.0, "/", ip, "", None, "cid", None, False)
            assert (record.ip_prefix, record.country) == (None, None)


def test_the_minimisers_memos_stay_bounded_under_a_flood_of_new_values() -> None:
    """Addresses, referrers and paths are remembered per value (visitors repeat); a flood of new
    ones must not grow the writer's memory past 4,096 entries each."""
    minimiser = Minimiser(VisitRules())
    for i in range(4100):
        address = f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}"
        record = minimiser.record(1.0, f"/p{i}?q", address, "", f"https://r{i}.example/x", "cid", None, False)
        assert (record.path, record.ip_prefix) == (f"/p{i}", f"10.{i // 65536}.{(i // 256) % 256}.0")
        assert record.referrer_origin == f"https://r{i}.example"
        for memo in (minimiser._addresses, minimiser._referrers, minimiser._paths):
            assert len(memo) <= 4096


def test_r_min_4_referrer_limits_are_inclusive() -> None:
    longest_host = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert referrer_origin(f"https://{longest_host}/x") == f"https://{longest_host}"
    assert referrer_origin(f"https://{longest_host}d/x") is None
    prefix = "https://school.example/"
    assert referrer_origin(prefix + "a" * (4096 - len(prefix))) == "https://school.example"  # 4,096 characters
    assert referrer_origin(prefix + "a" * (4097 - len(prefix))) is None
    for value in (5, b"https://school.example/", ["https://school.example/"]):
        assert referrer_origin(value) is None  # type: ignore[arg-type]


def test_r_min_2_the_default_ipv6_prefix_is_exactly_48_bits() -> None:
    assert truncate_ip("2001:db8:abcd:8000::1") == "2001:db8:abcd::"  # bit 49 set: dropped
