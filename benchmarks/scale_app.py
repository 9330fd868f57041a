"""The app `benchmarks/scale.py` serves with one or several uvicorn workers: the load benchmark's school
page behind ConsentMiddleware with a privacy log on the store named by ``CONSENTGATE_SCALE_STORE``.

``CONSENTGATE_SCALE_RATE_LIMIT``: ``shared`` (default: the buckets in the store, one limit for the
site), ``local`` (each process its own) or ``off``.

At shutdown each worker writes its privacy log's counters (receipts stored and spooled, visits written
and dropped) to ``$CONSENTGATE_SCALE_COUNTERS/<pid>.json``, so the benchmark can add them up.

    uvicorn benchmarks.scale_app:create --factory --workers 4
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp

from benchmarks.load_app import POLICY, SECRET, progress
from consentgate import ConsentMiddleware, DecisionRateLimit
from consentgate.log.privacy_log import PrivacyLog


def create() -> ASGIApp:
    log = PrivacyLog(os.environ["CONSENTGATE_SCALE_STORE"], POLICY, spool_path=os.environ.get("CONSENTGATE_SCALE_SPOOL"))
    counters_dir = Path(os.environ.get("CONSENTGATE_SCALE_COUNTERS", "."))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        # The middleware stops (flushes) the privacy log before the app hears of the shutdown.
        (counters_dir / f"{os.getpid()}.json").write_text(json.dumps(log.counters()))

    app = Starlette(routes=[Route("/", progress)], lifespan=lifespan)
    rate = os.environ.get("CONSENTGATE_SCALE_RATE_LIMIT", "shared")
    limit = None
    if rate == "shared":
        limit = DecisionRateLimit(shared=True)
    elif rate == "local":  # (a consentgate from before shared buckets, served by --baseline, has only these)
        shared = "shared" in getattr(DecisionRateLimit, "__dataclass_fields__", {})
        limit = DecisionRateLimit(shared=False) if shared else DecisionRateLimit()
    return ConsentMiddleware(app, policy=POLICY, secret_key=SECRET, privacy_log=log, decision_rate_limit=limit)
