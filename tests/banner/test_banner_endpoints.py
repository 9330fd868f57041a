"""What the banner sends to POST /_consent beyond the core: the browser's GPC signal (R-GPC-5)."""

from __future__ import annotations

from coreapp import client
from support.banner_app import build_site

from consentgate import Decision

ORIGIN = {"origin": "http://testserver"}


def test_r_gpc_5_navigator_gpc_in_the_body_is_treated_like_the_header() -> None:
    decisions: list[Decision] = []
    tc = client(build_site(on_decision=decisions.append))
    answer = tc.post("/_consent", json={"action": "accept_all", "gpc": True}, headers=ORIGIN).json()
    assert "marketing" not in answer["consent"]["granted"]
    assert answer["consent"]["locked"] == {"marketing": "gpc"}
    assert decisions[0].gpc is True
    assert decisions[0].limited_by == {"marketing": "gpc"}
    # Later requests carry no Sec-GPC header: the opt-out was stored with the choice.
    assert "marketing" not in decisions[0].stored
    state = tc.get("/_consent").json()["consent"]
    assert state["granted"] == ["essential", "personalization", "analytics"]


def test_gpc_false_or_absent_changes_nothing() -> None:
    tc = client(build_site())
    answer = tc.post("/_consent", json={"action": "accept_all", "gpc": False}, headers=ORIGIN).json()
    assert "marketing" in answer["consent"]["granted"]


def test_gpc_must_be_a_boolean() -> None:
    tc = client(build_site())
    values: list[object] = ["1", 1, [], {}]
    for value in values:
        response = tc.post("/_consent", json={"action": "accept_all", "gpc": value}, headers=ORIGIN)
        assert response.status_code == 400
        assert "gpc" in response.json()["error"]


def test_header_gpc_keeps_the_stored_choice_as_the_core_does() -> None:
    """With Sec-GPC the ceiling applies per request; the stored choice is left as asked."""
    decisions: list[Decision] = []
    tc = client(build_site(on_decision=decisions.append))
    tc.post("/_consent", json={"action": "accept_all"}, headers={**ORIGIN, "sec-gpc": "1"})
    assert "marketing" in decisions[0].stored
    assert "marketing" not in decisions[0].granted
