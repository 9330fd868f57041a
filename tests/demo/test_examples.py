"""The examples run as documented (``uvicorn examples.<name>:app`` from the repository root) and enforce
the example policy: a smoke test of each through a real server process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from support.live_server import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
SECRET = "examples-secret-0123456789-abcdefghijkl"


def _serve(name: str, tmp_path: Path) -> ServerProcess:
    server = ServerProcess(f"examples.{name}:app", env={"CONSENTGATE_SECRET": SECRET}, cwd=ROOT)
    server.output_dir = tmp_path
    server.start()
    return server


@pytest.fixture(params=["starlette_app", "flask_app"])
def example(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    server = _serve(request.param, tmp_path)
    try:
        yield request.param, server.url
    finally:
        server.stop()


@pytest.fixture
def fastapi_example(tmp_path: Path) -> Iterator[str]:
    server = _serve("fastapi_app", tmp_path)
    try:
        yield server.url
    finally:
        server.stop()


def _decide(client: httpx.Client, url: str, body: dict[str, object]) -> None:
    response = client.post(f"{url}/_consent", json=body, headers={"origin": url})
    assert response.status_code == 200, response.text


def _cookie_names(response: httpx.Response) -> set[str]:
    return {value.split("=", 1)[0] for value in response.headers.get_list("set-cookie")}


@pytest.mark.slow
def test_r_con_1_examples_hold_back_optional_cookies_until_consent(example: tuple[str, str]) -> None:
    name, url = example
    with httpx.Client() as client:
        first = client.get(url + "/")
        assert first.status_code == 200
        assert "session" in _cookie_names(first)
        assert not _cookie_names(first) & {"theme", "_ga", "_fbp"}
        assert client.get(url + "/_consent").json()["consent"]["needs_choice"] is True
        _decide(client, url, {"action": "accept_all"})
        after = client.get(url + "/")
        expected = {"starlette_app": {"theme", "_ga"}, "flask_app": {"_fbp"}}[name]
        assert expected <= _cookie_names(after)
        assert "Allowed" in after.text or "allowed" in after.text


@pytest.mark.slow
def test_fastapi_example_sends_analytics_only_with_consent(fastapi_example: str) -> None:
    url = fastapi_example
    with httpx.Client() as client:
        assert "Allowed: essential" in client.get(url + "/").text
    with httpx.Client() as client:
        assert client.post(url + "/quiz/7/submit").json() == {"quiz": 7, "graded": True, "measured": False}
        _decide(client, url, {"categories": ["analytics"]})
        assert client.post(url + "/quiz/7/submit").json()["measured"] is True
        # Global Privacy Control does not cover analytics; denying does.
        _decide(client, url, {"action": "deny_all"})
        assert client.post(url + "/quiz/7/submit").json()["measured"] is False
