"""The cookie filters, decided by name and granted set only (R-CON-1, R-CON-6, R-CK-2, R-CK-3):
the same verdict whatever the values, header names compared case-insensitively."""

from __future__ import annotations

from collections import deque

from hypothesis import given
from hypothesis import strategies as st

from consentgate.enforce.cookie_filter import CookieFilter
from consentgate.enforce.hooks import DiscoverySink
from consentgate.enforce.policy import Policy

POLICY = Policy.from_toml(
    """
revision = 1
[categories.essential]
cookies = ["session", "csrftoken"]
[categories.analytics]
cookies = ["_ga", "_ga_*"]
[categories.marketing]
cookies = [{ name = "_fbp", path = "/", domain = "school.example" }, "ad_*"]
"""
)
# An oracle written apart from the policy's classifier: which names belong where.
CATEGORY = {
    "session": "essential",
    "csrftoken": "essential",
    "_ga": "analytics",
    "_ga_ABC": "analytics",
    "_ga_Q7X2M4KD9P": "analytics",
    "_fbp": "marketing",
    "ad_click": "marketing",
}
CONSENT = {"consentgate", "__Host-consentgate"}
ALL = frozenset({"essential", "personalization", "analytics", "marketing"})
GRANTED = st.sampled_from([frozenset({"essential"}), frozenset({"essential", "analytics"}), ALL])
NAMES = st.sampled_from([*CATEGORY, *CONSENT, "unknown", "theme", "", " _ga "])
VALUES = st.text(alphabet="abcXYZ0123456789.-_=~ ", max_size=12).map(str.encode)


def oracle(header: bytes, granted: frozenset[str]) -> tuple[bytes | None, tuple[str, ...]]:
    kept: list[bytes] = []
    withdrawn: list[str] = []
    dropped = False
    for piece in header.split(b";"):
        name_part, eq, _ = piece.partition(b"=")
        if not eq:
            if not piece.strip(b" \t"):
                continue
            name = ""
        else:
            name = name_part.strip(b" \t").decode()
        category = CATEGORY.get(name)
        if name in CONSENT or (category is not None and category in granted):
            kept.append(piece.strip(b" \t"))
            continue
        dropped = True
        if category is not None and name not in withdrawn:
            withdrawn.append(name)
    return (b"; ".join(kept) if dropped else None), tuple(withdrawn)


@given(st.lists(st.tuples(NAMES, VALUES), max_size=8), GRANTED, st.lists(VALUES, min_size=1, max_size=3))
def test_inbound_keeps_exactly_what_is_allowed_whatever_the_values(
    pairs: list[tuple[str, bytes]], granted: frozenset[str], other_values: list[bytes]
) -> None:
    filt = CookieFilter(POLICY)
    header = b"; ".join(name.encode() + b"=" + value.replace(b";", b"") for name, value in pairs)
    assert filt.inbound(header, granted) == oracle(header, granted)
    # The same names with other values: the memo on the name shape must not carry old values over.
    for value in other_values:
        again = b"; ".join(name.encode() + b"=" + value.replace(b";", b"") for name, _ in pairs)
        assert filt.inbound(again, granted) == oracle(again, granted)


def test_inbound_verdicts_do_not_leak_between_granted_sets() -> None:
    filt = CookieFilter(POLICY)
    header = b"session=1; _ga=GA1; _fbp=fb"
    assert filt.inbound(header, ALL) == (None, ())
    assert filt.inbound(header, frozenset({"essential"})) == (b"session=1", ("_ga", "_fbp"))
    assert filt.inbound(header, ALL) == (None, ())


