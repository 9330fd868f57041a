"""The Django app that carries the ``{% load consentgate %}`` template library."""

from __future__ import annotations

from django.apps import AppConfig


class ConsentgateConfig(AppConfig):  # type: ignore[misc]  # Django ships no type hints
    name = "consentgate.django"
    label = "consentgate"
    verbose_name = "consentgate"
