"""User-agent reduction (R-MIN-3): families and majors against uap-core's real strings, device classes."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from consentgate.log.useragent import (
    MAX_USER_AGENT_CHARS,
    BrowserInfo,
    clear_cache,
    parse_user_agent,
    parser_backend,
)

CORPUS: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "data" / "user_agents.yaml").read_text(encoding="utf-8")
)["test_cases"]

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1"
)
ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36"
)
WINDOWS_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
MAC_FIREFOX = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0"
LINUX_FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0"
CHROMEBOOK = (
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"


def test_r_min_3_family_and_major_match_uap_core_corpus() -> None:
    misses = []
    for case in CORPUS:
        info = parse_user_agent(case["ua"])
        if (info.browser, info.browser_major) != (case["family"], case["major"]):
            misses.append((case["ua"], case["family"], case["major"], info.browser, info.browser_major))
    rate = 1 - len(misses) / len(CORPUS)
    # Measured: 467/467 with both the pure-Python matcher and ua-parser-rs.
    assert len(CORPUS) >= 400
    assert rate >= 0.97, f"match rate {rate:.3f} ({parser_backend()}); first misses: {misses[:5]}"


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (IPHONE, BrowserInfo("Mobile Safari", "17", "iOS", "17", "mobile")),
        (IPAD, BrowserInfo("Mobile Safari", "16", "iOS", "16", "tablet")),
        (ANDROID_PHONE, BrowserInfo("Chrome Mobile", "120", "Android", "14", "mobile")),
        (ANDROID_TABLET, BrowserInfo("Chrome", "119", "Android", "13", "tablet")),
        (WINDOWS_CHROME, BrowserInfo("Chrome", "120", "Windows", "10", "desktop")),
        (MAC_FIREFOX, BrowserInfo("Firefox", "121", "Mac OS X", "10", "desktop")),
        (LINUX_FIREFOX, BrowserInfo("Firefox", "115", "Linux", None, "desktop")),
        (CHROMEBOOK, BrowserInfo("Chrome", "118", "Chrome OS", "14541", "desktop")),
        (GOOGLEBOT, BrowserInfo("Googlebot", "2", "Other", None, "bot")),
        (BINGBOT, BrowserInfo("bingbot", "2", "Other", None, "bot")),
        ("curl/8.5.0", BrowserInfo("curl", "8", "Other", None, "other")),
        ("", BrowserInfo("Other", None, "Other", None, "other")),
        ("\x00\xff garbage \u2603", BrowserInfo("Other", None, "Other", None, "other")),
    ],
)
def test_r_min_3_reduced_to_families_majors_and_device_class(ua: str, expected: BrowserInfo) -> None:
    assert parse_user_agent(ua) == expected


def test_r_min_3_nothing_but_families_majors_and_device_is_kept() -> None:
    assert [f.name for f in dataclasses.fields(BrowserInfo)] == [
        "browser",
        "browser_major",
        "os",
        "os_major",
        "device",
    ]
    info = parse_user_agent(WINDOWS_CHROME)
    assert WINDOWS_CHROME not in dataclasses.astuple(info)
    assert "120.0.0.0" not in repr(info)  # minor versions are dropped


def test_r_min_3_device_classes_cover_the_corpus() -> None:
    devices = {parse_user_agent(case["ua"]).device for case in CORPUS}
    assert devices <= {"desktop", "mobile", "tablet", "bot", "other"}
    assert {"desktop", "mobile", "tablet", "bot"} <= devices


def test_long_input_is_cut_before_parsing() -> None:
    padding = " (" + "x" * 100_000 + ")"
    long_ua = WINDOWS_CHROME + padding
    assert parse_user_agent(long_ua) == parse_user_agent(long_ua[:MAX_USER_AGENT_CHARS])
    assert parse_user_agent(long_ua).browser == "Chrome"


def test_results_are_memoised() -> None:
    clear_cache()
    first = parse_user_agent(IPHONE)
    assert parse_user_agent(IPHONE) is first
    clear_cache()
    again = parse_user_agent(IPHONE)
    assert again == first
    assert again is not first


def test_non_text_input_is_treated_as_empty() -> None:
    assert parse_user_agent(None) == parse_user_agent("")  # type: ignore[arg-type]
    assert parse_user_agent(b"curl/8.0") == parse_user_agent("")  # type: ignore[arg-type]


def test_parser_backend_is_named() -> None:
    assert parser_backend() in {"ua-parser-rs", "ua-parser (pure Python)"}


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=700))
def test_r_min_3_any_text_gives_bounded_info(ua: str) -> None:
    info = parse_user_agent(ua)
    assert info.device in {"desktop", "mobile", "tablet", "bot", "other"}
    assert info.browser and len(info.browser) <= 64
    assert info.os and len(info.os) <= 64
    assert info.browser_major is None or len(info.browser_major) <= 16
    assert info.os_major is None or len(info.os_major) <= 16
