"""What the server gives the click-to-load placeholders: the placeholder's template and words in
the visitor's language, the policy's categories and described services, the module's URL."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from coreapp import client
from support.embed_site import build_site as build_embed_site
from support.embed_site import make_policy

from consentgate.i18n.catalogs import catalog

THIRD_PARTY = "http://127.0.0.2:9"


def page_and_config(tc: Any, **headers: str) -> tuple[str, dict[str, Any]]:
    """A first visit's page and what the placeholders read: the policy's data in the banner's part
    (inline on a first visit; fetched from <prefix>/dialog once the visitor has chosen)."""
    page = tc.get("/", headers=headers).text
    match = re.search(r'data-consentgate="policy">(.*?)</script>', page, re.S)
    assert match is not None
    return page, json.loads(match.group(1))


def test_the_placeholders_words_and_data_in_the_visitors_language() -> None:
    page, config = page_and_config(client(build_embed_site(THIRD_PARTY)), **{"accept-language": "it"})
    it = catalog("it")
    # per category: its label, hosts and cookies (what a placeholder names)
    marketing = [it["category.marketing.label"], ["127.0.0.2"], ["_fbp", "VISITOR_INFO1_LIVE", "YSC"]]
    assert config["cat"]["marketing"] == marketing
    assert set(config["cat"]) == {"personalization", "analytics", "marketing"}  # never essential
    # the same cookies as the script deletes them on withdrawal: path, domain, a regular expression
    assert config["cookies"]["marketing"][0] == ["/", None, "^_fbp$"]
    assert config["svc"] == {"SchoolTube": [["127.0.0.2"], ["VISITOR_INFO1_LIVE", "YSC"]]}
    assert config["reload"] is False
    template = re.search(r'<template data-consentgate="embed">(.*?)</template>', page, re.S)
    assert template is not None
    words = html.unescape(template.group(1))
    assert 'class="cg-ph" lang="it" dir="ltr"' in words
    # every string once, with its {placeholders} for the script (UTF-8 in the page, not escaped JSON)
    for key in ("embed.blocked", "embed.hosts", "embed.hosts_cookies", "embed.load_once", "embed.allow"):
        assert words.count(f">{it[key]}<") == 1, key
    assert f'aria-label="{it["embed.load_once_named"]}"' in words
    assert f'aria-label="{it["embed.allow_named"]}"' in words
    assert it["category.locked.student"] in words and it["category.locked.gpc"] in words
    assert 'data-consentgate="open"' in words


def test_the_module_is_served_like_the_banners_own_files() -> None:
    tc = client(build_embed_site(THIRD_PARTY))
    _, config = page_and_config(tc)
    assert re.fullmatch(r"/_consent/static/[0-9a-f]{16}/consentgate-embeds\.js", config["embeds"])
    response = tc.get(config["embeds"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "consentgate:change" in response.text


def once_button(page: str) -> str:
    match = re.search(r'<button [^>]*data-consentgate="embed-once"[^>]*>', page)
    assert match is not None
    return match.group(0)


def test_load_once_off_in_the_policy_or_under_an_enforced_consent_aware_csp() -> None:
    page, config = page_and_config(client(build_embed_site(THIRD_PARTY)))
    assert " hidden" not in once_button(page) and config["reload"] is False
    page, _ = page_and_config(client(build_embed_site(THIRD_PARTY, load_once=False)))
    assert once_button(page).endswith(" hidden>")
    assert make_policy(load_once=False).embeds.load_once is False
    page, config = page_and_config(client(build_embed_site(THIRD_PARTY, csp="enforce")))
    assert once_button(page).endswith(" hidden>") and config["reload"] is True
    page, config = page_and_config(client(build_embed_site(THIRD_PARTY, csp="report-only")))
    assert " hidden" not in once_button(page) and config["reload"] is False


def test_arabic_placeholder_is_right_to_left() -> None:
    page, _ = page_and_config(client(build_embed_site(THIRD_PARTY)), **{"accept-language": "ar"})
    assert 'class="cg-ph" lang="ar" dir="rtl"' in page
    assert html.unescape(page).count(catalog("ar")["embed.blocked"]) == 1
