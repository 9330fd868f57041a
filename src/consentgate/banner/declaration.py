"""The cookie declaration visitors read: ``GET <prefix>/cookies`` and a Jinja helper.

``GET /_consent/cookies`` answers the full declaration — every category with its cookies (who
sets them, what for, how long), its third-party hosts and services — as an HTML page in the
visitor's language, or as JSON with ``Accept: application/json`` (or ``?format=json``). Texts
come from the policy (per language where it gives translations) and, where it is silent, from the
cookie database in English, marked as such. The consent cookie itself is listed under essential.
Both forms are built once per language and kept.

A site's own privacy notice can show the same tables::

    templates.env.globals["consentgate_cookie_declaration"] = consentgate_cookie_declaration
    {{ consentgate_cookie_declaration(request) }}
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send

from consentgate.cookies.database import DATABASE_NAME
from consentgate.cookies.declaration import Declaration
from consentgate.enforce.consent_cookie import COOKIE_NAME, SECURE_COOKIE_NAME
from consentgate.enforce.policy import Policy
from consentgate.i18n.catalogs import Localizer

if TYPE_CHECKING:
    from consentgate.banner.banner import Banner

__all__ = ["CookieDeclarationPage", "consentgate_cookie_declaration", "declaration_rows"]

_HEADERS = {"cache-control": "no-cache", "vary": "Accept, Accept-Language, Cookie"}


def declaration_rows(
    policy: Policy, declaration: Declaration, localizer: Localizer, language: str
) -> list[dict[str, Any]]:
    """Per category: its label, description, hosts, services and cookie rows, in ``language``."""
    strings = localizer.catalog(language)
    days = strings["cookies.consent_duration"].format(
        consent=policy.consent_max_age_days, refusal=policy.refusal_max_age_days
    )
    out = []
    for declared in declaration:
        category = declared.category
        rows = [cookie.view(language) for cookie in declared.cookies]
        if category.required:
            rows.insert(
                0,
                {
                    "name": f"{COOKIE_NAME} / {SECURE_COOKIE_NAME}",
                    "provider": strings["cookies.this_site"],
                    "description": strings["cookies.consent_cookie"],
                    "duration": days,
                    "from_database": [],
                },
            )
        out.append(
            {
                "name": category.name,
                "label": localizer.label(category, language),
                "description": localizer.description(category, language),
                "required": category.required,
                "hosts": list(category.hosts),
                "services": list(category.services),
                "cookies": rows,
            }
        )
    return out


def _wants_json(scope: Scope) -> bool:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if "json" in query.get("format", []):
        return True
    accept = b""
    for key, value in scope["headers"]:
        if key.lower() == b"accept":
            accept = value.lower()
    return b"application/json" in accept and b"text/html" not in accept


class CookieDeclarationPage:
    """Serves ``<prefix>/cookies`` for one middleware (texts built once per language)."""

    def __init__(self, banner: Banner, *, prefix: str) -> None:
        self.banner = banner
        self.path = prefix + "/cookies"
        self._json: dict[str, bytes] = {}

    def data(self, language: str) -> dict[str, Any]:
        banner = self.banner
        return {
            "language": language,
            "policy_revision": banner.policy.revision,
            "categories": declaration_rows(banner.policy, banner.declaration, banner.localizer, language),
            "database": DATABASE_NAME,
            "database_license": "Apache-2.0",
        }

    def html(self, language: str) -> str:
        return self.banner.declaration_html(language, full_page=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response: Response
        if scope["method"] not in ("GET", "HEAD"):
            response = JSONResponse({"error": "use GET"}, status_code=405, headers={"allow": "GET, HEAD"})
        else:
            language = self.banner.localizer.language_for(scope)
            if _wants_json(scope):
                body = self._json.get(language)
                if body is None:
                    body = json.dumps(self.data(language), ensure_ascii=False, indent=2).encode()
                    self._json[language] = body
                response = Response(body, media_type="application/json", headers=_HEADERS)
            else:
                response = HTMLResponse(self.html(language), headers=_HEADERS)
        await response(scope, receive, send)


def consentgate_cookie_declaration(request: Request, language: str | None = None) -> Markup:
    """Jinja2 helper: the declaration's tables (no page around them) for a privacy-notice page,
    in the request's language (or ``language``). Needs ConsentMiddleware in front of the app."""
    from consentgate.banner.banner import BANNER_SCOPE_KEY, Banner

    banner = request.scope.get(BANNER_SCOPE_KEY)
    if not isinstance(banner, Banner):
        raise RuntimeError("consentgate_cookie_declaration() needs ConsentMiddleware in front of the app")
    chosen = banner.localizer.language_for(request.scope, language)
    return Markup(banner.declaration_html(chosen, full_page=False))  # noqa: S704 - autoescaped template