def _start(*headers: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    return list(headers)


def test_outbound_decides_set_cookie_by_name_and_granted_set_only() -> None:
    filt = CookieFilter(POLICY)
    only_essential = frozenset({"essential"})
    for value in (b"1", b"2", b"a long value; Path=/"):
        out = filt.outbound(
            _start((b"set-cookie", b"_fbp=" + value), (b"set-cookie", b"session=" + value)),
            only_essential,
            (),
            False,
        )
        assert [v for k, v in out.headers if k == b"set-cookie"] == [b"session=" + value]
        out = filt.outbound(_start((b"set-cookie", b"_fbp=" + value)), ALL, (), False)
        assert [v for k, v in out.headers if k == b"set-cookie"] == [b"_fbp=" + value]


def test_outbound_reads_capitalised_header_names_and_keeps_them_byte_exact() -> None:
    filt = CookieFilter(POLICY)
    out = filt.outbound(
        _start(
            (b"Content-Type", b"text/html; charset=utf-8"),
            (b"Set-Cookie", b"_fbp=1"),
            (b"SET-COOKIE", b"session=2"),
            (b"Vary", b"Accept-Encoding"),
            (b"Content-Encoding", b"gzip"),
        ),
        frozenset({"essential"}),
        (),
        False,
    )
    assert out.headers == [
        (b"Content-Type", b"text/html; charset=utf-8"),
        (b"SET-COOKIE", b"session=2"),
        (b"Vary", b"Accept-Encoding, Cookie, Sec-GPC"),
        (b"Content-Encoding", b"gzip"),
    ]
    assert out.content_type == b"text/html; charset=utf-8"
    assert out.encoded


def test_r_ck_2_withdrawn_cookies_are_deleted_with_their_rules_path_and_domain() -> None:
    filt = CookieFilter(POLICY)
    out = filt.outbound([(b"content-type", b"text/plain")], frozenset({"essential"}), ("_fbp", "_ga"), True)
    deletions = [v for k, v in out.headers if k == b"set-cookie"]
    assert deletions[0].startswith(b"_fbp=; Max-Age=0;") and b"Domain=school.example" in deletions[0]
    assert deletions[1].startswith(b"_ga=; Max-Age=0;") and b"Path=/" in deletions[1]
    assert all(b"Secure" in d for d in deletions)
    plain = filt.outbound([], frozenset({"essential"}), ("_fbp",), False).headers
    assert b"Secure" not in plain[0][1]


def test_only_names_no_rule_names_are_noted_for_live_discovery() -> None:
    """Undeclared names (live cookie discovery) in both directions: a declared name, the consent
    cookie and a nameless cookie are never among them; the sink gets direction, names and the path."""
    cookies = CookieFilter(POLICY)
    sink = DiscoverySink(queue=deque(), queue_size=8, dropped=lambda: None)
    cookies.discovery = sink
    granted = frozenset({"essential"})
    lines = [b"mystery=1", b"_ga=2", b"consentgate=x", b"nameless", b"=empty", b"other=3; Path=/"]
    out = cookies.outbound([(b"set-cookie", line) for line in lines], granted, (), https=False)
    assert out.undeclared == ("mystery", "other")
    assert [value for name, value in out.headers if name == b"set-cookie"] == [b"consentgate=x"]
    kept, withdrawn = cookies.inbound(b"mystery=1; _ga=2; consentgate=x; x=; =y", granted, {"path": "/a"})
    assert kept == b"consentgate=x" and withdrawn == ("_ga",)
    cookies.note("set-cookie", out.undeclared, {"path": "/b"})
    assert [entry[:3] for entry in sink.queue] == [("cookie", ("mystery", "x"), "/a"), ("set-cookie", ("mystery", "other"), "/b")]
    assert cookies.inbound(b"_ga=2", granted, {"path": "/c"}) == (b"", ("_ga",)) and len(sink.queue) == 2  # nothing undeclared


def test_outbound_reports_the_content_type_and_whether_the_body_is_encoded() -> None:
    cookies = CookieFilter(POLICY)
    essential = frozenset({"essential"})

    def outbound(*headers: tuple[bytes, bytes]) -> tuple[bytes, bool]:
        out = cookies.outbound(list(headers), essential, (), https=False)
        return out.content_type, out.encoded

    assert outbound() == (b"", False)
    assert outbound((b"Content-Type", b"text/html; charset=utf-8")) == (b"text/html; charset=utf-8", False)
    assert outbound((b"content-encoding", b" gzip ")) == (b"", True)
    assert outbound((b"content-encoding", b"IDENTITY")) == (b"", False)
    assert outbound((b"content-encoding", b"")) == (b"", False)
    assert outbound((b"content-encoding", b"br")) == (b"", True)


def test_r_ck_3_outbound_names_a_cookie_by_what_comes_before_the_first_equals_sign() -> None:
    out = CookieFilter(POLICY).outbound(
        [(b"set-cookie", b"session=a=b"), (b"set-cookie", b"_ga=x=y")], frozenset({"essential"}), (), https=False
    )
    assert [value for name, value in out.headers if name == b"set-cookie"] == [b"session=a=b"]
    assert out.undeclared == ()


def test_inbound_drops_empty_pieces_when_it_rebuilds_and_never_notes_a_bare_value() -> None:
    cookies = CookieFilter(POLICY)
    sink = DiscoverySink(queue=deque(), queue_size=8, dropped=lambda: None)
    cookies.discovery = sink
    essential = frozenset({"essential"})
    assert cookies.inbound(b"session=1;; _ga=2", essential) == (b"session=1", ("_ga",))
    cookies.inbound(b"bare; mystery=1", essential, {"path": "/p"})
    assert [entry[:3] for entry in sink.queue] == [("cookie", ("mystery",), "/p")]
