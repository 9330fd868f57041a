"""Issue 5's acceptance, end to end: ``consentgate demo`` started the way the README starts it, then
driven in Chromium — the banner appears, a student's Accept All yields no marketing cookie, "My data"
lists the visit, "Forget me" empties it, the dashboard renders its charts — and Ctrl-C stops the
demo cleanly with the log flushed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from support.live_server import wait_for_port
from support.postgres import free_port

from consentgate.log.stores.factory import open_store


def demo_command() -> list[str]:
    """``consentgate`` as installed next to this Python (what ``./scripts/demo`` runs)."""
    script = Path(sys.executable).with_name("consentgate")
    return [str(script)] if script.exists() else [sys.executable, "-m", "consentgate"]


@dataclass
class RunningDemo:
    proc: subprocess.Popen[bytes]
    base: str
    store: Path
    output: Path

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def dashboard_url(self) -> str:
        match = re.search(r"Dashboard\s+(http://\S+/dashboard/\?token=\S+)", self.text())
        assert match, self.text()
        return match.group(1)

    def interrupt(self) -> int:
        """Ctrl-C, as a person at the terminal would."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=30)


@pytest.fixture
def running_demo(tmp_path: Path) -> Iterator[RunningDemo]:
    port = free_port()
    store = tmp_path / "demo.sqlite3"
    output = tmp_path / "demo-output.txt"
    with open(output, "wb") as sink:
        proc = subprocess.Popen(
            [*demo_command(), "demo", "--port", str(port), "--store", str(store)],
            cwd=tmp_path,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    demo = RunningDemo(proc, f"http://127.0.0.1:{port}", store, output)
    try:
        wait_for_port(port, timeout=30, proc=proc)
        yield demo
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_demo_help_describes_every_option() -> None:
    result = subprocess.run(
        [*demo_command(), "demo", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "300"},
    )
    for option, words in (
        ("--host", "address to listen on"),
        ("--port", "port to listen on"),
        ("--store", "a SQLite file path (created if missing) or a postgresql:// URL"),
        ("--dashboard-token", "token that opens the dashboard"),
        ("--log-level", "server log level"),
    ):
        assert option in result.stdout and words in result.stdout, option


MARKETING = re.compile(r"^(_fbp|IDE|ad_.*)$")


def cookie_names(page: Page) -> set[str]:
    return {cookie["name"] for cookie in page.context.cookies()}


@pytest.mark.e2e
def test_issue_5_acceptance_in_chromium(page: Page, running_demo: RunningDemo) -> None:
    """The acceptance path of issue 5 through the real command: R-CON-1 (banner first, nothing
    optional before a choice), R-STU-1 (student Accept All, no marketing cookie), R-VIS-1 ("My data"
    lists the visit), R-VIS-2 ("Forget me" empties it), and the dashboard's charts."""
    base = running_demo.base
    assert f"Site            {base}/" in running_demo.text()

    # The banner appears, and nothing optional is set before a choice (R-CON-1).
    page.goto(base + "/")
    banner = page.locator('[data-consentgate="banner"]')
    notice = banner.locator('[data-consentgate="notice"]')
    expect(notice).to_be_visible()
    expect(notice.get_by_role("heading", name="Your privacy choices")).to_be_visible()
    expect(notice.locator('[data-consentgate="accept-all"]')).to_be_visible()
    assert cookie_names(page) <= {"csrftoken"}

    # Demo sign-in as a student, then Accept All: marketing never arrives (R-STU-1).
    page.get_by_role("link", name="Demo sign-in").click()
    page.get_by_role("button", name="Sign in as a student (demo)").click()
    expect(page.get_by_text("Signed in as a student (demo)")).to_be_visible()
    with page.expect_response(lambda r: r.url.endswith("/_consent") and r.request.method == "POST") as answer:
        notice.locator('[data-consentgate="accept-all"]').click()
    assert answer.value.ok
    expect(notice).to_be_hidden()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cookie lab").click()
    # The analytics stand-in tag was activated by the banner and wrote its cookie: gating works,
    # so the marketing tag's absence below is the ceiling, not a page that never ran its scripts.
    page.wait_for_function("document.cookie.includes('_ga_DEMO=')")
    names = cookie_names(page)
    assert {"session", "_ga", "_ga_DEMO"} <= names
    assert not {n for n in names if MARKETING.match(n)}, names
    assert not {"theme", "last_class"} & names  # lincoln-high keeps personalization off
    # The server's HttpOnly _ga passed (analytics is allowed); the tag could not overwrite it.
    server_ga = next(c for c in page.context.cookies() if c["name"] == "_ga")
    assert server_ga["httpOnly"] is True

    # The dashboard renders its charts from the log (one decision, in a student session).
    page.goto(running_demo.dashboard_url())
    page.wait_for_url(f"{base}/dashboard/")
    expect(page.get_by_role("img", name=re.compile("Consent decisions per day"))).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("Opt-in rate per category"))).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("GPC and in student sessions"))).to_be_visible()
    assert page.locator("#chart-shares").get_attribute("role") == "img"
    expect(page.locator("#chart-optin")).to_contain_text("Marketing")
    expect(page.locator("#chart-shares")).to_contain_text("100% (1 of 1)")

    # "My data" lists the visit (recorded by the log's background writer: reload until it is in).
    page.goto(base + "/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My data").click()
    visits = page.locator("section[aria-labelledby=cg-visits]")
    for _ in range(50):
        if visits.get_by_role("cell", name="/cookies").count():
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(visits.get_by_role("cell", name="/cookies").first).to_be_visible()

    # "Forget me" empties it, and clears the consent and optional cookies.
    page.get_by_role("button", name="Forget me").click()
    expect(page.get_by_text(re.compile(r"Your data has been deleted: 1 decision"))).to_be_visible()
    page.goto(base + "/_consent/my-data")
    expect(page.get_by_text(re.compile("nothing is recorded about you"))).to_be_visible()
    assert page.get_by_role("cell", name="/cookies").count() == 0
    assert not {"_ga", "_ga_DEMO", "consentgate"} & cookie_names(page)

    # Language switcher: Arabic, right to left, banner included.
    page.goto(base + "/?consentgate_lang=ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(banner).to_have_attribute("lang", "ar")

    # Ctrl-C stops the demo cleanly, and what was logged is in the file.
    assert running_demo.interrupt() == 0
    assert "privacy log is saved" in running_demo.text()
    with open_store(str(running_demo.store), create=False) as store:
        receipts, _visits = store.counts()
    assert receipts == 0  # forgotten above: nothing left behind for this visitor


@pytest.mark.e2e
def test_ctrl_c_flushes_queued_visits(page: Page, running_demo: RunningDemo) -> None:
    """Visits still queued when Ctrl-C arrives are written before the process exits."""
    page.goto(running_demo.base + "/")
    page.locator('[data-consentgate="notice"] [data-consentgate="accept-all"]').click()
    expect(page.locator('[data-consentgate="notice"]')).to_be_hidden()
    # (not /courses: its lesson video, once allowed, is a page of its own in a frame)
    for path in ("/sign-in", "/quiz", "/cookies", "/"):
        page.goto(running_demo.base + path)
    assert running_demo.interrupt() == 0
    with open_store(str(running_demo.store), create=False) as store:
        receipts, visits = store.counts()
    assert receipts == 1
    assert visits == 4
