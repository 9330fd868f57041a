"""ASGI entry point: Django behind consentgate. Run it with uvicorn (or daphne), not runserver:

    cd examples/django_site && uvicorn school.asgi:application
"""

from __future__ import annotations

import os

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

from consentgate.django import asgi

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "school.settings")
django_app = get_asgi_application()
if os.environ.get("SCHOOL_SERVE_STATIC", "1") == "1":
    # Serves the admin's CSS straight from the apps (no collectstatic) for this example; in
    # production, collectstatic and let the proxy or a CDN serve STATIC_ROOT.
    django_app = ASGIStaticFilesHandler(django_app)

application = asgi(
    django_app,
    policy=os.path.join(os.path.dirname(os.path.dirname(__file__)), "consent.toml"),
    secret_key=os.environ.get("CONSENTGATE_SECRET"),
    development="CONSENTGATE_SECRET" not in os.environ,  # a random key per start, for trying it out
    privacy_log=os.environ.get("SCHOOL_CONSENT_LOG", "consentgate.sqlite3"),
    gzip=True,  # compression outside consentgate, so pages still get the banner
)
