"""A tiny Django site for the in-process tests: a view reading the consent, a page placing the
banner and the CSP nonce with the template tags, and a page using the context processor."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import engines
from django.urls import path

from consentgate.django import get_consent

PLACED = """{% load consentgate %}<!doctype html><html><body><main>placed</main>
<script nonce="{% consentgate_csp_nonce %}">window.page = 1</script>
{% consentgate_banner %}</body></html>"""
PROCESSOR = """<!doctype html><html><body>
{% if "analytics" in consent.granted %}<p>analytics on</p>{% else %}<p>analytics off</p>{% endif %}
</body></html>"""


def consent_view(request: HttpRequest) -> JsonResponse:
    consent = get_consent(request)
    return JsonResponse({"granted": sorted(consent.granted), "needs_choice": consent.needs_choice,
                         "consent_id": consent.consent_id})  # fmt: skip


def _render(source: str, request: HttpRequest) -> HttpResponse:
    template = engines["django"].from_string(source)
    return HttpResponse(template.render({}, request))


def placed(request: HttpRequest) -> HttpResponse:
    return _render(PLACED, request)


def processor(request: HttpRequest) -> HttpResponse:
    return _render(PROCESSOR, request)


def plain(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("<!doctype html><html><body><main>" + "lesson " * 200 + "</main></body></html>")
    response.set_cookie("_fbp", "fb.1")
    return response


urlpatterns = [
    path("consent", consent_view),
    path("placed", placed),
    path("processor", processor),
    path("plain", plain),
]
