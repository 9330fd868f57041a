"""Flask (WSGI) behind consentgate: the Flask app is served through an ASGI adapter (a2wsgi) and the
middleware sits in front of it. Flask views read the consent from the ASGI scope a2wsgi passes along.

Run it:   uvicorn examples.flask_app:app
"""

from __future__ import annotations

from a2wsgi import WSGIMiddleware
from flask import Flask, make_response, request
from flask.typing import ResponseReturnValue

from consentgate import SCOPE_KEY, Consent, ConsentMiddleware

try:
    from ._common import POLICY, secret_key
except ImportError:
    from _common import POLICY, secret_key  # type: ignore[no-redef]

flask_app = Flask(__name__)


def current_consent() -> Consent:
    """The effective consent of the current Flask request."""
    consent: Consent = request.environ["asgi.scope"][SCOPE_KEY]
    return consent


@flask_app.get("/")
def home() -> ResponseReturnValue:
    consent = current_consent()
    response = make_response(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Flask + consentgate</title>"
        f"</head><body><main><h1>Hello from Flask</h1><p>Allowed: {', '.join(sorted(consent.granted))}</p>"
        "</main></body></html>"
    )
    response.set_cookie("session", "f-1", httponly=True)
    response.set_cookie("_fbp", "fb.1.2")  # marketing: only leaves with consent
    return response


app = ConsentMiddleware(WSGIMiddleware(flask_app), policy=POLICY, secret_key=secret_key())  # type: ignore[arg-type]
