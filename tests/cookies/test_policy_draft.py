"""The drafted policy of ``consentgate init`` as a function of what a visit found (issue 14,
point 4), without a browser: placement, folding, the "to decide" block, hosts by platform."""

from __future__ import annotations

from datetime import UTC, datetime

from consentgate import Policy
from consentgate.cookies.draft import FoundCookie, FoundHost, draft_policy

NOW = datetime(2026, 1, 30, 9, 0, tzinfo=UTC)


def draft(cookies: list[FoundCookie], hosts: list[FoundHost] = []) -> tuple[str, Policy]:  # noqa: B006
    made = draft_policy("https://school.example/", "school.example", ["/", "/news"], cookies, hosts, now=NOW)
    return made.text, Policy.from_toml(made.text, source="draft.toml")


def test_known_cookies_are_placed_and_unknown_ones_left_to_decide() -> None:
    text, policy = draft(
        [
            FoundCookie("_fbp", "script", "/"),
            FoundCookie("_ga_AAAA11", "script", "/"),
            FoundCookie("_ga_BBBB22", "script", "/news"),
            FoundCookie("sessionid", "server", "/"),
            FoundCookie("PHPSESSID", "server", "/"),
            FoundCookie("cart_8f3a9c21d0", "server", "/news"),
            FoundCookie("pvc_visits[0]", "script", "/"),
        ]
    )
    assert policy.category_of_cookie("_fbp") == "marketing"
    assert policy.category_of_cookie("_ga_ANY") == "analytics"
    assert text.count('"_ga_*",') == 1 and "(seen as _ga_AAAA11, _ga_BBBB22)" in text
    assert policy.category_of_cookie("PHPSESSID") == "essential"  # PHP's own session cookie
    assert policy.category_of_cookie("sessionid") is None
    assert policy.category_of_cookie("cart_8f3a9c21d0") is None
    decide = text.split("# -- to decide")[1]
    assert '"cart_*",  # set by the server on /news; not in the cookie database' in decide
    # A name no policy pattern can hold is a comment even when the database knows it.
    assert "pvc_visits[0]" not in text.split("# -- to decide")[0]
    assert "cannot be written as a policy pattern" in decide and "Postviewscounter" in decide


def test_hosts_are_grouped_by_the_platform_the_database_knows() -> None:
    text, policy = draft(
        [],
        [
            FoundHost("www.google-analytics.com", "/", "script"),
            FoundHost("www.facebook.com", "/news", "image"),
            FoundHost("cdn.unknown-host.example", "/", "script"),
        ],
    )
    assert policy.hosts_for(["analytics"]) == ("www.google-analytics.com",)
    assert policy.hosts_for(["marketing"]) == ("www.facebook.com",)
    assert "Google Analytics: the cookie database knows google-analytics.com" in text
    assert '#   "cdn.unknown-host.example",  # script from /; not known to the cookie database' in text


def test_an_empty_visit_drafts_a_valid_empty_policy() -> None:
    made = draft_policy("http://x.example/", "x.example", ["/"], [], [], now=NOW)
    policy = Policy.from_toml(made.text)
    assert all(not c.cookies and not c.hosts for c in policy.categories)
    assert "# -- to decide" not in made.text and made.undecided == [] and made.placed == {}
    assert made.text.startswith("# consentgate policy drafted by `consentgate init http://x.example/` on 2026-01-30 09:00 UTC")
