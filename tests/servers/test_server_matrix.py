"""The core promises under every ASGI server and framework we support: uvicorn, hypercorn and granian
serving Starlette, FastAPI, Litestar, Quart and Django sites (tests/support/framework_apps.py).

One server process per (server, framework): the banner is on the first page, a marketing
Set-Cookie is held back before consent and passes after Accept all, and after the server's own
graceful stop (SIGTERM) the visit of the consenting request is in the privacy log. Django runs as
it comes: capitalised header names and no lifespan support of its own."""

from __future__ import annotations

import itertools
from pathlib import Path

import httpx2 as httpx
import pytest
from support.asgi_servers import AsgiServer

from consentgate.log.stores.factory import open_store

SERVERS = ("uvicorn", "hypercorn", "granian")
FRAMEWORKS = ("starlette", "fastapi", "litestar", "quart", "django")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def _cookie_names(response: httpx.Response) -> set[str]:
    return {line.split("=", 1)[0] for line in response.headers.get_list("set-cookie")}


@pytest.mark.slow
@pytest.mark.parametrize(("server", "framework"), list(itertools.product(SERVERS, FRAMEWORKS)))
def test_r_con_1_banner_cookie_blocking_and_visit_under_every_server_and_framework(
    server: str, framework: str, tmp_path: Path
) -> None:
    store = str(tmp_path / "log.sqlite3")
    site = AsgiServer(server, "support.framework_apps:app", log_dir=tmp_path,
                      env={"CG_FRAMEWORK": framework, "CG_STORE": store})  # fmt: skip
    url = site.start()
    try:
        with httpx.Client(headers={"user-agent": FIREFOX}, timeout=20) as client:
            first = client.get(url + "/")
            assert first.status_code == 200, site.log_text()
            assert 'data-consentgate="banner"' in first.text, "no banner on the first page"
            assert "analytics allowed: no" in first.text
            assert _cookie_names(first) == {"csrftoken"}, "marketing cookie before consent"

            decided = client.post(url + "/_consent", json={"action": "accept_all"}, headers={"origin": url})
            assert decided.status_code == 200, decided.text
            consent_id = decided.json()["consent"]["consent_id"]

            after = client.get(url + "/")
            assert {"csrftoken", "_fbp"} <= _cookie_names(after), "marketing cookie held back after consent"
            assert "analytics allowed: yes" in after.text, "the view did not read the consent"
    finally:
        site.stop()
    with open_store(store) as opened:
        visits = opened.visits(consent_id=consent_id)
        receipts = opened.receipts(consent_id=consent_id)
    assert [v["path"] for v in visits] == ["/"], f"visit not recorded: {site.log_text()[-2000:]}"
    assert visits[0]["browser"] == "Firefox"
    assert [r.method for r in receipts] == ["accept_all"]
