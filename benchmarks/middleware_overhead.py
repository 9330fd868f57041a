"""What ConsentMiddleware costs per request, against Starlette's SessionMiddleware, on real traffic.

In-process ASGI calls (no server, no network) of one small Starlette app whose response sets three
cookies (one of them marketing, which consent blocks for most visitors), three ways:

* bare: the app alone;
* session: behind Starlette's SessionMiddleware (the requests carry its signed session cookie);
* consent: behind ConsentMiddleware (default options; the response is not HTML, so this is the
  enforcement: the banner's cost is measured by ``load.py``'s banner variant).

Traffic shapes (``benchmarks/traffic.py``): ``returning`` and ``first`` are the two halves of the
real-browser shape (3,000 returning visitors whose headers change on every hit, and first visits
without a cookie), ``mixed`` is that shape as it comes (3 in 10 first visits), ``repeating`` the
same header on every request (the shape used before). Every request gets a new scope and header
list, as a server builds them. Variants are interleaved round after round; medians are reported,
and the ratio (consent - bare) / (session - bare). Targets: returning <= 0.5, first <= 0.3,
repeating <= 0.3. The ``floor`` column is the same ratio for a middleware that only wraps ``send``
(no work at all): no middleware that filters responses can go below it.

    .venv/bin/python benchmarks/middleware_overhead.py [--rounds 15] [--requests 5000] [--shapes ...]
    PYTHONPATH=.compiled .venv/bin/python benchmarks/middleware_overhead.py   # the compiled build
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # after PYTHONPATH (.compiled)

from starlette.applications import Starlette
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response
from starlette.routing import Route

from benchmarks.traffic import Request, real_traffic, repeating_traffic, visitors
from consentgate import ConsentMiddleware, Policy

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


class Wrapper:
    """The floor of any middleware that must see responses: pure ASGI, a wrapped ``send`` that
    changes nothing. What ConsentMiddleware adds above this is its own work."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def wrapped(message: Any) -> None:
            await send(message)

        await self.app(scope, receive, wrapped)


SHAPES = ("returning", "first", "mixed", "repeating")
TARGETS = {"returning": 0.5, "first": 0.3, "mixed": None, "repeating": 0.3}
STREAM = 60_000  # distinct requests per shape (longer than any run: no header comes back within one)


def streams(shapes: tuple[str, ...]) -> dict[str, list[Request]]:
    people = visitors(POLICY, SECRET, 3000)
    real = real_traffic(people)
    out: dict[str, list[Request]] = {}
    for shape in shapes:
        if shape == "repeating":
            out[shape] = list(itertools.islice(repeating_traffic(people), 1))
        elif shape == "mixed":
            out[shape] = list(itertools.islice(real, STREAM))
        elif shape == "first":
            out[shape] = [Request(None)]
        else:
            out[shape] = [r for r in itertools.islice(real, STREAM * 2) if r.cookie is not None][:STREAM]
    return out


async def run(app: Any, requests: list[Request], offset: int, count: int) -> float:
    """Seconds per request, calling ``app`` ``count`` times with ``requests`` from ``offset`` on."""
    base = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "",
        "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    n = len(requests)
    start = time.process_time()  # CPU time of this process: other processes' load does not count
    for i in range(offset, offset + count):
        request = requests[i % n]
        scope = dict(base)
        headers = [(b"host", b"127.0.0.1:8000"), (b"accept", b"text/html"), (b"user-agent", b"Mozilla/5.0")]
        if request.cookie is not None:
            headers.append((b"cookie", request.cookie))
        scope["headers"] = headers
        if request.student:
            scope["state"] = {"roles": ["student"]}
        await app(scope, receive, send)
    return (time.process_time() - start) / count


async def main_async(rounds: int, requests: int, shapes: tuple[str, ...]) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for shape, stream in streams(shapes).items():
        apps = {
            "bare": make_app(),
            "session": SessionMiddleware(make_app(), secret_key=SECRET),
            "consent": ConsentMiddleware(make_app(), policy=POLICY, secret_key=SECRET),
            "wrapper": Wrapper(make_app()),
        }
        samples: dict[str, list[float]] = {name: [] for name in apps}
        for app in apps.values():  # warm-up: every returning visitor seen once
            await run(app, stream, 0, min(len(stream), 8000))
        offset = 8000
        for _ in range(rounds):
            for name, app in apps.items():
                samples[name].append(await run(app, stream, offset, requests))
            offset += requests
        medians = {name: statistics.median(values) * 1e6 for name, values in samples.items()}
        added = medians["session"] - medians["bare"]
        medians["ratio"] = (medians["consent"] - medians["bare"]) / added
        medians["wrapper_ratio"] = (medians["wrapper"] - medians["bare"]) / added
        results[shape] = medians
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds per shape")
    parser.add_argument("--requests", type=int, default=5000, help="requests per variant per round")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated: " + ", ".join(SHAPES))
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    shapes = tuple(s for s in args.shapes.split(",") if s in SHAPES)
    results = asyncio.run(main_async(args.rounds, args.requests, shapes))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'shape':<10} {'bare µs':>9} {'session µs':>11} {'consent µs':>11} {'ratio':>7} {'target':>7}"
          f"{'':>7} {'floor':>7}")
    for shape, r in results.items():
        target = TARGETS[shape]
        verdict = "" if target is None else ("ok" if r["ratio"] <= target else "MISSED")
        print(
            f"{shape:<10} {r['bare']:>9.2f} {r['session']:>11.2f} {r['consent']:>11.2f} "
            f"{r['ratio']:>7.2f} {'' if target is None else '<= ' + str(target):>7} {verdict:>6} "
            f"{r['wrapper_ratio']:>7.2f}"
        )
    print("floor: what a pure-ASGI middleware that only wraps send adds, in the same units")


if __name__ == "__main__":
    main()
