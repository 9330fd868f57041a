"""``asgi.py`` in one line: Django behind ConsentMiddleware (and, if asked, GZip outside it).

::

    # mysite/asgi.py
    import os
    from consentgate.django import asgi

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    application = asgi(policy="consent.toml", secret_key=os.environ["CONSENTGATE_SECRET"],
                       privacy_log="consentgate.sqlite3", gzip=True)

Django's own ``GZipMiddleware`` runs inside the wrapped app, so pages reach the middleware
compressed and cannot take the banner: ``gzip=True`` compresses outside instead (Starlette's
``GZipMiddleware``), and a warning says so when Django's is still in ``MIDDLEWARE``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consentgate.enforce.hooks import PrivacyLogHooks
from consentgate.enforce.policy import Policy
from consentgate.log.privacy_log import PrivacyLog
from consentgate.middleware import ConsentMiddleware

__all__ = ["DJANGO_GZIP", "LowercaseHeaders", "asgi"]

logger = logging.getLogger("consentgate")

DJANGO_GZIP = (
    "consentgate: django.middleware.gzip.GZipMiddleware is in MIDDLEWARE: it compresses pages before "
    "ConsentMiddleware sees them, so they get no banner; remove it and pass gzip=True to "
    "consentgate.django.asgi() (compression outside the consent middleware)"
)
_DJANGO_GZIP = "django.middleware.gzip.GZipMiddleware"


def asgi(
    application: ASGIApp | None = None,
    *,
    policy: Policy | str | Path,
    secret_key: Any,
    privacy_log: PrivacyLogHooks | str | None = None,
    gzip: bool | int = False,
    **options: Any,
) -> ASGIApp:
    """Django's ASGI application behind :class:`~consentgate.ConsentMiddleware`.

    Args:
        application: the Django app (default: ``django.core.asgi.get_asgi_application()``).
        policy: a :class:`~consentgate.Policy` or the path of its TOML file.
        secret_key: as for the middleware (32+ random characters; a list rotates keys).
        privacy_log: a :class:`~consentgate.PrivacyLog`, or a store (SQLite path or
            ``postgresql://`` URL) to make one with the policy.
        gzip: compress responses outside the middleware (Starlette's ``GZipMiddleware``);
            an int sets its ``minimum_size``.
        options: any other ``ConsentMiddleware`` option (``https=``, ``csp=``, ``student_resolver=``…).
    """
    if application is None:
        from django.core.asgi import get_asgi_application

        application = get_asgi_application()
    if not isinstance(policy, Policy):
        policy = Policy.from_file(policy)
    if isinstance(privacy_log, str):
        privacy_log = PrivacyLog(privacy_log, policy)
    _warn_about_django_gzip()
    django_app = LowercaseHeaders(application)
    app: ASGIApp = ConsentMiddleware(
        django_app, policy=policy, secret_key=secret_key, privacy_log=privacy_log, **options
    )
    if gzip:
        app = GZipMiddleware(app, minimum_size=500 if gzip is True else int(gzip))
    return app


def _warn_about_django_gzip() -> None:
    from django.conf import settings

    if settings.configured and _DJANGO_GZIP in getattr(settings, "MIDDLEWARE", ()):
        logger.warning(DJANGO_GZIP)


class LowercaseHeaders:
    """Django's responses with lowercase header names, as the ASGI spec asks.

    Django sends ``Content-Type``, ``Content-Length``. consentgate reads either spelling, but
    Starlette's middleware edits headers by their lowercase names: its GZip outside would add a
    second ``content-length`` beside Django's ``Content-Length`` (browsers refuse such a response).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def lowercase_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [(key.lower(), value) for key, value in message.get("headers", ())]
            await send(message)

        await self.app(scope, receive, lowercase_send)
