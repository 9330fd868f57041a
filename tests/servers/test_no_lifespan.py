"""No lifespan, no loss: the privacy log starts itself and its visits survive a clean stop.

Under daphne (no lifespan support) and uvicorn run with ``--lifespan off`` no lifespan startup ever
reaches the middleware: the log starts on the first request, says so once, and what is queued is
written when the server stops on SIGTERM. Django under uvicorn does not speak the lifespan protocol
itself: the middleware answers it for the log (no warning then)."""

from __future__ import annotations

from pathlib import Path

import httpx2 as httpx
import pytest
from support.asgi_servers import AsgiServer

from consentgate.log.autostart import NO_LIFESPAN
from consentgate.log.stores.factory import open_store

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("server", "framework", "extra", "warned"),
    [
        ("daphne", "django", (), True),
        ("uvicorn", "starlette", ("--lifespan", "off"), True),
        ("uvicorn", "django", (), False),
    ],
)
def test_visits_are_stored_after_a_clean_stop_without_lifespan(
    server: str, framework: str, extra: tuple[str, ...], warned: bool, tmp_path: Path
) -> None:
    store = str(tmp_path / "log.sqlite3")
    site = AsgiServer(server, "support.framework_apps:app", log_dir=tmp_path, extra=extra,
                      env={"CG_FRAMEWORK": framework, "CG_STORE": store})  # fmt: skip
    url = site.start()
    try:
        with httpx.Client(headers={"user-agent": FIREFOX}, timeout=20) as client:
            decided = client.post(url + "/_consent", json={"action": "accept_all"}, headers={"origin": url})
            assert decided.status_code == 200, decided.text
            consent_id = decided.json()["consent"]["consent_id"]
            for path in ("/", "/", "/"):
                assert client.get(url + path).status_code == 200
    finally:
        site.stop()
    with open_store(store) as opened:
        visits = opened.visits(consent_id=consent_id)
    assert len(visits) == 3, site.log_text()[-3000:]
    assert site.log_text().count(NO_LIFESPAN) == (1 if warned else 0)
