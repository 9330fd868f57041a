"""FastAPI: a dependency hands a route the visitor's consent; a server-side analytics event is sent only
when analytics is allowed for this request (students and GPC included — the middleware already applied
the ceilings).

Run it:   uvicorn examples.fastapi_app:app
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse

from consentgate import Consent, ConsentMiddleware

try:
    from ._common import POLICY, secret_key
except ImportError:
    from _common import POLICY, secret_key  # type: ignore[no-redef]

log = logging.getLogger("examples.analytics")


def get_consent(request: Request) -> Consent:
    """The effective consent of this request (``request.state.consent``, set by the middleware)."""
    consent: Consent = request.state.consent
    return consent


ConsentDep = Annotated[Consent, Depends(get_consent)]


class AnalyticsClient:
    """Stands for a server-side analytics API (a measurement protocol endpoint). Events are kept in memory
    and logged here so the example runs offline; swap ``send`` for a real HTTP call."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, name: str, **fields: Any) -> None:
        event = {"name": name, "time": time.time(), **fields}
        self.sent.append(event)
        log.info("analytics event %s", event)


analytics = AnalyticsClient()


def get_analytics() -> AnalyticsClient:
    return analytics


app = FastAPI(title="FastAPI + consentgate")
app.add_middleware(ConsentMiddleware, policy=POLICY, secret_key=secret_key())


@app.get("/", response_class=HTMLResponse)
def home(consent: ConsentDep) -> str:
    allowed = ", ".join(sorted(consent.granted))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>FastAPI + consentgate</title>"
        f"</head><body><main><h1>Hello</h1><p>Allowed: {allowed}</p></main></body></html>"
    )


@app.post("/quiz/{quiz_id}/submit")
def submit_quiz(
    quiz_id: int, consent: ConsentDep, client: Annotated[AnalyticsClient, Depends(get_analytics)]
) -> dict[str, Any]:
    """Grades the quiz either way; measures it only when the visitor allowed analytics."""
    measured = consent.allows("analytics")
    if measured:
        # The consent id is the only identifier: no IP, no user agent, no name.
        client.send("quiz_submitted", quiz=quiz_id, consent_id=consent.consent_id)
    return {"quiz": quiz_id, "graded": True, "measured": measured}


def routes() -> list[Callable[..., Any]]:
    """The route handlers (for documentation tools)."""
    return [home, submit_quiz]
