"""consentgate.django: the consent in views and templates (ASGI and WSGI), the template tags, the
asgi() one-liner with GZip outside, and the cookies Django itself sets (with the check command)."""

from __future__ import annotations

import asyncio
import gzip
import logging
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from coreapp import POLICY_TOML, SECRET, make_policy
from django.core.asgi import get_asgi_application
from django.test import Client, override_settings
from support.asgi import call_asgi

import consentgate.django.consent as django_consent
from consentgate.audit.pytest_plugin import ConsentCookieFactory
from consentgate.banner.injection import COMPRESSED_SKIPPED
from consentgate.cli import main
from consentgate.django import NO_MIDDLEWARE, asgi, django_cookies, policy_warnings
from consentgate.django.application import DJANGO_GZIP


def _site(**options: Any) -> Any:
    return asgi(get_asgi_application(), policy=make_policy(), secret_key=SECRET, **options)


def _get(
    app: Any, path: str, headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[dict[bytes, bytes], bytes]:
    _, messages = asyncio.run(call_asgi(app, [(b"host", b"testserver"), *(headers or [])], path=path))
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return {k.lower(): v for k, v in start["headers"]}, body


def _cookie(categories: list[str]) -> tuple[bytes, bytes]:
    cookie = ConsentCookieFactory(make_policy(), SECRET)(categories)
    return (b"cookie", f"{cookie.name}={cookie.value}".encode())


@pytest.fixture(autouse=True)
def _warn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(django_consent, "_warned", False)


def test_get_consent_under_asgi_is_the_middlewares_consent() -> None:
    cookie = ConsentCookieFactory(make_policy(), SECRET)(["analytics"])
    _, body = _get(_site(), "/consent", [(b"cookie", f"{cookie.name}={cookie.value}".encode())])
    assert body == (b'{"granted": ["analytics", "essential"], "needs_choice": false, "consent_id": "%s"}'
                    % cookie.consent_id.encode())  # fmt: skip


def test_under_wsgi_views_get_essential_only_templates_no_banner_and_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = Client()
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        assert client.get("/consent").json() == {
            "granted": ["essential"],
            "needs_choice": True,
            "consent_id": None,
        }
        page = client.get("/placed").content
        assert client.get("/processor").status_code == 200
    assert b"data-consentgate" not in page
    assert b'nonce=""' in page
    assert [r.getMessage() for r in caplog.records] == [NO_MIDDLEWARE]


def test_template_tags_place_the_banner_once_and_the_nonce_is_the_csps() -> None:
    headers, body = _get(_site(csp="enforce"), "/placed")
    assert body.count(b'data-consentgate="banner"') == 1  # placed by the tag, not injected again
    assert body.index(b'data-consentgate="banner"') < body.index(b"</body>")
    nonce = re.search(rb'<script nonce="([^"]+)">window.page', body)
    assert nonce is not None
    assert b"'nonce-" + nonce.group(1) + b"'" in headers[b"content-security-policy"]


def test_the_context_processor_gives_templates_the_consent() -> None:
    _, body = _get(_site(), "/processor", [_cookie(["analytics"])])
    assert b"analytics on" in body
    _, body = _get(_site(), "/processor", [_cookie([])])
    assert b"analytics off" in body


def test_gzip_outside_the_middleware_keeps_the_banner_and_the_cookie_filter() -> None:
    headers, body = _get(_site(gzip=True), "/plain", [(b"accept-encoding", b"gzip")])
    assert headers[b"content-encoding"] == b"gzip"
    page = gzip.decompress(body)
    assert b'data-consentgate="banner"' in page
    assert b"set-cookie" not in headers  # _fbp (marketing) held back


def test_gzip_outside_gives_one_content_length_when_django_sends_its_own() -> None:
    middleware = ["django.middleware.common.CommonMiddleware", "django.middleware.csrf.CsrfViewMiddleware"]
    with override_settings(MIDDLEWARE=middleware):
        _, messages = asyncio.run(
            call_asgi(
                _site(gzip=True), [(b"host", b"testserver"), (b"accept-encoding", b"gzip")], path="/plain"
            )
        )
    names = [key.lower() for key, _ in messages[0]["headers"]]
    assert names.count(b"content-length") == 1  # Django's "Content-Length" is not kept beside GZip's
    body = b"".join(m.get("body", b"") for m in messages[1:])
    assert int(dict(messages[0]["headers"])[b"content-length"]) == len(body)
    assert b'data-consentgate="banner"' in gzip.decompress(body)


def test_djangos_own_gzip_middleware_loses_the_banner_and_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    middleware = ["django.middleware.gzip.GZipMiddleware", "django.middleware.csrf.CsrfViewMiddleware"]
    with override_settings(MIDDLEWARE=middleware), caplog.at_level(logging.WARNING, logger="consentgate"):
        site = _site()
        _, body = _get(site, "/plain", [(b"accept-encoding", b"gzip")])
    assert b"data-consentgate" not in gzip.decompress(body)
    messages = [r.getMessage() for r in caplog.records]
    assert DJANGO_GZIP in messages and COMPRESSED_SKIPPED in messages


def test_django_cookie_names_follow_the_settings() -> None:
    defaults = SimpleNamespace(
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.locale.LocaleMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
        INSTALLED_APPS=["django.contrib.messages"],
    )
    assert [c.name for c in django_cookies(defaults)] == [
        "sessionid",
        "csrftoken",
        "django_language",
        "messages",
    ]
    renamed = SimpleNamespace(**vars(defaults), SESSION_COOKIE_NAME="school_session", CSRF_USE_SESSIONS=True,
                              LANGUAGE_COOKIE_NAME="lang", USE_I18N=True,
                              MESSAGE_STORAGE="django.contrib.messages.storage.session.SessionStorage")  # fmt: skip
    assert [c.name for c in django_cookies(renamed)] == ["school_session", "lang"]
    assert django_cookies(SimpleNamespace(MIDDLEWARE=[], INSTALLED_APPS=[])) == []


def test_policy_warnings_name_each_blocked_django_cookie() -> None:
    cookies = django_cookies(SimpleNamespace(
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware", "django.middleware.csrf.CsrfViewMiddleware"],
        INSTALLED_APPS=["django.contrib.messages"],
    ))  # fmt: skip
    policy = make_policy(
        POLICY_TOML.replace('cookies = ["lang", "theme"]', 'cookies = ["lang", "theme", "messages"]')
    )
    warnings = policy_warnings(policy, cookies)
    assert len(warnings) == 2  # csrftoken is essential in the test policy
    assert "'sessionid'" in warnings[0] and 'unknown_cookies = "block"' in warnings[0]
    assert "'messages'" in warnings[1] and "category 'personalization'" in warnings[1]
    allow = POLICY_TOML.replace('unknown_cookies = "block"', 'unknown_cookies = "allow"')
    allow = allow.replace('cookies = ["lang", "theme"]', 'cookies = ["lang", "theme", "messages"]')
    assert len(policy_warnings(make_policy(allow), cookies)) == 1  # only the classified one is still blocked


def test_check_with_django_settings_warns_about_blocked_cookies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "cg_check_settings.py").write_text(
        'MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware",\n'
        '              "django.middleware.csrf.CsrfViewMiddleware"]\n'
        'INSTALLED_APPS = ["django.contrib.messages"]\nSESSION_COOKIE_NAME = "school_session"\n'
    )
    (tmp_path / "consent.toml").write_text(POLICY_TOML)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    assert main(["check", "consent.toml", "--django-settings", "cg_check_settings"]) == 0
    out = capsys.readouterr().out
    assert (
        "Django (cg_check_settings) sets: school_session (SESSION_COOKIE_NAME), csrftoken (CSRF_COOKIE_NAME), messages (MESSAGE_STORAGE)"
        in out
    )
    warnings = [line for line in out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2
    assert "'school_session'" in warnings[0] and "sign-in and sessions" in warnings[0]
    assert "'messages'" in warnings[1]
    assert out.rstrip().endswith("OK")
