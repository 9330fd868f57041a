"""The app the scale tests run with several uvicorn workers, or as several instances.

Configured by environment:

* ``CG_SCALE_STORE``: SQLite path or ``postgresql://`` URL;
* ``CG_SCALE_SPOOL``: the spool file (workers of one instance share it, as they would);
* ``CG_SCALE_COUNTERS``: a directory; each worker writes its privacy log's counters there at shutdown
  (``<pid>.json``), so a test can add them up across workers;
* ``CG_SCALE_RATE``: ``off``, or ``burst,per_minute,shared|local`` for the decision rate limit;
* ``CG_SCALE_PG_TIMEOUT``: PostgreSQL write timeout in seconds (default the store's).

    uvicorn support.scale_app:create --factory --workers 4
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.types import ASGIApp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from coreapp import SECRET, make_policy

from consentgate import ConsentMiddleware, DecisionRateLimit
from consentgate.log.privacy_log import PrivacyLog
from consentgate.log.stores.base import Store


def _store(target: str) -> str | Store:
    timeout = os.environ.get("CG_SCALE_PG_TIMEOUT")
    if timeout and target.startswith("postgresql://"):
        from consentgate.log.stores.postgres import PostgresStore

        return PostgresStore(target, write_timeout=float(timeout))
    return target


def _rate_limit() -> DecisionRateLimit | None:
    setting = os.environ.get("CG_SCALE_RATE", "off")
    if setting == "off":
        return None
    burst, per_minute, scope = setting.split(",")
    return DecisionRateLimit(burst=int(burst), per_minute=float(per_minute), shared=scope == "shared")


def create() -> ASGIApp:
    policy = make_policy()
    log = PrivacyLog(
        _store(os.environ["CG_SCALE_STORE"]), policy, spool_path=os.environ["CG_SCALE_SPOOL"], retry_interval=0.2
    )
    counters = Path(os.environ["CG_SCALE_COUNTERS"])

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        # The middleware has stopped (flushed) the log before the app hears of the shutdown.
        (counters / f"{os.getpid()}.json").write_text(json.dumps(log.counters()))

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(f"<!doctype html><title>p</title><main>{os.getpid()}</main>")

    app = Starlette(routes=[Route("/", page)], lifespan=lifespan)
    return ConsentMiddleware(app, policy=policy, secret_key=SECRET, privacy_log=log, decision_rate_limit=_rate_limit())
