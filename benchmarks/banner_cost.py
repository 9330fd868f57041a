"""What the banner costs each HTML page: the bytes it adds and the CPU time of adding them.

In-process ASGI calls (no server, no network) of one school-site page (``load_app.PAGE``, about
6 KB of HTML) three ways, interleaved round after round:

* bare: the app alone;
* enforce: behind ConsentMiddleware with banner injection off;
* banner: behind ConsentMiddleware with the banner injected (the default).

Two kinds of visitor, each in English and Arabic (``Accept-Language``): ``decided`` (returning
visitors of ``benchmarks/traffic.py``'s real-browser shape, whose choice is current: the large
majority of page views) and ``first`` (no cookie: the banner asks). The banner's CPU cost is
``banner - enforce`` (CPU time of this process, ``time.process_time()``, so other processes'
load does not count); the ratio is that cost over what enforcement itself adds (``enforce -
bare``), both from the same run. Bytes: what the banner adds to the page's body, raw and gzipped
(gzip -9), as a page served without compression and with it.

    .venv/bin/python benchmarks/banner_cost.py [--rounds 15] [--requests 3000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import itertools
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from benchmarks.load_app import PAGE, POLICY, SECRET
from benchmarks.traffic import Request, real_traffic, visitors
from consentgate import ConsentMiddleware

KINDS = ("decided", "first")
LANGUAGES = ("en", "ar")


async def page(request: Any) -> HTMLResponse:
    return HTMLResponse(PAGE)


def apps() -> dict[str, Any]:
    def app() -> Starlette:
        return Starlette(routes=[Route("/", page)])

    return {
        "bare": app(),
        "enforce": ConsentMiddleware(app(), policy=POLICY, secret_key=SECRET, banner=False),
        "banner": ConsentMiddleware(app(), policy=POLICY, secret_key=SECRET),
    }


def stream(kind: str) -> list[Request]:
    if kind == "first":
        return [Request(None)]
    real = real_traffic(visitors(POLICY, SECRET, 3000))
    return [r for r in itertools.islice(real, 40_000) if r.cookie is not None][:20_000]


BASE = {
    "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
    "scheme": "http", "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "",
    "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
}


def scope_for(request: Request, language: str) -> dict[str, Any]:
    scope = dict(BASE)
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"accept", b"text/html"),
        (b"accept-language", language.encode()),
        (b"user-agent", b"Mozilla/5.0"),
    ]
    if request.cookie is not None:
        headers.append((b"cookie", request.cookie))
    scope["headers"] = headers
    if request.student:
        scope["state"] = {"roles": ["student"]}
    return scope


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def run(app: Any, requests: list[Request], language: str, offset: int, count: int) -> float:
    """CPU seconds per request, calling ``app`` ``count`` times from ``offset`` on."""

    async def send(message: dict[str, Any]) -> None:
        return None

    n = len(requests)
    start = time.process_time()
    for i in range(offset, offset + count):
        await app(scope_for(requests[i % n], language), receive, send)
    return (time.process_time() - start) / count


async def body_of(app: Any, request: Request, language: str) -> bytes:
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope_for(request, language), receive, send)
    return b"".join(chunks)


async def measure(rounds: int, requests: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for kind in KINDS:
        requests_of_kind = stream(kind)
        for language in LANGUAGES:
            variants = apps()
            bare = await body_of(variants["bare"], requests_of_kind[0], language)
            page_body = await body_of(variants["banner"], requests_of_kind[0], language)
            samples: dict[str, list[float]] = {name: [] for name in variants}
            for app in variants.values():  # warm-up: every memo and render cache filled
                await run(app, requests_of_kind, language, 0, min(len(requests_of_kind), 4000))
            offset = 4000
            for _ in range(rounds):
                for name, app in variants.items():
                    samples[name].append(await run(app, requests_of_kind, language, offset, requests))
                offset += requests
            row = {name: statistics.median(values) * 1e6 for name, values in samples.items()}
            row["banner_us"] = row["banner"] - row["enforce"]
            row["ratio"] = row["banner_us"] / (row["enforce"] - row["bare"])
            row["bytes"] = len(page_body) - len(bare)
            row["page_gzip_added"] = len(gzip.compress(page_body, 9)) - len(gzip.compress(bare, 9))
            results[f"{kind}/{language}"] = row
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds per kind and language")
    parser.add_argument("--requests", type=int, default=3000, help="requests per variant per round")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    results = asyncio.run(measure(args.rounds, args.requests))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"{'visitor':<12} {'bytes':>6} {'gzip':>6} {'bare µs':>8} {'enforce µs':>11} {'banner µs':>10}"
        f" {'banner adds µs':>15} {'/ enforcement':>14}"
    )
    for name, r in results.items():
        print(
            f"{name:<12} {r['bytes']:>6.0f} {r['page_gzip_added']:>6.0f} {r['bare']:>8.2f} {r['enforce']:>11.2f}"
            f" {r['banner']:>10.2f} {r['banner_us']:>15.2f} {r['ratio']:>14.2f}"
        )
    print("bytes: what the banner adds to the page's HTML; gzip: to the page gzipped (-9)")
    print("banner adds: CPU µs per page (banner - enforce); / enforcement: over (enforce - bare), same run")


if __name__ == "__main__":
    main()
