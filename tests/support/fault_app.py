"""The app the crash, outage and soak tests run in a separate uvicorn process.

Configured by environment: ``CONSENTGATE_FAULT_STORE`` (SQLite path or postgresql:// URL),
``CONSENTGATE_FAULT_SPOOL`` (spool file). A request header ``x-test-role: student`` makes a student
session; ``/_ops/counters`` answers the privacy log's counters and the process's resident memory.

    uvicorn support.fault_app:create --factory
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Scope

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from coreapp import SECRET, make_policy

from consentgate import ConsentMiddleware
from consentgate.log.privacy_log import PrivacyLog


def _student(scope: Scope) -> bool:
    return any(k == b"x-test-role" and v == b"student" for k, v in scope["headers"])


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def create() -> ASGIApp:
    policy = make_policy()
    log = PrivacyLog(
        os.environ["CONSENTGATE_FAULT_STORE"],
        policy,
        spool_path=os.environ.get("CONSENTGATE_FAULT_SPOOL"),
        queue_size=int(os.environ.get("CONSENTGATE_FAULT_QUEUE", "10000")),
    )

    async def page(request: Request) -> HTMLResponse:
        response = HTMLResponse(f"<!doctype html><title>p</title><main>{request.url.path}</main>")
        response.set_cookie("session", "s", httponly=True)
        response.set_cookie("_ga", "GA1.1")
        response.set_cookie("_fbp", "fb.1")
        return response

    async def counters(request: Request) -> JSONResponse:
        data: dict[str, Any] = {**log.counters(), "rss_kib": _rss_kib()}
        return JSONResponse(data)

    app = Starlette(routes=[Route("/", page), Route("/page/{n}", page), Route("/_ops/counters", counters)])
    return ConsentMiddleware(
        app,
        policy=policy,
        secret_key=SECRET,
        student_resolver=_student,
        privacy_log=log,
        decision_rate_limit=None,
    )
