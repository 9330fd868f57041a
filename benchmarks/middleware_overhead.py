"""What ConsentMiddleware costs per request, against Starlette's SessionMiddleware.

In-process ASGI calls (no server, no network) of one small Starlette app whose response sets three
cookies (one of them marketing, which consent blocks), three ways:

* bare: the app alone;
* session: behind Starlette's SessionMiddleware, the request carrying a session cookie;
* consent: behind ConsentMiddleware, the request carrying a valid consent cookie (analytics).

Two traffic shapes: the same visitor's cookie repeating, and 5,000 distinct visitors' valid
cookies in rotation. Variants are interleaved round after round; medians are reported, and the
ratio (consent - bare) / (session - bare). Targets: <= 0.5 repeating, <= 1.0 distinct.

    .venv/bin/python benchmarks/middleware_overhead.py [--rounds 15] [--requests 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from base64 import b64encode
from typing import Any

from starlette.applications import Starlette
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response
from starlette.routing import Route

from consentgate import ConsentMiddleware, Policy, SecretKeys
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


async def page(request: Any) -> Response:
    response = Response("<p>hello</p>", media_type="text/plain")
    response.set_cookie("csrftoken", "t0k3n", httponly=True)
    response.set_cookie("_ga", "GA1.1.123.456")
    response.set_cookie("_fbp", "fb.1.123.456")  # blocked by consent (marketing not granted)
    return response


def make_app() -> Starlette:
    return Starlette(routes=[Route("/", page)])


def session_cookies(count: int) -> list[bytes]:
    middleware = SessionMiddleware(make_app(), secret_key=SECRET)
    out = []
    for i in range(count):
        data = b64encode(json.dumps({"user": f"user-{i}", "csrf": "x" * 16}).encode())
        out.append(b"session=" + middleware.signer.sign(data))
    return out


def consent_cookies(count: int) -> list[bytes]:
    codec = ConsentCookieCodec(SecretKeys.load(SECRET), POLICY)
    return [b"consentgate=" + codec.encode({"analytics"}, new_consent_id()).encode() for _ in range(count)]


async def run(app: Any, cookies: list[bytes], requests: int) -> float:
    """Seconds per request, calling ``app`` ``requests`` times with the cookies in rotation."""
    base = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "",
        "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    n = len(cookies)
    start = time.perf_counter()
    for i in range(requests):
        scope = dict(base)
        scope["headers"] = [(b"host", b"127.0.0.1:8000"), (b"accept", b"text/html"), (b"cookie", cookies[i % n])]
        await app(scope, receive, send)
    return (time.perf_counter() - start) / requests


async def main_async(rounds: int, requests: int) -> dict[str, dict[str, float]]:
    bare = make_app()
    session = SessionMiddleware(make_app(), secret_key=SECRET)
    consent = ConsentMiddleware(make_app(), policy=POLICY, secret_key=SECRET)
    shapes = {
        "repeating": {"session": session_cookies(1), "consent": consent_cookies(1), "bare": consent_cookies(1)},
        "distinct": {"session": session_cookies(5000), "consent": consent_cookies(5000), "bare": consent_cookies(5000)},
    }
    apps = {"bare": bare, "session": session, "consent": consent}
    results: dict[str, dict[str, float]] = {}
    for shape, cookies in shapes.items():
        samples: dict[str, list[float]] = {name: [] for name in apps}
        for name, app in apps.items():  # warm-up
            await run(app, cookies[name], 2000)
        for _ in range(rounds):
            for name, app in apps.items():
                samples[name].append(await run(app, cookies[name], requests))
        medians = {name: statistics.median(values) * 1e6 for name, values in samples.items()}
        medians["ratio"] = (medians["consent"] - medians["bare"]) / (medians["session"] - medians["bare"])
        results[shape] = medians
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds per shape")
    parser.add_argument("--requests", type=int, default=5000, help="requests per variant per round")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    results = asyncio.run(main_async(args.rounds, args.requests))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    targets = {"repeating": 0.5, "distinct": 1.0}
    print(f"{'shape':<10} {'bare µs':>9} {'session µs':>11} {'consent µs':>11} {'ratio':>7} {'target':>7}")
    for shape, r in results.items():
        verdict = "ok" if r["ratio"] <= targets[shape] else "MISSED"
        print(
            f"{shape:<10} {r['bare']:>9.2f} {r['session']:>11.2f} {r['consent']:>11.2f} "
            f"{r['ratio']:>7.2f} {'<= ' + str(targets[shape]):>7} {verdict}"
        )


if __name__ == "__main__":
    main()
