"""What the privacy log costs: per request (enqueue only) and in the background writer.

1. **Per-request cost of recording.** In-process ASGI calls of one small HTML page, three ways,
   interleaved round after round (medians reported):

   * bare: the app alone;
   * off: behind ConsentMiddleware without a privacy log (recording off);
   * on: behind ConsentMiddleware with a PrivacyLog on SQLite, analytics allowed, so every request
     is queued as a visit.

   Each request carries a valid consent cookie (analytics granted; 2,000 visitors in rotation)
   and a user agent from ``tests/data/user_agents.yaml`` in a realistic repeat pattern (most
   requests from a few dozen common strings, one in ten a string not seen before). During the
   timed part the writer is paused so the figure is the enqueue alone; the queue is written out,
   untimed, after every 1,000 requests (a running app's writer empties it every 0.25 s: at
   4,000 recorded pages/s that is 1,000 queued visits), so the timed part sees the queue sizes of a
   running app, not an ever-growing one. Reported: ``(on - off) / (off - bare)``, the cost of recording as a share of
   the middleware's own cost. Target: <= 0.10.

2. **Writer throughput.** 50,000 queued visits (same pattern) are minimised (user agent, IP
   truncation, referrer origin) and written in batches; records persisted per second, for SQLite
   and, when PostgreSQL server binaries are found (or ``--postgres URL`` is given), PostgreSQL.
   Target: >= 5,000 records/s.

3. **User-agent parsing alone**, cold (every string new to the cache) and in the realistic
   pattern (LRU cache hits), with the parser backend in use.

    .venv/bin/python benchmarks/logging_throughput.py [--rounds 15] [--requests 5000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from consentgate import ConsentMiddleware, Policy, SecretKeys
from consentgate.enforce.consent import Consent
from consentgate.enforce.consent_cookie import ConsentCookieCodec, new_consent_id
from consentgate.log.privacy_log import PrivacyLog
from consentgate.log.useragent import clear_cache, parse_user_agent, parser_backend
from consentgate.log.visits import identity_of, queued_visit

ROOT = Path(__file__).resolve().parents[1]
SECRET = "benchmark-secret-0123456789-abcdefghijklmnop"
POLICY = Policy.from_toml(
    """
revision = 1
[categories.essential]
cookies = ["session"]
[categories.analytics]
cookies = ["_ga", "_ga_*"]
[categories.marketing]
cookies = ["_fbp"]
""",
    source="benchmark.toml",
)


def user_agent_pattern(count: int, seed: int = 7) -> list[str]:
    """``count`` user agents: 90 % from the 40 most common (Zipf-like weights), 10 % unseen ones."""
    corpus = yaml.safe_load((ROOT / "tests" / "data" / "user_agents.yaml").read_text())["test_cases"]
    strings = list(dict.fromkeys(case["ua"] for case in corpus))
    common, rare = strings[:40], strings[40:]
    weights = [1 / (rank + 1) for rank in range(len(common))]
    rng = random.Random(seed)
    out: list[str] = []
    fresh = 0
    for _ in range(count):
        if rng.random() < 0.9 or not rare:
            out.append(rng.choices(common, weights)[0])
        else:
            # A new string each time (the corpus, then variants of it once used up).
            base = rare[fresh % len(rare)]
            out.append(base if fresh < len(rare) else f"{base} v{fresh}")
            fresh += 1
    return out


async def page(request: Any) -> HTMLResponse:
    return HTMLResponse("<!doctype html><title>p</title><p>hello</p>")


def make_app() -> Starlette:
    return Starlette(routes=[Route("/", page)])


def consent_cookies(count: int) -> list[bytes]:
    codec = ConsentCookieCodec(SecretKeys.load(SECRET), POLICY)
    return [b"consentgate=" + codec.encode({"analytics"}, new_consent_id()).encode() for _ in range(count)]


def scopes(count: int) -> list[dict[str, Any]]:
    cookies = consent_cookies(2000)
    agents = user_agent_pattern(count)
    out = []
    for i in range(count):
        out.append(
            {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                "scheme": "http", "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "",
                "client": (f"198.51.{i % 200}.{i % 250 + 1}", 5000), "server": ("127.0.0.1", 8000),
                "headers": [
                    (b"host", b"127.0.0.1:8000"),
                    (b"accept", b"text/html"),
                    (b"user-agent", agents[i].encode()),
                    (b"referer", b"https://search.example/results?q=school+news"),
                    (b"cookie", cookies[i % len(cookies)]),
                ],
            }
        )  # fmt: skip
    return out


async def run(app: Any, prepared: list[dict[str, Any]], between: Any = None, chunk: int = 1000) -> float:
    """Seconds per request. Timed in chunks; ``between`` runs untimed after each chunk (the log's
    queue is written out there, as the background writer does every 0.25 s in a running app)."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    elapsed = 0.0
    for first in range(0, len(prepared), chunk):
        start = time.perf_counter()
        for scope in prepared[first : first + chunk]:
            # As an ASGI server does: a new scope, header list, header tuples and client tuple
            # for every request (the same work in every variant; what a queued visit keeps
            # alive is then what it would keep alive in a running app).
            request = dict(scope)
            request["headers"] = [(key, value) for key, value in scope["headers"]]
            request["client"] = (scope["client"][0], 5000)
            await app(request, receive, send)
        elapsed += time.perf_counter() - start
        if between is not None:
            between()
    return elapsed / len(prepared)


@contextmanager
def sqlite_log(directory: str, **options: Any) -> Iterator[PrivacyLog]:
    log = PrivacyLog(str(Path(directory) / "log.sqlite3"), POLICY, **options)
    log.store.migrate()
    yield log


