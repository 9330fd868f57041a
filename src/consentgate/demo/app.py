"""The demo school site behind ``consentgate demo``.

A small Starlette app with everything consentgate does in view: the banner and the preferences
control on every page, a demo sign-in as teacher or student (the student ceiling), a "cookie lab"
whose responses set cookies of every category from the server and which carries gated stand-in
tags, a lesson video behind a click-to-load placeholder, "My data" / "Forget me" from the privacy
log, the privacy-team dashboard at ``/dashboard/`` and a language switcher. Nothing is fetched
from elsewhere: the tags are local files that only write cookies, the video a local stand-in page.

The session middleware sits *inside* ``ConsentMiddleware`` so that its ``Set-Cookie`` passes the
policy like any other (``session`` is essential in the demo policy). The middleware therefore
cannot see the decoded session yet, so the demo gives it resolvers that read the signed session
cookie themselves (:class:`SessionRoles`).
"""

from __future__ import annotations

import json
import secrets
from base64 import b64decode
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import itsdangerous
import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from consentgate._files import package_dir
from consentgate.banner.banner import PLACED_STATE_KEY
from consentgate.dashboard.app import Dashboard
from consentgate.demo.texts import texts_for
from consentgate.enforce.consent import Consent
from consentgate.enforce.policy import Policy
from consentgate.enforce.students import has_student_role
from consentgate.i18n.catalogs import LANGUAGE_COOKIE, LANGUAGE_PARAM, LANGUAGES, Localizer, catalog
from consentgate.log.privacy_log import PrivacyLog
from consentgate.log.stores.base import Store
from consentgate.log.stores.factory import open_store
from consentgate.middleware import ConsentMiddleware

__all__ = ["POLICY_PATH", "DemoSettings", "SessionRoles", "create_demo_app"]

POLICY_PATH = Path(__file__).with_name("demo_policy.toml")
SESSION_COOKIE = "session"
SESSION_MAX_AGE = 8 * 60 * 60  # a school day
TENANT = "lincoln-high"
ROLES = ("teacher", "student")
_SCOPE_CACHE = "consentgate_demo.session"


class SessionRoles:
    """Reads the role and school from Starlette's signed session cookie, for the consent resolvers.

    It verifies the cookie exactly as ``SessionMiddleware`` does (same key, same maximum age), so a
    forged or expired session is no session. The decoded value is kept in the scope for the
    second resolver of the same request.
    """

    def __init__(
        self, secret_key: str, cookie_name: str = SESSION_COOKIE, max_age: int = SESSION_MAX_AGE
    ) -> None:
        self._signer = itsdangerous.TimestampSigner(secret_key)
        self._needle = cookie_name.encode()
        self._max_age = max_age

    def session(self, scope: Scope) -> Mapping[str, Any]:
        cached = scope.get(_SCOPE_CACHE)
        if cached is not None:
            return dict(cached)
        data: dict[str, Any] = {}
        for key, value in scope["headers"]:
            if key.lower() != b"cookie":
                continue
            for piece in value.split(b";"):
                name, eq, raw = piece.partition(b"=")
                if not eq or name.strip(b" \t") != self._needle:
                    continue
                try:
                    decoded = json.loads(
                        b64decode(self._signer.unsign(raw.strip(b" \t"), max_age=self._max_age))
                    )
                except (itsdangerous.BadSignature, ValueError):
                    continue
                if isinstance(decoded, dict):
                    data = decoded
        scope[_SCOPE_CACHE] = data
        return data

    def is_student(self, scope: Scope) -> bool:
        return has_student_role(self.session(scope).get("role", ""))

    def tenant(self, scope: Scope) -> str | None:
        value = self.session(scope).get("tenant")
        return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class _Course:
    title: str
    summary: str
    teacher: str
    lessons: int


_COURSES = (
    _Course("Algebra I", "Equations, inequalities and graphs of straight lines.", "Ms. Rivera", 24),
    _Course("Biology", "Cells, genetics and ecosystems, with weekly lab notes.", "Mr. Okafor", 30),
    _Course("World History", "From the first cities to the modern world, one era a month.", "Dr. Chen", 28),
    _Course("Creative Writing", "Short stories and poems, with peer feedback.", "Mx. Laurent", 16),
)

_QUESTIONS = (
    {
        "text": "What turns liquid water into vapour?",
        "options": ["Condensation", "Evaporation", "Freezing"],
        "answer": 1,
    },
    {
        "text": "Clouds are made of…",
        "options": ["tiny water droplets or ice", "smoke", "pure air"],
        "answer": 0,
    },
    {
        "text": "Rain, snow and hail are all forms of…",
        "options": ["runoff", "transpiration", "precipitation"],
        "answer": 2,
    },
)

# What the cookie lab tries to set on every response: (name, value, category, HttpOnly).
_LAB_COOKIES = (
    ("csrftoken", "demo-csrf", "essential", False),
    ("theme", "dark", "personalization", False),
    ("last_class", "biology", "personalization", False),
    ("_ga", "GA1.1.000000001.1700000000", "analytics", True),
    ("_fbp", "fb.1.1700000000000.000000001", "marketing", False),
    ("ad_demo", "campaign-42", "marketing", False),
)


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """What ``create_demo_app`` was given (the CLI prints the dashboard URL from it)."""

    store: Store
    dashboard_token: str
    policy: Policy


