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

``--baseline DIR`` measures another consentgate too (``DIR/src``, ``DIR/static``,
``DIR/templates``; e.g. ``git archive main src static templates | tar -x -C /tmp/main``) for a
before / after in one run: each version in a child process of its own (one interpreter cannot
import two), alternating ``--blocks`` times, the samples of every block pooled before the medians.

    .venv/bin/python benchmarks/banner_cost.py [--rounds 15] [--requests 3000] [--baseline DIR]
                                               [--blocks 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import itertools
import json
import os
import statistics
import subprocess
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


async def measure(rounds: int, requests: int) -> dict[str, dict[str, Any]]:
    """Per visitor kind and language: the samples (CPU seconds per request) of each variant and
    the bytes the banner adds."""
    results: dict[str, dict[str, Any]] = {}
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
            results[f"{kind}/{language}"] = {
                "samples": samples,
                "bytes": len(page_body) - len(bare),
                "page_gzip_added": len(gzip.compress(page_body, 9)) - len(gzip.compress(bare, 9)),
            }
    return results


def figures(measured: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Medians in µs, the banner's cost (banner - enforce) and its ratio to enforcement's."""
    out: dict[str, dict[str, float]] = {}
    for name, entry in measured.items():
        row = {variant: statistics.median(values) * 1e6 for variant, values in entry["samples"].items()}
        row["banner_us"] = row["banner"] - row["enforce"]
        row["ratio"] = row["banner_us"] / (row["enforce"] - row["bare"])
        row["bytes"] = entry["bytes"]
        row["page_gzip_added"] = entry["page_gzip_added"]
        out[name] = row
    return out


def in_child(src: Path, rounds: int, requests: int) -> dict[str, dict[str, Any]]:
    """:func:`measure` in a child process importing consentgate from ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    command = [sys.executable, __file__, "--rounds", str(rounds), "--requests", str(requests), "--samples"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    answer = json.loads(done.stdout)
    if Path(answer["consentgate"]).resolve().parent.parent != src.resolve():
        raise SystemExit(f"consentgate came from {answer['consentgate']}, not {src}")
    return dict(answer["results"])


def pooled(blocks: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for block in blocks:
        for name, entry in block.items():
            into = merged.setdefault(name, {**entry, "samples": {v: [] for v in entry["samples"]}})
            for variant, values in entry["samples"].items():
                into["samples"][variant].extend(values)
    return merged


def table(results: dict[str, dict[str, float]]) -> None:
    print(
        f"{'visitor':<12} {'bytes':>6} {'gzip':>6} {'bare µs':>8} {'enforce µs':>11} {'banner µs':>10}"
        f" {'banner adds µs':>15} {'/ enforcement':>14}"
    )
    for name, r in results.items():
        print(
            f"{name:<12} {r['bytes']:>6.0f} {r['page_gzip_added']:>6.0f} {r['bare']:>8.2f} {r['enforce']:>11.2f}"
            f" {r['banner']:>10.2f} {r['banner_us']:>15.2f} {r['ratio']:>14.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds per kind and language")
    parser.add_argument("--requests", type=int, default=3000, help="requests per variant per round")
    parser.add_argument("--baseline", metavar="DIR", type=Path, help="also measure the consentgate in DIR/src")
    parser.add_argument("--blocks", type=int, default=3, help="with --baseline: alternations of the two")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--samples", action="store_true", help=argparse.SUPPRESS)  # a child's answer
    args = parser.parse_args()
    if args.samples:
        import consentgate

        print(json.dumps({"consentgate": consentgate.__file__, "results": asyncio.run(measure(args.rounds, args.requests))}))
        return
    if args.baseline is None:
        runs = {"this": figures(asyncio.run(measure(args.rounds, args.requests)))}
    else:
        sources = {"baseline": args.baseline / "src", "this": Path(__file__).resolve().parent.parent / "src"}
        blocks: dict[str, list[dict[str, dict[str, Any]]]] = {label: [] for label in sources}
        rounds = max(1, args.rounds // args.blocks)
        for block in range(args.blocks):
            order = list(sources) if block % 2 == 0 else list(reversed(sources))
            for label in order:
                blocks[label].append(in_child(sources[label], rounds, args.requests))
        runs = {label: figures(pooled(found)) for label, found in sorted(blocks.items())}
    if args.json:
        print(json.dumps(runs, indent=2))
        return
    for label, results in runs.items():
        if len(runs) > 1:
            print(f"== {label}: consentgate from {args.baseline / 'src' if label == 'baseline' else 'this checkout'}")
        table(results)
    print("bytes: what the banner adds to the page's HTML; gzip: to the page gzipped (-9)")
    print("banner adds: CPU µs per page (banner - enforce); / enforcement: over (enforce - bare), same run")
    if len(runs) > 1:
        before, after = runs["baseline"], runs["this"]
        print("== before -> after (baseline -> this)")
        print(f"{'visitor':<12} {'bytes':>15} {'gzip':>13} {'banner adds µs':>17}")
        for name in after:
            b, a = before[name], after[name]
            print(
                f"{name:<12} {b['bytes']:>6.0f} -> {a['bytes']:>5.0f} {b['page_gzip_added']:>5.0f} -> {a['page_gzip_added']:>4.0f}"
                f" {b['banner_us']:>7.2f} -> {a['banner_us']:>6.2f}"
            )


if __name__ == "__main__":
    main()
