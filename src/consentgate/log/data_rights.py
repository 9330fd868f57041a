"""The visitor's own view of the privacy log: ``<prefix>/my-data`` and ``<prefix>/forget``.

``GET <prefix>/my-data`` shows every receipt and visit record stored under the visitor's consent
id (R-VIS-1): an HTML page in the visitor's language (``Accept-Language``, or ``?lang=``), or
JSON with ``?format=json`` / ``Accept: application/json``. The page needs no JavaScript and no
inline script; its "Forget me" button is a plain form POST.

``POST <prefix>/forget`` deletes all of it and clears the consent cookie and every optional cookie
the request carried (R-VIS-2). It is refused for cross-site requests, like ``POST /_consent``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jinja2
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send

from consentgate._files import package_dir
from consentgate.enforce.consent import Consent
from consentgate.enforce.endpoints import RequestError, check_same_origin, header
from consentgate.enforce.policy import Policy
from consentgate.i18n.catalogs import Localizer
from consentgate.log.stores.base import Store, StoreError
from consentgate.log.stores.results import Deleted

__all__ = ["DataRights", "templates_dir"]

_NO_STORE = {"cache-control": "no-store"}
_SECTION = "my_data."


def templates_dir() -> Path:
    """``consentgate/templates`` in an installed wheel; the repository's ``templates/`` otherwise."""
    return package_dir("templates")


def _asked_language(scope: Scope) -> str | None:
    """``?lang=xx``: the page's own language switch (the form posts it on to /forget)."""
    query: dict[str, list[str]] = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
    wanted = query.get("lang")
    return wanted[0] if wanted else None


def _wants_json(scope: Scope) -> bool:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if "json" in query.get("format", []):
        return True
    accept = (header(scope, b"accept") or b"").lower()
    return b"application/json" in accept and b"text/html" not in accept


class DataRights:
    """Serves the visitor's data-rights routes for one privacy log."""

    def __init__(
        self,
        policy: Policy,
        store: Store,
        forget: Callable[[str], Awaitable[Deleted]],
        localizer: Localizer | None = None,
    ) -> None:
        self.policy = policy
        self.store = store
        self._forget = forget
        #: the words, in the visitor's language: the same catalogs (and site packs) as the banner
        self.localizer = localizer or Localizer(policy)
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates_dir())),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.template = env.get_template("my_data.html")

    async def handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        consent: Consent,
        clear_headers: list[tuple[bytes, bytes]],
        https: bool | None = None,
    ) -> bool:
        prefix, _, name = scope["path"].rpartition("/")
        if name not in ("my-data", "forget"):
            return False
        try:
            if name == "my-data":
                response = await self._my_data(scope, consent, prefix)
            else:
                response = await self._forget_me(scope, consent, prefix, clear_headers, https)
        except RequestError as exc:
            response = self._error(scope, exc.status, exc.message)
        await response(scope, receive, send)
        return True

    def _error(self, scope: Scope, status: int, message: str) -> Response:
        response = JSONResponse({"error": message}, status_code=status, headers=_NO_STORE)
        if status == 405:
            allow = "POST" if scope["path"].endswith("/forget") else "GET, HEAD"
            response.headers["allow"] = allow
        return response

    async def _records(self, consent_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        def load() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            receipts = [r.as_dict() for r in self.store.receipts(consent_id=consent_id)]
            return receipts, self.store.visits(consent_id=consent_id)

        try:
            return await asyncio.to_thread(load)
        except StoreError:
            raise RequestError(503, "your records cannot be reached right now; try again later") from None

    async def _my_data(self, scope: Scope, consent: Consent, prefix: str) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            raise RequestError(405, "use GET")
        consent_id = consent.consent_id
        receipts: list[dict[str, Any]] = []
        visits: list[dict[str, Any]] = []
        if consent_id is not None:
            receipts, visits = await self._records(consent_id)
        if _wants_json(scope):
            body = {
                "consent_id": consent_id,
                "consent": consent.as_dict(self.policy),
                "receipts": receipts,
                "visits": visits,
            }
            return JSONResponse(body, headers=_NO_STORE)
        return self._page(scope, consent, prefix, receipts, visits, None)

    async def _forget_me(
        self,
        scope: Scope,
        consent: Consent,
        prefix: str,
        clear_headers: list[tuple[bytes, bytes]],
        https: bool | None,
    ) -> Response:
        if scope["method"] != "POST":
            raise RequestError(405, "use POST")
        check_same_origin(scope, https)
        deleted = Deleted()
        if consent.consent_id is not None:
            try:
                deleted = await self._forget(consent.consent_id)
            except StoreError:
                raise RequestError(503, "your records cannot be deleted right now; try again later") from None
        if _wants_json(scope):
            response: Response = JSONResponse(
                {"forgotten": True, "receipts": deleted.receipts, "visits": deleted.visits}, headers=_NO_STORE
            )
        else:
            response = self._page(scope, None, prefix, [], [], deleted)
        response.raw_headers.extend(clear_headers)
        return response

    def _page(
        self,
        scope: Scope,
        consent: Consent | None,
        prefix: str,
        receipts: list[dict[str, Any]],
        visits: list[dict[str, Any]],
        deleted: Deleted | None,
    ) -> Response:
        localizer = self.localizer
        language = localizer.language_for(scope, _asked_language(scope))
        strings = localizer.catalog(language)
        text = strings.section(_SECTION)

        def label(name: str) -> str:
            if self.policy.has_category(name):
                return localizer.label(self.policy.category(name), language)
            return name

        choice = None
        if consent is not None and consent.consent_id is not None:
            choice = {
                "allowed": [label(c) for c in self.policy.category_names if c in consent.granted],
                "refused": [label(c) for c in self.policy.category_names if c not in consent.granted],
            }
        html = self.template.render(
            lang=language,
            dir=strings.direction,
            t=text,
            prefix=prefix,
            consent_id=None if consent is None else consent.consent_id,
            choice=choice,
            receipts=[
                {
                    **r,
                    "granted_labels": [label(c) for c in r["granted"]],
                    "refused_labels": [label(c) for c in r["refused"]],
                }
                for r in receipts
            ],
            visits=visits,
            forgotten=None
            if deleted is None
            else text["forgotten"].format(receipts=deleted.receipts, visits=deleted.visits),
        )
        return HTMLResponse(html, headers=_NO_STORE)