async def request_cost(rounds: int, requests: int) -> dict[str, float]:
    prepared = scopes(requests)
    with tempfile.TemporaryDirectory() as directory, sqlite_log(directory, queue_size=requests * 2) as log:
        apps = {
            "bare": make_app(),
            "off": ConsentMiddleware(make_app(), policy=POLICY, secret_key=SECRET, banner=False),
            "on": ConsentMiddleware(make_app(), policy=POLICY, secret_key=SECRET, banner=False, privacy_log=log),
        }
        samples: dict[str, list[float]] = {name: [] for name in apps}
        for app in apps.values():  # warm-up (caches, imports)
            await run(app, prepared[:2000])
        log.visits.flush()
        for _ in range(rounds):
            for name, app in apps.items():
                # Every variant pauses the same way between chunks; only "on" has a queue to empty.
                samples[name].append(await run(app, prepared, between=log.visits.flush))
        queued = log.visits.handled
        dropped = log.visits.dropped
        written = log.store.counts()[1]
    medians = {name: statistics.median(values) * 1e6 for name, values in samples.items()}
    medians["ratio"] = (medians["on"] - medians["off"]) / (medians["off"] - medians["bare"])
    medians["queued"] = queued
    medians["dropped"] = dropped
    medians["written"] = written
    return medians


def writer_throughput(target: str, directory: str, count: int) -> float:
    """Records persisted per second by the background writer, for ``count`` queued visits."""
    spool = Path(directory) / f"spool-{time.monotonic_ns()}"
    log = PrivacyLog(target, POLICY, queue_size=count, spool_path=spool, purge_interval=None)
    log.store.migrate()
    agents = user_agent_pattern(count, seed=11)
    referrer = (b"referer", b"https://news.example/a?b=c")
    for i in range(count):
        peer = f"2001:db8:{i % 999:x}::{i % 77 + 1:x}"
        headers = ((b"host", b"school.example"), (b"user-agent", agents[i].encode()), referrer)
        consent = Consent(frozenset({"essential", "analytics"}), False, f"c{i % 5000}")
        scope = {"path": f"/page/{i % 300}", "client": (peer, 5000), "headers": headers}
        log.visits.enqueue(queued_visit(time.time(), scope, identity_of(consent), proxies=False))
    start = time.perf_counter()
    log.visits.start()
    log.visits.stop()
    elapsed = time.perf_counter() - start
    stored = log.store.counts()[1]
    log.store.close()
    if stored != count:
        raise RuntimeError(f"expected {count} records, found {stored}")
    return count / elapsed


def ua_parsing(count: int) -> dict[str, float]:
    agents = user_agent_pattern(count, seed=3)
    unique = list(dict.fromkeys(agents))
    parse_user_agent(unique[0])  # build the parser outside the timing
    clear_cache()
    start = time.perf_counter()
    for ua in unique:
        parse_user_agent(ua)
    cold = (time.perf_counter() - start) / len(unique)
    clear_cache()
    start = time.perf_counter()
    for ua in agents:
        parse_user_agent(ua)
    pattern = (time.perf_counter() - start) / len(agents)
    return {"cold_us": cold * 1e6, "pattern_us": pattern * 1e6, "distinct_share": len(unique) / len(agents)}


def postgres_target(explicit: str | None) -> tuple[str | None, Any]:
    if explicit:
        return explicit, None
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from support.postgres import PostgresServer

        server = PostgresServer()
        server.start()
    except Exception as exc:  # no server binaries: skip PostgreSQL
        print(f"(PostgreSQL skipped: {exc})", file=sys.stderr)
        return None, None
    return server.url, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (request cost)")
    parser.add_argument("--requests", type=int, default=5000, help="requests per variant per round")
    parser.add_argument("--records", type=int, default=50_000, help="visits for the writer throughput")
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL to measure (default: a throwaway one)")
    parser.add_argument("--no-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    results: dict[str, Any] = {"ua_parser_backend": parser_backend()}
    results["ua_parsing"] = ua_parsing(20_000)
    results["request_cost_us"] = asyncio.run(request_cost(args.rounds, args.requests))
    with tempfile.TemporaryDirectory() as directory:
        results["writer_records_per_s"] = {
            "sqlite": writer_throughput(str(Path(directory) / "log.sqlite3"), directory, args.records)
        }
        if not args.no_postgres:
            url, server = postgres_target(args.postgres)
            try:
                if url:
                    results["writer_records_per_s"]["postgres"] = writer_throughput(url, directory, args.records)
            finally:
                if server is not None:
                    server.cleanup()

    if args.json:
        print(json.dumps(results, indent=2))
        return
    cost = results["request_cost_us"]
    ua = results["ua_parsing"]
    print(f"user-agent parser backend: {results['ua_parser_backend']}")
    print(
        f"UA parsing: {ua['cold_us']:.1f} µs per new string, {ua['pattern_us']:.2f} µs per request in the "
        f"realistic pattern ({ua['distinct_share'] * 100:.0f}% distinct strings)"
    )
    print(f"{'bare µs':>9} {'log off µs':>11} {'log on µs':>10} {'ratio':>7} {'target':>7}")
    verdict = "ok" if cost["ratio"] <= 0.10 else "MISSED"
    print(
        f"{cost['bare']:>9.2f} {cost['off']:>11.2f} {cost['on']:>10.2f} {cost['ratio']:>7.3f} {'<= 0.10':>7} {verdict}"
    )
    print(f"  (recording = on - off = {cost['on'] - cost['off']:.2f} µs; middleware = off - bare)")
    for backend, rate in results["writer_records_per_s"].items():
        verdict = "ok" if rate >= 5000 else "MISSED"
        print(f"writer, {backend}: {rate:,.0f} records/s persisted (target >= 5,000) {verdict}")


if __name__ == "__main__":
    main()
