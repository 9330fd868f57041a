"""Three pages: the home page reads the consent in the view, the cookie lab sets analytics and
marketing cookies from the server, and a form leaves a message (stored in a cookie)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from consentgate.django import get_consent


def home(request: HttpRequest) -> HttpResponse:
    consent = get_consent(request)
    return render(request, "school/home.html", {"analytics": consent.allows("analytics")})


def lab(request: HttpRequest) -> HttpResponse:
    response = render(request, "school/lab.html")
    # Set as usual: consentgate drops them until the visitor allows their category.
    response.set_cookie("_ga", "GA1.1.1234.5678", httponly=True)  # analytics
    response.set_cookie("_fbp", "fb.1.1234.5678")  # marketing
    return response


@require_POST
def note(request: HttpRequest) -> HttpResponse:
    messages.success(request, "Your note was saved.")
    return redirect("lab")