class _Site:
    """The page handlers. Built once: templates, policy, localizer."""

    def __init__(self, policy: Policy, prefix: str) -> None:
        self.policy = policy
        self.prefix = prefix
        self.localizer = Localizer(policy)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(package_dir("templates") / "demo"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.languages = tuple((code, catalog(code)["language.name"]) for code in LANGUAGES)

    def render(
        self, request: Request, template: str, page: str, status: int = 200, **extra: Any
    ) -> HTMLResponse:
        language = self.localizer.language_for(request.scope)
        texts = catalog(language)
        consent: Consent = request.state.consent
        role = request.session.get("role")
        context = {
            "lang": language,
            "dir": texts.direction,
            "t": texts_for(language),
            "privacy_preferences": texts["button.open"],
            "languages": self.languages,
            "page": page,
            "role": role if role in ROLES else None,
            "my_data_url": f"{self.prefix}/my-data",
            "granted": [c for c in self.policy.category_names if c in consent.granted],
            "locked": sorted(consent.locked.items()),
            "needs_choice": consent.needs_choice,
            "gpc": consent.gpc,
            **extra,
        }
        response = HTMLResponse(self.env.get_template(template).render(context), status_code=status)
        chosen = request.query_params.get(LANGUAGE_PARAM)
        if chosen in LANGUAGES and request.cookies.get(LANGUAGE_COOKIE) != chosen:
            # The visitor asked for this language: remember it (an essential UI preference).
            response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="lax")
        return response

    async def home(self, request: Request) -> Response:
        return self.render(request, "home.html", "home")

    async def courses(self, request: Request) -> Response:
        return self.render(request, "courses.html", "courses", courses=_COURSES)

    async def quiz(self, request: Request) -> Response:
        answers: dict[str, str] = {}
        result = None
        if request.method == "POST":
            form = await request.form()
            answers = {k: v for k, v in form.items() if isinstance(v, str)}
            result = sum(1 for i, q in enumerate(_QUESTIONS) if answers.get(f"q{i}") == str(q["answer"]))
        return self.render(request, "quiz.html", "quiz", questions=_QUESTIONS, answers=answers, result=result)

    async def sign_in(self, request: Request) -> Response:
        if request.method == "POST":
            form = await request.form()
            role = form.get("role")
            if role not in ROLES:
                return self.render(request, "sign_in.html", "sign-in", status=400)
            request.session.clear()
            request.session.update({"role": role, "tenant": TENANT})
            return RedirectResponse("/", status_code=303)
        return self.render(request, "sign_in.html", "sign-in")

    async def sign_out(self, request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/", status_code=303)

    async def cookie_lab(self, request: Request) -> Response:
        granted = request.state.consent.granted
        attempted = [
            {
                "name": name,
                "category": category,
                "httponly": httponly,
                "source": "server (Set-Cookie)",
                "allowed": category in granted,
            }
            for name, _, category, httponly in _LAB_COOKIES
        ]
        attempted += [
            {
                "name": "_ga, _ga_DEMO",
                "category": "analytics",
                "httponly": False,
                "source": "script analytics-tag.js",
                "allowed": "analytics" in granted,
            },
            {
                "name": "_fbp",
                "category": "marketing",
                "httponly": False,
                "source": "script marketing-tag.js",
                "allowed": "marketing" in granted,
            },
        ]
        response = self.render(
            request, "cookies.html", "cookies", attempted=attempted, received=sorted(request.cookies)
        )
        for name, value, _, httponly in _LAB_COOKIES:
            # Set unconditionally: deciding what may leave the server is the middleware's job.
            response.set_cookie(name, value, max_age=30 * 24 * 3600, httponly=httponly, samesite="lax")
        return response

    async def lesson_video(self, request: Request) -> Response:
        """The stand-in for a video service's player, framed on the courses page behind a
        click-to-load placeholder. A player page carries no banner of its own."""
        request.scope.setdefault("state", {})[PLACED_STATE_KEY] = True
        return HTMLResponse(self.env.get_template("lesson_video.html").render())

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return HTMLResponse("<!doctype html><title>Not found</title><p>Not found.</p>", status_code=404)


def create_demo_app(
    store: str | Store = "consentgate-demo.sqlite3",
    *,
    dashboard_token: str | None = None,
    secret_key: str | None = None,
    session_key: str | None = None,
    policy: Policy | None = None,
) -> Starlette:
    """Build the demo site. ``store`` is the privacy log (a SQLite path or a ``postgresql://`` URL).

    Keys and the dashboard token are random per start unless given (a restart then asks visitors
    again, which is what a demo wants). ``app.state.demo`` holds the :class:`DemoSettings`.
    """
    policy = policy or Policy.from_file(POLICY_PATH)
    log_store = open_store(store)
    token = dashboard_token or secrets.token_urlsafe(32)
    session_secret = session_key or secrets.token_urlsafe(32)
    roles = SessionRoles(session_secret)
    prefix = "/_consent"
    site = _Site(policy, prefix)
    static = StaticFiles(directory=package_dir("static") / "demo")
    routes = [
        Route("/", site.home),
        Route("/courses", site.courses),
        Route("/quiz", site.quiz, methods=["GET", "POST"]),
        Route("/sign-in", site.sign_in, methods=["GET", "POST"]),
        Route("/sign-out", site.sign_out, methods=["POST"]),
        Route("/cookies", site.cookie_lab),
        Route("/embed/lesson-video", site.lesson_video),
        Mount("/dashboard", app=Dashboard(log_store, policy, token=token)),
        Mount("/static/demo", app=static),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                ConsentMiddleware,
                policy=policy,
                secret_key=secret_key or secrets.token_urlsafe(32),
                student_resolver=roles.is_student,
                tenant_resolver=roles.tenant,
                prefix=prefix,
                privacy_log=PrivacyLog(log_store, policy),
            ),
            Middleware(
                SessionMiddleware,
                secret_key=session_secret,
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_MAX_AGE,
                same_site="lax",
            ),
        ],
        exception_handlers={404: site.not_found},
    )
    app.state.demo = DemoSettings(store=log_store, dashboard_token=token, policy=policy)
    return app
