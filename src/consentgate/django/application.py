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
from starlette.types import ASGIApp

from consentgate.enforce.hooks import PrivacyLogHooks
from consentgate.enforce.policy import Policy
from consentgate.log.privacy_log import PrivacyLog
from consentgate.middleware import ConsentMiddleware

__all__ = ["DJANGO_GZIP", "asgi"]

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
    app: ASGIApp = ConsentMiddleware(
        application, policy=policy, secret_key=secret_key, privacy_log=privacy_log, **options
    )
    if gzip:
        app = GZipMiddleware(app, minimum_size=500 if gzip is True else int(gzip))
    return app


def _warn_about_django_gzip() -> None:
    from django.conf import settings

    if settings.configured and _DJANGO_GZIP in getattr(settings, "MIDDLEWARE", ()):
        logger.warning(DJANGO_GZIP)
