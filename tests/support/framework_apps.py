"""One small site per framework behind ConsentMiddleware with a SQLite privacy log, for the server x
framework matrix (tests/servers). A server process imports ``support.framework_apps:app``; the
environment picks the framework and the store:

* ``CG_FRAMEWORK``: starlette, fastapi, litestar, quart or django;
* ``CG_STORE``: the SQLite file of the privacy log.

Every site answers ``GET /`` with an HTML page that sets an essential cookie (``csrftoken``) and a
marketing one (``_fbp``) and says whether the request's consent allows analytics, read the way
that framework's users would read it. Django answers with capitalised header names, as it does.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from consentgate import SCOPE_KEY, Consent, ConsentMiddleware, Policy, PrivacyLog

if TYPE_CHECKING:
    from fastapi import Request as FastAPIRequest

SECRET = "matrix-secret-0123456789-abcdefghijklmnop"
POLICY = Policy.from_toml(
    """
revision = 1
[categories.essential]
cookies = ["csrftoken"]
[categories.analytics]
cookies = ["_ga"]
[categories.marketing]
cookies = ["_fbp"]
""",
    source="matrix.toml",
)


def page(framework: str, consent: Consent) -> str:
    allowed = "yes" if consent.allows("analytics") else "no"
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{framework}</title></head>"
        f"<body><h1>{framework}</h1><p id='analytics'>analytics allowed: {allowed}</p></body></html>"
    )


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    async def home(request: Request) -> HTMLResponse:
        response = HTMLResponse(page("starlette", request.state.consent))
        response.set_cookie("csrftoken", "t0k3n")
        response.set_cookie("_fbp", "fb.1.2")
        return response

    return Starlette(routes=[Route("/", home)])


def fastapi_get_consent(request: FastAPIRequest) -> Consent:
    """The FastAPI dependency handing a route the request's consent."""
    consent: Consent = request.state.consent
    return consent


def fastapi_app() -> Any:
    from typing import Annotated

    from fastapi import Depends, FastAPI, Request, Response
    from fastapi.responses import HTMLResponse

    # FastAPI reads the annotations (strings here) in this module's namespace.
    globals().update(Annotated=Annotated, Depends=Depends, FastAPIRequest=Request, Response=Response)
    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    def home(consent: Annotated[Consent, Depends(fastapi_get_consent)], response: Response) -> str:
        response.set_cookie("csrftoken", "t0k3n")
        response.set_cookie("_fbp", "fb.1.2")
        return page("fastapi", consent)

    return app


def litestar_app() -> Any:
    from litestar import Litestar, Request, Response, get
    from litestar.datastructures import Cookie

    # Litestar reads the handler's annotations (strings here) in this module's namespace.
    globals().update(Request=Request, Response=Response)

    @get("/", media_type="text/html")
    async def home(request: Request[Any, Any, Any]) -> Response[str]:
        consent: Consent = request.scope[SCOPE_KEY]  # type: ignore[literal-required]
        cookies = [Cookie(key="csrftoken", value="t0k3n"), Cookie(key="_fbp", value="fb.1.2")]
        return Response(page("litestar", consent), media_type="text/html", cookies=cookies)

    return Litestar(route_handlers=[home])


def quart_app() -> Any:
    from quart import Quart, request

    app = Quart(__name__)

    @app.get("/")
    async def home() -> Any:
        consent: Consent = request.scope[SCOPE_KEY]
        response = await app.make_response(page("quart", consent))
        response.set_cookie("csrftoken", "t0k3n")
        response.set_cookie("_fbp", "fb.1.2")
        return response

    return app


def django_app() -> Any:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="matrix-django-secret-0123456789-abcdefghijklmnop",
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        MIDDLEWARE=[],
        INSTALLED_APPS=["consentgate.django"],
        USE_TZ=True,
    )
    django.setup()
    from django.core.asgi import get_asgi_application

    return get_asgi_application()


def _django_urls() -> list[Any]:
    from django.http import HttpRequest, HttpResponse
    from django.urls import path

    from consentgate.django import get_consent

    def home(request: HttpRequest) -> HttpResponse:
        response = HttpResponse(page("django", get_consent(request)))
        response.set_cookie("csrftoken", "t0k3n")
        response.set_cookie("_fbp", "fb.1.2")
        return response

    return [path("", home)]


def __getattr__(name: str) -> Any:
    if name == "urlpatterns":  # Django's ROOT_URLCONF, looked up once settings are configured
        return _django_urls()
    raise AttributeError(name)


BUILDERS = {
    "starlette": starlette_app,
    "fastapi": fastapi_app,
    "litestar": litestar_app,
    "quart": quart_app,
    "django": django_app,
}


def build(framework: str, store: str) -> Any:
    """The framework's site behind ConsentMiddleware, with a privacy log in ``store``."""
    return ConsentMiddleware(
        BUILDERS[framework](), policy=POLICY, secret_key=SECRET, privacy_log=PrivacyLog(store, POLICY)
    )


if "CG_FRAMEWORK" in os.environ:
    app = build(os.environ["CG_FRAMEWORK"], os.environ["CG_STORE"])
