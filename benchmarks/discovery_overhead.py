"""What live cookie discovery costs per request, in process.

One small Starlette app (text/plain, so no visit is recorded) behind ConsentMiddleware with a
valid consent cookie and a started SQLite privacy log, three traffic shapes:

* declared: every cookie in the request and the response is named by the policy;
* undeclared-in: the request also carries a cookie no rule names (set by a script);
* undeclared-out: the response sets a cookie no rule names instead of a declared one;

each with live discovery off (``PrivacyLog(discover_cookies=False)``) and on, interleaved round
after round. The figure is on - off per shape: what discovery itself adds (blocking the
undeclared cookie costs the same either way). CPU time of this process (``process_time``), so
time other programs take from the machine does not count; medians over the rounds. The writer
thread runs meanwhile, folding and writing the queue as in a server.

    .venv/bin/python benchmarks/discovery_overhead.py [--rounds 15] [--requests 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from consentgate import ConsentMiddleware, Policy, PrivacyLog, SecretKeys
from consentgate.enforce.consent_cookie import ConsentCookieCodec, new_consent_id

SECRET = "benchmark-secret-0123456789-abcdefghijklmnop"
POLICY = Policy.from_toml(
    """
revision = 1
[categories.essential]
cookies = ["session", "csrftoken"]
[categories.analytics]
cookies = ["_ga", "_ga_*"]
[categories.marketing]
cookies = ["_fbp", "ad_*"]
"""
)


def make_app(third: str = "session") -> Starlette:
    """The page sets three cookies; the third is declared (``session``) or not (``promo_seen``)."""

    async def page(request: Request) -> Response:
        response = Response("hello", media_type="text/plain")
        response.set_cookie("csrftoken", "t0k3n", httponly=True)
        response.set_cookie("_ga", "GA1.1.123.456")
        response.set_cookie(third, "1")
        return response

    return Starlette(routes=[Route("/", page)])


async def run(app: Any, cookie: bytes, requests: int) -> float:
    base = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "",
        "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    start = time.process_time()
    for _ in range(requests):
        scope = dict(base)
        scope["headers"] = [(b"host", b"127.0.0.1:8000"), (b"cookie", cookie)]
        await app(scope, receive, send)
    return (time.process_time() - start) / requests


async def main_async(rounds: int, requests: int) -> dict[str, Any]:
    codec = ConsentCookieCodec(SecretKeys.load(SECRET), POLICY)
    consent = b"consentgate=" + codec.encode({"analytics"}, new_consent_id()).encode()
    declared = consent + b"; _ga=GA1.1.1.2; csrftoken=abc"
    undeclared_in = declared + b"; _hjSessionUser_42=eyJpZCI6"
    with tempfile.TemporaryDirectory() as folder:
        logs = {
            "off": PrivacyLog(str(Path(folder) / "off.sqlite3"), POLICY, discover_cookies=False),
            "on": PrivacyLog(str(Path(folder) / "on.sqlite3"), POLICY),
        }
        for log in logs.values():
            await log.start()
        try:
            variants: dict[tuple[str, str], tuple[Any, bytes]] = {}
            for mode, log in logs.items():
                app = ConsentMiddleware(make_app(), policy=POLICY, secret_key=SECRET, privacy_log=log)
                sets_undeclared = ConsentMiddleware(
                    make_app("promo_seen"), policy=POLICY, secret_key=SECRET, privacy_log=log
                )
                variants[("declared", mode)] = (app, declared)
                variants[("undeclared-in", mode)] = (app, undeclared_in)
                variants[("undeclared-out", mode)] = (sets_undeclared, declared)
            samples: dict[tuple[str, str], list[float]] = {key: [] for key in variants}
            for app, cookie in variants.values():  # warm-up
                await run(app, cookie, 2000)
            for _ in range(rounds):
                for key, (app, cookie) in variants.items():
                    samples[key].append(await run(app, cookie, requests))
                    await asyncio.sleep(0.05)  # the writer thread's turn, as between requests
            discovery = logs["on"].discovery
            assert discovery is not None
            dropped = discovery.dropped
        finally:
            for log in logs.values():
                await log.stop()
        stored = {(e.name, e.direction): e.count for e in logs["on"].store.undeclared_cookies()}
    out: dict[str, Any] = {}
    for shape in ("declared", "undeclared-in", "undeclared-out"):
        off = statistics.median(samples[(shape, "off")]) * 1e6
        on = statistics.median(samples[(shape, "on")]) * 1e6
        paired = statistics.median(
            (a - b) * 1e6 for a, b in zip(samples[(shape, "on")], samples[(shape, "off")], strict=True)
        )
        out[shape] = {"off": off, "on": on, "added": paired}
    out["dropped"] = dropped
    out["stored"] = {f"{name} ({direction})": count for (name, direction), count in stored.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds")
    parser.add_argument("--requests", type=int, default=5000, help="requests per variant per round")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    result = asyncio.run(main_async(args.rounds, args.requests))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'traffic':<16} {'discovery off':>14} {'on':>9} {'added (paired median)':>22}")
    for shape in ("declared", "undeclared-in", "undeclared-out"):
        r = result[shape]
        print(f"{shape:<16} {r['off']:>11.2f} µs {r['on']:>6.2f} µs {r['added']:>+19.2f} µs")
    print(f"queue drops: {result['dropped']}; stored: {result['stored']}")


if __name__ == "__main__":
    main()
