"""Cookie names as browsers read them (R-CK-3), Cookie header filtering, deletion headers (R-CK-2)."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from consentgate.enforce.cookie_headers import (
    NAMELESS,
    cookie_names,
    deletion_header,
    filter_cookie_header,
    request_cookie_value,
    set_cookie_name,
)

CORPUS = json.loads((Path(__file__).resolve().parents[1] / "data/http-state-parser.json").read_text())


def _rfc6265_keeps(line: str) -> tuple[str, str] | None:
    """What a browser keeps from one line, per the corpus's RFC 6265 rules (name, value)."""
    pair = line.split(";", 1)[0]
    if "=" not in pair:
        return None
    name, value = pair.split("=", 1)
    name, value = name.strip(" \t"), value.strip(" \t")
    return (name, value) if name else None


def test_r_ck_3_every_cookie_the_corpus_keeps_has_the_name_we_read() -> None:
    """For all 222 http-state cases: each cookie a browser sends back came from a line whose name
    we parse identically, so our category decision is about the cookie the browser stores."""
    checked = 0
    for case in CORPUS:
        lines = case["received"]
        ours = [(set_cookie_name(line.encode("utf-8")), line) for line in lines]
        for sent in case["sent"]:
            sources = [line for name, line in ours if name == sent["name"]]
            assert sources, f"{case['test']}: browser keeps {sent['name']!r}, we never read that name"
            checked += 1
        for name, line in ours:
            kept = _rfc6265_keeps(line)
            if kept is None:
                # Lines RFC 6265 drops: nameless under 6265bis, so our policy treats them as unknown.
                assert name == NAMELESS or "=" in line.split(";", 1)[0], case["test"]
    assert checked >= 150


def test_set_cookie_name_follows_6265bis() -> None:
    assert set_cookie_name(b"_ga=GA1.2; Path=/; HttpOnly") == "_ga"
    assert set_cookie_name(b"  spaced \t= v") == "spaced"
    assert set_cookie_name(b"a=b=c") == "a"
    assert set_cookie_name(b"noequals; Path=/") == NAMELESS  # nameless: browsers keep value "noequals"
    assert set_cookie_name(b"=value") == NAMELESS
    assert set_cookie_name(b'"quoted;name"=v') == NAMELESS
    assert set_cookie_name(b"ctl\x01=v") == NAMELESS  # cut at the control character: no "="
    assert set_cookie_name(b"IDE=1\x00; x") == "IDE"  # old browsers keep "IDE=1": still marketing
    assert set_cookie_name(b"__Host-id=1; Secure; Path=/") == "__Host-id"
    assert set_cookie_name("caf\u00e9=1".encode()) == "caf\u00e9"  # UTF-8 names as browsers show them
    assert set_cookie_name(b"\xff=1") == "\udcff"  # invalid UTF-8 kept losslessly, never raises


def test_cookie_header_names_and_filter() -> None:
    header = b"session=abc; _ga=GA1; bare; theme=dark"
    assert cookie_names(header) == ["session", "_ga", NAMELESS, "theme"]
    filtered, dropped = filter_cookie_header(header, {"session", "theme"})
    assert filtered == b"session=abc; theme=dark"
    assert dropped == ["_ga", NAMELESS]
    same, none = filter_cookie_header(header, {"session", "_ga", "", "theme"})
    assert same is header and none == []


def test_r_ck_2_deletion_header_same_name_path_domain_expired() -> None:
    value = deletion_header("_ga", "/app", ".example.org").decode()
    assert value.startswith("_ga=; ")
    assert "Max-Age=0" in value
    assert "Expires=Thu, 01 Jan 1970 00:00:00 GMT" in value
    assert "Path=/app" in value and "Domain=.example.org" in value
    assert "Secure" in deletion_header("__Host-x").decode()
    assert "Secure" not in deletion_header("plain").decode()


cookie_name_chars = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=";=,"), min_size=1, max_size=12)


