"""The browser-driven audit: visit a running site in Chromium and check what it does against a policy.

Each scenario runs in a fresh browser context (no shared cookies): a first visit without any
action, Deny All, Accept All, an optional partial choice, Accept All under Global Privacy Control,
and Accept All in a student session when the caller says how to become a student. The audit
records every cookie in the browser's jar (with who set it: a cookie that never came in a
``Set-Cookie`` response header was written by a script) and every request to another host, then
classifies each one by the policy and names the requirement every finding breaks.

The classification and the verdicts (:func:`judge`) are plain functions of what was observed, so
they can be checked without a browser; :class:`Auditor` is the part that drives Playwright.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urldefrag, urljoin, urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

from consentgate.audit.controls import OUR_DENY, BannerControls, click_our_banner, visible
from consentgate.audit.findings import AuditResult, ScenarioResult, Violation, judge
from consentgate.audit.recorder import Recorder, page_label
from consentgate.audit.scenarios import AuditError, AuditOptions, Scenario, build_scenarios, origin_of

__all__ = ["GPC_INIT_SCRIPT", "Auditor", "Progress", "run_audit"]

PLAYWRIGHT_MISSING = "the audit drives a browser through Playwright: pip install 'consentgate[audit]'"

_LOGOUT_LINK = re.compile(r"(log|sign)[-_ ]?(out|off)\b", re.I)
_NOT_A_PAGE = re.compile(
    r"\.(pdf|zip|gz|tgz|tar|dmg|exe|msi|png|jpe?g|gif|webp|svg|ico|mp[34]|mov|avi|webm|woff2?|ttf|css|js|json|xml|txt|csv|docx?|xlsx?|pptx?)$",
    re.I,
)

GPC_INIT_SCRIPT = (
    "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', "
    "{get: () => true, configurable: true, enumerable: true});"
)


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


class Auditor:
    """Runs the scenarios of one audit in Chromium through Playwright's sync API."""

    def __init__(self, options: AuditOptions, progress: Progress | None = None) -> None:
        self.options = options
        self.controls = BannerControls(options.accept_selector, options.deny_selector)
        self.progress = progress or _quiet
        self.timeout_ms = options.timeout * 1000
        self.banner_found: bool | None = None
        self.banner_kind: str | None = None

    def run(self) -> AuditResult:
        started = time.time()
        scenarios = build_scenarios(self.options)
        results: list[ScenarioResult] = []
        with self.browser() as browser:
            for index, scenario in enumerate(scenarios, 1):
                self.progress(f"[{index}/{len(scenarios)}] {scenario.title}")
                results.append(self._scenario(browser, scenario, index, len(scenarios)))
        return AuditResult(self.options.url, self.options.policy, results, started, time.time())

    @contextlib.contextmanager
    def browser(self) -> Iterator[Browser]:
        """Chromium through Playwright's sync API, closed at the end (also used by ``init``)."""
        try:
            from playwright.sync_api import Error as PlaywrightError
            from playwright.sync_api import sync_playwright
        except ModuleNotFoundError as exc:
            raise AuditError(PLAYWRIGHT_MISSING) from exc
        from consentgate.audit.browser import launch_options

        with sync_playwright() as playwright:
            launch = launch_options(self.options.chromium)
            try:
                browser = playwright.chromium.launch(**launch)
            except PlaywrightError as exc:
                where = launch.get("executable_path", "Playwright's own Chromium")
                raise AuditError(
                    f"could not start Chromium ({where}): {_first_line(exc)}. Give the browser with "
                    "--chromium PATH or the CONSENTGATE_CHROMIUM environment variable, or run "
                    "`playwright install chromium`"
                ) from exc
            try:
                yield browser
            finally:
                browser.close()

    # -- one scenario ---------------------------------------------------------------------

    def _scenario(self, browser: Browser, scenario: Scenario, index: int, total: int) -> ScenarioResult:
        options = self.options
        result = ScenarioResult(scenario, scenario.allowed(options.policy))
        context_args: dict[str, Any] = {}
        if scenario.gpc:
            context_args["extra_http_headers"] = {"Sec-GPC": "1"}
        context = browser.new_context(**context_args)
        context.set_default_timeout(self.timeout_ms)
        context.set_default_navigation_timeout(self.timeout_ms)
        try:
            if scenario.gpc:
                context.add_init_script(GPC_INIT_SCRIPT)
            recorder = Recorder(options.policy, options.host)
            recorder.attach(context)
            page = context.new_page()
            if scenario.student:
                self._become_student(context, page, recorder)
            self._visit(page, context, recorder, options.url, fatal=True)
            if scenario.action == "none":
                result.pages.append(recorder.page)
                result.violations.extend(self._check_first_layer(page, result))
                self._crawl(page, context, recorder, result, index, total)
            else:
                note = self._act(page, context, scenario)
                if note is not None:
                    result.status = "incomplete"
                    result.note = note
                else:
                    recorder.phase = "after"
                    self._visit(page, context, recorder, options.url, fatal=True)
                    result.pages.append(recorder.page)
                    self._crawl(page, context, recorder, result, index, total)
            result.cookies = sorted(recorder.cookies.values(), key=lambda c: (c.domain, c.name, c.path))
            result.requests = sorted(recorder.requests.values(), key=lambda r: r.host)
            result.storage = sorted(recorder.storage.values(), key=lambda s: (s.kind, s.name))
            if result.status == "done":
                result.violations.extend(
                    judge(scenario, options.policy, result.cookies, result.requests, result.storage)
                )
        finally:
            context.close()
        return result

    def _become_student(self, context: BrowserContext, page: Page, recorder: Recorder) -> None:
        options = self.options
        if options.student_cookie is not None:
            name, value = options.student_cookie
            context.add_cookies([{"name": name, "value": value, "url": options.url}])
        if options.student_login:
            login = urljoin(options.url, options.student_login)
            self._visit(page, context, recorder, login, fatal=True, what="student login page")

    def _visit(
        self,
        page: Page,
        context: BrowserContext,
        recorder: Recorder,
        url: str,
        *,
        fatal: bool,
        what: str = "start page",
    ) -> bool:
        from playwright.sync_api import Error as PlaywrightError

        recorder.page = page_label(url)
        try:
            response = page.goto(url, wait_until="load")
        except PlaywrightError as exc:
            if fatal:
                raise AuditError(
                    f"could not open the {what} {url}: {_first_line(exc)}. Is the site running, "
                    "and is the address (scheme, host, port) right?"
                ) from exc
            return False
        if response is not None and response.status >= 400 and fatal:
            raise AuditError(
                f"the {what} {url} answered HTTP {response.status}; give a URL that serves a page"
            )
        # Trackers often load after "load"; wait for the network to go quiet (bounded).
        with contextlib.suppress(PlaywrightError):
            page.wait_for_load_state("networkidle", timeout=min(self.timeout_ms, 5000))
        recorder.page = page_label(page.url)
        recorder.snapshot(context)
        recorder.snapshot_storage(page)
        if self.options.delay:
            page.wait_for_timeout(self.options.delay * 1000)
        return response is None or response.status < 400

    def _crawl(
        self,
        page: Page,
        context: BrowserContext,
        recorder: Recorder,
        result: ScenarioResult,
        index: int,
        total: int,
    ) -> None:
        """Visit up to ``crawl`` more same-origin pages, breadth first, one at a time."""
        limit = self.options.crawl
        if limit <= 0:
            return
        origin = self.options.origin
        seen = {urldefrag(page.url)[0], urldefrag(self.options.url)[0]}
        queue = self._links(page, origin, seen)
        visited = 0
        while queue and visited < limit:
            url = queue.pop(0)
            visited += 1
            self.progress(
                f"[{index}/{total}] {result.scenario.title}: page {visited}/{limit} {page_label(url)}"
            )
            if self._visit(page, context, recorder, url, fatal=False):
                result.pages.append(recorder.page)
                queue.extend(self._links(page, origin, seen))

    @staticmethod
    def _links(page: Page, origin: tuple[str, str, int | None], seen: set[str]) -> list[str]:
        try:
            hrefs: list[str] = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        except Exception:  # the page navigated away meanwhile: no links from it
            return []
        found = []
        for href in hrefs:
            if not isinstance(href, str):
                continue
            url = urldefrag(href)[0]
            if url in seen or origin_of(url) != origin:
                continue
            path = urlsplit(url).path
            if _LOGOUT_LINK.search(url) or _NOT_A_PAGE.search(path):
                continue
            seen.add(url)
            found.append(url)
        return found

    # -- the banner -----------------------------------------------------------------------

    def _check_first_layer(self, page: Page, result: ScenarioResult) -> list[Violation]:
        """R-CON-2: the first layer offers Deny All next to Accept All, alike in type and size."""
        label = page_label(page.url)
        # Wait once for either control; then the other one is there or not at all.
        either = visible(self.controls.deny(page).or_(self.controls.accept(page)), self.timeout_ms)
        deny = accept = None
        if either is not None:
            deny = visible(self.controls.deny(page), 500)
            accept = visible(self.controls.accept(page), 500)
        self.banner_found = deny is not None or accept is not None
        if self.banner_found:
            control = deny if deny is not None else accept
            ours = control is not None and BannerControls.is_ours(control)
            self.banner_kind = "consentgate" if ours else "other"
            result.banner = self.banner_kind
        if deny is None:
            looked = self.options.deny_selector or f"{OUR_DENY} or a button named like 'Deny all'"
            message = (
                "the banner's first layer offers no Deny All"
                if self.banner_found
                else "no consent banner with a Deny All control was found"
            )
            return [
                Violation("R-CON-2", "banner", "Deny All", None, label, f"{message} (looked for {looked})")
            ]
        if accept is None:
            return []
        deny_tag = deny.evaluate("e => e.tagName.toLowerCase()")
        accept_tag = accept.evaluate("e => e.tagName.toLowerCase()")
        if deny_tag != accept_tag:
            return [
                Violation(
                    "R-CON-2",
                    "banner",
                    "Deny All",
                    None,
                    label,
                    f"Deny All is a <{deny_tag}> while Accept All is a <{accept_tag}>; "
                    "both must be the same kind of control",
                )
            ]
        deny_box, accept_box = deny.bounding_box(), accept.bounding_box()
        if deny_box and accept_box:
            deny_area = deny_box["width"] * deny_box["height"]
            accept_area = accept_box["width"] * accept_box["height"]
            if deny_area < 0.5 * accept_area:
                return [
                    Violation(
                        "R-CON-2",
                        "banner",
                        "Deny All",
                        None,
                        label,
                        f"Deny All ({deny_area:.0f} px²) is less than half the size of Accept All "
                        f"({accept_area:.0f} px²)",
                    )
                ]
        return []

    def _act(self, page: Page, context: BrowserContext, scenario: Scenario) -> str | None:
        """Make the scenario's choice; a note when it could not be made."""
        if self.banner_found is False:
            return "skipped: no consent banner was found on the first visit"
        ours = self.banner_kind == "consentgate"
        if ours and not (self.options.accept_selector or self.options.deny_selector):
            choice: Literal["accept_all", "deny_all"] | list[str]
            if scenario.action == "choice":
                choice = sorted(scenario.categories)
            else:
                choice = "accept_all" if scenario.action == "accept_all" else "deny_all"
            try:
                click_our_banner(page, choice, timeout=self.options.timeout)
            except AssertionError as exc:
                return f"could not make the choice: {exc}"
            return None
        if scenario.action == "choice":
            return "a partial choice needs consentgate's banner (its preferences dialog hooks)"
        button = self.controls.accept(page) if scenario.action == "accept_all" else self.controls.deny(page)
        found = visible(button, self.timeout_ms)
        if found is None:
            name = "Accept All" if scenario.action == "accept_all" else "Deny All"
            flag = "--accept-selector" if scenario.action == "accept_all" else "--deny-selector"
            return f"could not find the banner's {name} button; give it with {flag}"
        from playwright.sync_api import Error as PlaywrightError

        found.click()
        try:
            found.wait_for(state="hidden", timeout=min(self.timeout_ms, 5000))
        except PlaywrightError:
            return "the banner did not close after the click"
        with contextlib.suppress(PlaywrightError):
            page.wait_for_load_state("networkidle", timeout=min(self.timeout_ms, 5000))
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not set(line.strip()) <= {"="}]
    return lines[0] if lines else exc.__class__.__name__


def run_audit(options: AuditOptions, progress: Progress | None = None) -> AuditResult:
    """Run every scenario against ``options.url``; raises :class:`AuditError` when it cannot."""
    return Auditor(options, progress).run()
