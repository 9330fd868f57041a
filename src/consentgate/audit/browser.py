"""How consentgate launches Chromium through Playwright (the audit, the pytest plugin, the e2e tests).

Playwright normally drives a browser it downloaded itself; on machines where that is not possible a
system Chromium works as well when launched with its path and a few flags that keep it from reaching
out to the network on its own (background updates, sync, QUIC probes).
"""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
from typing import Any

__all__ = ["CHROMIUM_ARGS", "ENV_VAR", "browser_user_agent", "chromium_executable", "launch_options"]

#: Environment variable that overrides the browser path (a user with ``playwright install`` can set it
#: to an empty string to use Playwright's own Chromium).
ENV_VAR = "CONSENTGATE_CHROMIUM"

CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)

_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def chromium_executable(explicit: str | None = None) -> str | None:
    """The browser binary to launch: ``explicit``, else ``$CONSENTGATE_CHROMIUM``, else a system Chromium.

    ``None`` means "let Playwright use its own downloaded browser".
    """
    if explicit:
        return explicit
    env = os.environ.get(ENV_VAR)
    if env is not None:
        return env or None
    for candidate in _CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("chromium")
    return found


def launch_options(executable: str | None = None, *, headless: bool = True) -> dict[str, Any]:
    """Keyword arguments for ``playwright.chromium.launch(**launch_options())``."""
    options: dict[str, Any] = {"headless": headless, "args": list(CHROMIUM_ARGS)}
    path = chromium_executable(executable)
    if path:
        options["executable_path"] = path
        agent = browser_user_agent(path) if headless else None
        if agent:
            options["args"].append(f"--user-agent={agent}")
    return options


@functools.cache
def browser_user_agent(executable: str) -> str | None:
    """The user agent of a desktop Chrome of this Chromium's major version.

    Headless Chromium announces itself ("HeadlessChrome/…"), and sites treat it as a crawler:
    consentgate itself shows such a client no banner. The audit and the test fixtures check what a
    visitor sees, so the browser they launch says what a visitor's says. ``None`` when the version
    cannot be read (the browser's own user agent is then kept)."""
    try:
        result = subprocess.run(  # noqa: S603 - the browser binary the caller chose
            [executable, "--version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)\.\d+\.\d+", result.stdout)
    if match is None:
        return None
    system = "X11; Linux x86_64" if platform.system() == "Linux" else "Windows NT 10.0; Win64; x64"
    return (
        f"Mozilla/5.0 ({system}) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{match.group(1)}.0.0.0 Safari/537.36"
    )