@given(st.lists(st.tuples(cookie_name_chars, st.text(alphabet="abc123", max_size=5)), max_size=8), st.sets(cookie_name_chars))
def test_filter_keeps_exactly_the_allowed_pairs(pairs: list[tuple[str, str]], keep: set[str]) -> None:
    header = "; ".join(f"{n}={v}" for n, v in pairs).encode()
    filtered, dropped = filter_cookie_header(header, keep)
    assert cookie_names(filtered) == [n for n, _ in pairs if n in keep]
    assert dropped == [n for n, _ in pairs if n not in keep]


@given(st.binary(max_size=200))
def test_parsers_never_raise_on_any_bytes(raw: bytes) -> None:
    assert isinstance(set_cookie_name(raw), str)
    assert isinstance(cookie_names(raw), list)
    filter_cookie_header(raw, {"a"})


def test_request_cookie_value_finds_whole_names_only() -> None:
    header = b"xconsentgate_lang=de; a=consentgate_lang=it;  consentgate_lang = fr ; consentgate_lang=es"
    assert request_cookie_value(header, b"consentgate_lang") == b"fr"
    assert request_cookie_value(b"consentgate_lang=ja", b"consentgate_lang") == b"ja"
    assert request_cookie_value(b"a=1; consentgate_lang", b"consentgate_lang") is None  # no "=": nameless
    assert request_cookie_value(b"", b"x") is None


def test_cookie_names_and_filter_trim_only_spaces_and_tabs() -> None:
    header = b" a = 1 ;\tb=2; ; bare ;=x;\x0bc=3"
    assert cookie_names(header) == ["a", "b", NAMELESS, NAMELESS, "\x0bc"]  # other control bytes stay
    filtered, dropped = filter_cookie_header(header, {"a", "\x0bc"})
    assert filtered == b"a = 1; \x0bc=3"
    assert dropped == ["b", NAMELESS, NAMELESS]
    assert filter_cookie_header(b"a=1; ;  ", {"a"}) == (b"a=1; ;  ", [])  # nothing dropped: untouched
    assert filter_cookie_header(b"", set()) == (b"", [])
    assert cookie_names(b"") == [] and cookie_names(b" ; \t; ") == []


def test_a_name_ends_at_the_first_equals_and_only_spaces_and_tabs_are_blank() -> None:
    assert cookie_names(b"a=b=c;\x0b") == ["a", NAMELESS]  # "\x0b" is not blank: a nameless value
    assert filter_cookie_header(b"a=b=c;\x0b", {"a"}) == (b"a=b=c", [NAMELESS])
    assert request_cookie_value(b"x=1;\x0bname=v", b"name") is None  # "\x0b" is part of the name there
    assert request_cookie_value(b"x=1; \tname=v", b"name") == b"v"


def test_request_cookie_value_trims_only_spaces_and_tabs() -> None:
    assert request_cookie_value(b"name\x0b=v", b"name") is None  # "name\x0b" is another name
    assert request_cookie_value(b"name=v\x0b", b"name") == b"v\x0b"
    assert request_cookie_value(b"name = \tv \t; x=1", b"name") == b"v"


def test_prefixed_cookies_are_deleted_with_secure_whatever_the_scheme() -> None:
    assert deletion_header("__Secure-id").endswith(b"; Path=/; Secure")
    assert deletion_header("__Host-id").endswith(b"; Path=/; Secure")
    assert deletion_header("__secure-id").endswith(b"; Path=/")  # the prefixes are case-sensitive


def test_r_ck_3_a_set_cookie_value_starting_with_a_semicolon_is_nameless() -> None:
    """The name-value pair ends at the first ";": a value that starts with one has an empty pair,
    whatever follows (``;a=b`` does not set a cookie called ";a" or "a")."""
    assert set_cookie_name(b";a=b") == ""
    assert set_cookie_name(b"; a=b; Path=/") == ""
    assert set_cookie_name(b"a=b;c=d") == "a"
