"""Small Starlette apps and helpers shared by the core tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consentgate import ConsentMiddleware, Policy

SECRET = "test-secret-0123456789-abcdefghijklmnop"

POLICY_TOML = """
revision = 3
consent_max_age_days = 395
refusal_max_age_days = 182
unknown_cookies = "block"

[categories.essential]
cookies = ["session", "csrftoken"]

[categories.personalization]
cookies = ["lang", "theme"]

[categories.analytics]
cookies = ["_ga", "_ga_*", "_pk_id.*"]
hosts = ["www.google-analytics.com"]

[categories.marketing]
cookies = ["_fbp", "IDE", "ad_*"]
hosts = ["connect.facebook.net"]

[students]
deny = ["analytics"]

[tenants.lincoln-high]
student_deny = ["personalization"]
"""


def make_policy(text: str = POLICY_TOML) -> Policy:
    return Policy.from_toml(text, source="test.toml")


def echo_consent(request: Request) -> JSONResponse:
    consent = request.state.consent
    return JSONResponse(
        {
            "granted": sorted(consent.granted),
            "needs_choice": consent.needs_choice,
            "is_student": consent.is_student,
            "gpc": consent.gpc,
            "tenant": consent.tenant,
            "consent_id": consent.consent_id,
            "cookie_header": request.headers.get("cookie"),
            "same_in_scope": request.scope["consentgate.consent"] is consent,
        }
    )


def raw_headers_app(headers: Sequence[tuple[bytes, bytes]], body: bytes = b"ok") -> Any:
    """A bare ASGI app answering with exactly these raw headers."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})

    return app


def build_app(
    policy: Policy | None = None,
    routes: Sequence[Route] | None = None,
    session_roles: Callable[[Any], None] | None = None,
    **options: Any,
) -> Starlette:
    def set_cookies(request: Request) -> Response:
        response = Response("cookies")
        response.set_cookie("session", "s1", httponly=True)
        response.set_cookie("theme", "dark")
        response.set_cookie("_ga", "GA1.1", httponly=True)
        response.set_cookie("_fbp", "fb.1")
        response.set_cookie("mystery", "x")
        return response

    all_routes = [Route("/", echo_consent), Route("/cookies", set_cookies), *(routes or [])]
    middleware = [Middleware(ConsentMiddleware, policy=policy or make_policy(), secret_key=SECRET, **options)]
    return Starlette(routes=all_routes, middleware=middleware)


def client(app: Any, **kwargs: Any) -> TestClient:
    kwargs.setdefault("base_url", "http://testserver")
    return TestClient(app, **kwargs)


def decide(tc: TestClient, body: dict[str, Any], **headers: str) -> Any:
    """POST a decision the way the banner does; returns the response."""
    return tc.post("/_consent", json=body, headers={"origin": "http://testserver", **headers})


def cookie_from(response: Any, name: str) -> str:
    for value in response.headers.get_list("set-cookie"):
        if value.split("=", 1)[0] == name:
            return str(value.split(";", 1)[0].split("=", 1)[1])
    raise AssertionError(f"no Set-Cookie for {name!r} in {response.headers.get_list('set-cookie')}")
