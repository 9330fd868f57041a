"""Django in the test process, configured once for tests/django (the example site runs in its own
server process). Views and templates live in djsite_urls.py."""

from __future__ import annotations

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="tests-django-secret-0123456789-abcdefghijklmnop",
        ROOT_URLCONF="djsite_urls",
        ALLOWED_HOSTS=["testserver", "127.0.0.1"],
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "consentgate.django"],
        MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "consentgate.django.context_processors.consent",
                    ],
                    "loaders": [("django.template.loaders.locmem.Loader", {})],
                },
            }
        ],
        DATABASES={},
        USE_TZ=True,
    )
    django.setup()
