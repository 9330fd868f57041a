"""The consent banner's HTML: rendered once per language and situation, then reused.

The banner is server-rendered from ``templates/banner.html`` with the strings of one language
only, plus a small JSON block (data, never executed) that the script ``static/consentgate.js``
reads. The result depends on the language and the effective consent (granted categories,
whether a choice is needed, the student and GPC locks), never on the visitor's identity, so it
is cached per combination. Pages get it injected before ``</body>`` by the middleware, or place
it by hand in a Jinja2 template::

    templates.env.globals["consentgate_banner"] = consentgate_banner
    ...
    {{ consentgate_banner(request) }}

A page that asks for a choice carries the first layer and the banner's *part*
(``templates/banner_part.html``: the preferences dialog, the click-to-load placeholder's template
and the policy's data the script needs to clear withdrawn cookies and storage). A page for a
visitor whose choice is current, most page views, carries only the reopen control, the status
region and the visitor's state; the script fetches the part from ``GET <prefix>/dialog`` when it
is first needed (:mod:`consentgate.banner.dialog`). The part depends on the language only, so it
is one cacheable document per language.

The notice hash recorded with every decision (R-CON-9) is the SHA-256 of the exact notice text
shown in the visitor's language: the first layer, the dialog and every category's texts.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.types import ASGIApp, Scope

from consentgate._files import package_dir
from consentgate.banner.assets import AssetStore
from consentgate.banner.csp import NONCE_STATE_KEY
from consentgate.banner.declaration import CookieDeclarationPage, declaration_rows
from consentgate.banner.dialog import DialogPage
from consentgate.cookies.database import DATABASE_NAME
from consentgate.cookies.declaration import Declaration
from consentgate.enforce.consent import Consent
from consentgate.enforce.policy import Policy
from consentgate.i18n.catalogs import Localizer

__all__ = ["BANNER_SCOPE_KEY", "PLACED_STATE_KEY", "Banner", "Part", "consentgate_banner"]

BANNER_SCOPE_KEY = "consentgate.banner"
PLACED_STATE_KEY = "consentgate_banner_placed"
_CACHE_LIMIT = 512
_JS = "consentgate.js"
_CSS = "consentgate.css"
_EMBEDS_JS = "consentgate-embeds.js"
_DASH = "\u2013"  # what the dialog shows for a detail nobody gave

#: Which catalog strings make up the notice a visitor reads (hashed as proof of what was shown).
_NOTICE_KEYS = ("banner.title", "banner.text", "dialog.title", "dialog.intro")


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(package_dir("templates"))),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def _key(consent: Consent, language: str) -> tuple[Any, ...]:
    return (
        language,
        consent.granted,
        consent.needs_choice,
        consent.is_student,
        consent.gpc,
        tuple(consent.locked.items()),
    )


def _js_regex(glob: str) -> str:
    """A ``*`` glob as the source of an anchored JavaScript regular expression (no flags)."""
    parts = (re.sub(r"[.+?^${}()|\[\]\\/]", r"\\\g<0>", part) for part in glob.split("*"))
    return "^" + ".*".join(parts) + "$"


def _script_json(data: Any) -> Markup:
    """JSON for a ``<script type="application/json">``: ASCII only (right in any page charset: a
    script's text takes no character references) and unable to close its element ("<" escaped)."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":")).replace("<", "\\u003c")
    return Markup(text)  # noqa: S704 - JSON, "<" escaped


class Part:
    """The banner's part in one language: its HTML, and as served (UTF-8, gzipped, a digest)."""

    __slots__ = ("body", "digest", "gzipped", "html")

    def __init__(self, html: str) -> None:
        self.html = html
        self.body = html.encode("utf-8")
        self.gzipped = gzip.compress(self.body, 9, mtime=0)
        self.digest = hashlib.sha256(self.body).hexdigest()[:16]


class Banner:
    """Renders the banner for one middleware; every result is cached (bounded)."""

    def __init__(
        self, policy: Policy, localizer: Localizer, assets: AssetStore, *, prefix: str, csp: str = "off"
    ) -> None:
        self.policy = policy
        # Under an enforced consent-aware CSP a page cannot frame a host its categories did not
        # allow when it loaded: an embed allowed on the page needs the next page (a reload).
        self._csp_enforced = csp == "enforce"
        self.localizer = localizer
        self.prefix = prefix
        self.js_url = assets.url(_JS)
        self.css_url = assets.url(_CSS)
        self.template = _environment().get_template("banner.html")
        # The cookie declaration (policy texts, the cookie database where the policy is silent):
        # read once here, at start-up, not on the first page.
        self.declaration = Declaration(policy)
        #: pages the consent endpoints serve for the banner: GET <prefix>/cookies, <prefix>/dialog
        self.declaration_page = CookieDeclarationPage(self, prefix=prefix)
        self.part_path = prefix + "/dialog"
        self.pages: dict[str, ASGIApp] = {
            self.declaration_page.path: self.declaration_page,
            self.part_path: DialogPage(self),
        }
        self._declared: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self._declaration_html: dict[tuple[str, bool], str] = {}
        self._optional = policy.optional_categories
        # Per optional category, its cookie rules as the script deletes them: [path, domain, the
        # pattern as a JavaScript regular expression].
        self._cookies = {
            c.name: [[r.path, r.domain, _js_regex(r.pattern)] for r in c.cookies]
            for c in policy.categories
            if not c.required
        }
        self.embeds_url = assets.url(_EMBEDS_JS)
        # Per category, what its placeholders name: its hosts and cookie patterns.
        self._embed_facts = {
            c.name: [list(c.hosts), [r.pattern for r in c.cookies]] for c in policy.categories
        }
        self._services = {s.name: [list(s.hosts), list(s.cookies)] for s in policy.embeds.services.values()}
        # Web storage keys / IndexedDB names per optional category: cleared on withdrawal.
        self._storage = {
            c.name: [_js_regex(pattern) for pattern in c.storage]
            for c in policy.categories
            if c.storage and not c.required
        }
        self._gpc_denies = sorted(policy.gpc_denies)
        self._html: dict[tuple[Any, ...], str] = {}
        self._parts: dict[str, Part] = {}
        self._bytes: dict[tuple[tuple[Any, ...], str | None], bytes] = {}
        self._notice: dict[str, tuple[str, str]] = {}
        #: ``scope -> bool``: requests from crawlers get no banner (set by the middleware)
        self.crawlers: Callable[[Scope], bool] | None = None

    def skips(self, scope: Scope) -> bool:
        """Whether this request gets no banner at all (a crawler's)."""
        return self.crawlers is not None and self.crawlers(scope)

    # -- proof of what was shown -----------------------------------------------------------

    def notice_text(self, language: str) -> str:
        """The exact notice text shown in ``language`` (one line per piece of text)."""
        return self._notice_entry(language)[0]

    def notice_hash(self, language: str | None) -> str:
        """SHA-256 (hex) of :meth:`notice_text`; an unknown language hashes the default's notice."""
        if language is None or language not in self.localizer.catalogs:
            language = self.localizer.default
        return self._notice_entry(language)[1]

    def _notice_entry(self, language: str) -> tuple[str, str]:
        entry = self._notice.get(language)
        if entry is None:
            strings = self.localizer.catalog(language)
            lines = [strings[key] for key in _NOTICE_KEYS]
            for row in self._rows(language):
                lines.append(row["label"])
                lines.append(row["description"])
                if row["services"]:
                    lines.append(f"{strings['category.services']}: {row['services']}")
                if row["hosts"]:
                    lines.append(f"{strings['category.hosts']}: {row['hosts']}")
                for cookie in row["cookies"]:  # the declaration the dialog shows, as it shows it
                    lines.append(cookie["name"])
                    if cookie["description"]:
                        lines.append(cookie["description"])
                    lines.append(f"{strings['cookies.duration']}: {cookie['duration'] or _DASH}")
                    lines.append(f"{strings['cookies.provider']}: {cookie['provider'] or _DASH}")
            text = "\n".join(lines)
            entry = (text, hashlib.sha256(text.encode("utf-8")).hexdigest())
            self._notice[language] = entry
        return entry

    # -- rendering -------------------------------------------------------------------------

    def declared(self, language: str) -> dict[str, list[dict[str, Any]]]:
        """Per category name, its cookie rows in ``language`` (the consent cookie under essential)."""
        found = self._declared.get(language)
        if found is None:
            rows = declaration_rows(self.policy, self.declaration, self.localizer, language)
            found = {row["name"]: row["cookies"] for row in rows}
            self._declared[language] = found
        return found

    def declaration_html(self, language: str, *, full_page: bool) -> str:
        """The declaration in ``language``: a whole page, or its tables for a site's own page
        (rendered once per language and form, then kept)."""
        key = (language, full_page)
        html = self._declaration_html.get(key)
        if html is None:
            strings = self.localizer.catalog(language)
            html = _environment().get_template("cookie_declaration.html").render(
                t=strings,
                lang=language,
                dir=strings.direction,
                full_page=full_page,
                categories=declaration_rows(self.policy, self.declaration, self.localizer, language),
                database=DATABASE_NAME,
            )
            self._declaration_html[key] = html
        return html

    def _rows(self, language: str) -> list[dict[str, Any]]:
        localizer = self.localizer
        declared = self.declared(language)
        return [
            {
                "name": category.name,
                "required": category.required,
                "label": localizer.label(category, language),
                "description": localizer.description(category, language),
                "services": ", ".join(category.services),
                "hosts": ", ".join(category.hosts),
                "cookies": declared.get(category.name, []),
            }
            for category in self.policy.categories
        ]

    def part(self, language: str) -> Part:
        """The banner's part in ``language`` (dialog, placeholder template, policy data), kept."""
        part = self._parts.get(language)
        if part is None:
            strings = self.localizer.catalog(language)
            data = {
                "cookies": self._cookies,
                "storage": self._storage,
                # Click-to-load placeholders (their words are in the <template>): per category its
                # label, hosts and cookies, the services [embeds.services] describes, whether Allow reloads.
                "embeds": self.embeds_url,
                "cat": {c: [self._label(c, language), *self._embed_facts[c]] for c in self._optional},
                "svc": self._services,
                "reload": self._csp_enforced,
            }
            html = _environment().get_template("banner_part.html").render(
                t=strings,
                lang=language,
                dir=strings.direction,
                rows=self._rows(language),
                data=_script_json(data),
                # "Load this once": offered where the policy says so, never under an enforced CSP
                once=self.policy.embeds.load_once and not self._csp_enforced,
            )
            part = Part(html)
            self._parts[language] = part
        return part

    def _label(self, category: str, language: str) -> str:
        return self.localizer.label(self.policy.category(category), language)

    def part_url(self, language: str) -> str:
        """Where the script fetches the part: the language and a digest of its content, so the
        browser may keep it until the content changes."""
        return f"{self.part_path}?lang={language}&v={self.part(language).digest}"

    def render(self, consent: Consent, language: str, nonce: str | None = None) -> str:
        """The banner's HTML for this consent and language."""
        key = _key(consent, language)
        html = self._html.get(key)
        if html is None:
            html = self._render(consent, language)
            if len(self._html) >= _CACHE_LIMIT:
                self._html.clear()
            self._html[key] = html
        if nonce:
            # Only for apps whose own CSP trusts scripts by nonce ('strict-dynamic').
            html = html.replace('<script type="module"', f'<script nonce="{nonce}" type="module"', 1)
        return html

    def _render(self, consent: Consent, language: str) -> str:
        strings = self.localizer.catalog(language)
        granted = consent.granted
        asks = consent.needs_choice
        # The visitor's state: what the script needs on every page, whether or not it opens the dialog.
        config: dict[str, Any] = {
            "endpoint": self.prefix,
            "lang": language,
            "granted": [c for c in self.policy.category_names if c in granted],
            "optional": list(self._optional),
            "locked": dict(consent.locked),
            "needs_choice": asks,
            "is_student": consent.is_student,
            "gpc": consent.gpc,
            "gpcDenies": self._gpc_denies,
        }
        if not asks:
            config["part"] = self.part_url(language)
        return self.template.render(
            t=strings,
            lang=language,
            dir=strings.direction,
            consent=consent,
            config=_script_json(config),
            part=Markup(self.part(language).html) if asks else "",  # noqa: S704 - autoescaped template
            css_url=self.css_url,
            js_url=self.js_url,
        )

    def snippet(self, consent: Consent, language: str, charset: str | None) -> bytes:
        """The HTML as bytes for a page in ``charset``; without one, ASCII with character references
        (correct in any ASCII-compatible encoding)."""
        key = (_key(consent, language), charset)
        data = self._bytes.get(key)
        if data is None:
            html = self.render(consent, language)
            data = html.encode(charset or "ascii", "xmlcharrefreplace")
            if len(self._bytes) >= _CACHE_LIMIT:
                self._bytes.clear()
            self._bytes[key] = data
        return data


def consentgate_banner(request: Request, nonce: str | None = None) -> Markup:
    """Jinja2 helper: the banner's HTML for this request, placed where the template calls it.

    The middleware then does not inject a second copy. ``nonce`` adds a nonce to the banner's
    ``<script>`` for apps whose own CSP needs one (by default the middleware's nonce when its
    consent-aware CSP is on).
    """
    scope = request.scope
    banner = scope.get(BANNER_SCOPE_KEY)
    consent = scope.get("consentgate.consent")
    if not isinstance(banner, Banner) or not isinstance(consent, Consent):
        raise RuntimeError("consentgate_banner() needs ConsentMiddleware in front of the app")
    state = scope.setdefault("state", {})
    state[PLACED_STATE_KEY] = True
    if banner.skips(scope):
        return Markup("")
    language = banner.localizer.language_for(scope)
    return Markup(banner.render(consent, language, nonce or state.get(NONCE_STATE_KEY)))  # noqa: S704
