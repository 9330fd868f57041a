"""What recording visits costs, in CPU time (the machine is shared: wall-clock figures are noise).

Traffic in the real-browser shape of ``benchmarks/traffic.py`` (3 in 10 requests are first visits
without a cookie; 3,000 returning visitors whose GA4 cookie changes on every hit; refusers,
leftovers, students), with what a visit record is made of: every visitor keeps one browser (a user
agent from ``tests/data/user_agents.yaml``: most from a few dozen common strings, one visitor in
ten a string seen nowhere else) and one address (a fifth IPv6), a first visit comes from a new
address; a browser's ~14 request headers; a Referer on most pages (a search engine on a first
visit, the site itself after); a few hundred page paths, some with a query string. About 56 % of
the requests are recorded (returning visitors who allowed analytics, students included).

1. **Recording, in process.** One small HTML page, called in process four ways, interleaved round
   after round (medians reported):

   * bare: the app alone;
   * off: behind ConsentMiddleware (``banner=False``) without a privacy log;
   * queue: with a privacy log whose writer is not running: the request path alone (the queue is
     emptied, untimed, between chunks of requests);
   * on: with a privacy log started as a server's lifespan starts it (minimising on the event
     loop, the writer thread writing to SQLite), and the time for it to catch up after every
     chunk of 2,500 requests (what it queues in a quarter of a second at 10,000 requests/s).

   Measured: CPU time of the whole process (``time.process_time``: every thread) and of the event
   loop's thread (``time.thread_time``); the writer thread's is the difference. Reported per
   request, and recording's cost per recorded visit ((on - off) x requests / recorded visits),
   split into the event loop's share and the writer thread's.

   The store starts with ``--stored`` visits (default 300,000: a month of a site with 10,000
   recorded pages a day), as a running site's does: what a write costs depends on it.

2. **Writer throughput.** ``--records`` queued visits (same traffic) minimised and written in
   batches by the writer, into a store holding ``--stored`` visits: records persisted per second
   (wall clock, target >= 5,000) and CPU per record, for SQLite and, when PostgreSQL server
   binaries are found (or ``--postgres URL`` is given), PostgreSQL.

3. **User-agent parsing alone**, cold (every string new to the cache) and in the pattern above.

    .venv/bin/python benchmarks/logging_throughput.py [--rounds 7] [--requests 10000]
        [--stored 300000] [--records 50000] [--no-postgres] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import yaml
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from benchmarks.traffic import real_traffic, visitors
from consentgate import ConsentMiddleware, Policy
from consentgate.enforce.consent_cookie import new_consent_id
from consentgate.log.privacy_log import PrivacyLog
from consentgate.log.useragent import clear_cache, parse_user_agent, parser_backend
from consentgate.log.visits import queued_visit

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
CHUNK = 2500  # requests between two catch-ups of the writer
_BROWSER_HEADERS = (
    (b"host", b"school.example"), (b"connection", b"keep-alive"),
    (b"sec-ch-ua", b'"Chromium";v="128", "Not;A=Brand";v="24", "Google Chrome";v="128"'),
    (b"sec-ch-ua-mobile", b"?0"), (b"sec-ch-ua-platform", b'"Windows"'),
    (b"upgrade-insecure-requests", b"1"),
    (b"accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"),
    (b"sec-fetch-site", b"same-origin"), (b"sec-fetch-mode", b"navigate"), (b"sec-fetch-dest", b"document"),
    (b"accept-encoding", b"gzip, deflate, br, zstd"), (b"accept-language", b"en-GB,en;q=0.9,de;q=0.7"),
)  # fmt: skip


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


def _address(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return f"2001:db8:{rng.randrange(1 << 16):x}:{rng.randrange(1 << 16):x}::{rng.randrange(1, 1 << 16):x}"
    return f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def requests(count: int, seed: int = 3) -> list[dict[str, Any]]:
    """``count`` request scopes in the shape the module docstring describes."""
    rng = random.Random(seed)
    people = visitors(POLICY, SECRET, 3000)
    agents = iter(user_agent_pattern(count + len(people), seed=seed))
    # A visitor's browser and address, by their consent cookie (the start of their Cookie header).
    known = {p.consent.encode(): (next(agents).encode(), _address(rng)) for p in people}
    paths = [f"/news/{i}" for i in range(300)] + ["/", "/timetable", "/search?q=term+dates"]
    out = []
    for request in itertools.islice(real_traffic(people), count):
        headers = list(_BROWSER_HEADERS)
        path = rng.choice(paths)
        if request.cookie is None:
            agent, address, referrer = next(agents).encode(), _address(rng), b"https://www.google.com/"
        else:
            agent, address = known[request.cookie.split(b";", 1)[0]]
            referrer = b"https://school.example/news/%d" % rng.randrange(300) if rng.random() < 0.8 else None
            headers.append((b"cookie", request.cookie))
        headers.insert(6, (b"user-agent", agent))
        if referrer is not None:
            headers.insert(-2, (b"referer", referrer))
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "https", "path": path.split("?")[0], "raw_path": path.encode(),
            "query_string": path.partition("?")[2].encode(), "root_path": "",
            "client": (address, 50_000), "server": ("127.0.0.1", 8000), "headers": headers,
        }  # fmt: skip
        if request.student:
            scope["state"] = {"roles": ["student"]}
        out.append(scope)
    return out


async def page(request: Any) -> HTMLResponse:
    return HTMLResponse("<!doctype html><title>p</title><p>hello</p>")


def make_app() -> Starlette:
    return Starlette(routes=[Route("/{path:path}", page)])


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    return None


async def serve(app: Any, scopes: list[dict[str, Any]]) -> None:
    for scope in scopes:
        # As an ASGI server does: a new scope, header list and client tuple for every request.
        request = dict(scope)
        request["headers"] = list(scope["headers"])
        request["client"] = (scope["client"][0], 50_000)
        await app(request, _receive, _send)


class Lifespan:
    """The ASGI lifespan protocol driven as a server drives it."""

    def __init__(self, app: Any) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self.task = asyncio.ensure_future(app(scope, self.inbox.get, self.outbox.put))

    async def startup(self) -> None:
        await self.inbox.put({"type": "lifespan.startup"})
        await self.outbox.get()

    async def shutdown(self) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        await self.outbox.get()
        await self.task


def prefill(path: Path, count: int) -> None:
    """``count`` visits of 20,000 visitors, already in the indexed table, as a running site has."""
    if not count:
        return
    rng = random.Random(1)
    ids = [new_consent_id() for _ in range(20_000)]
    start = time.time() - 86_400 * 29  # inside the default retention (30 days): nothing is purged
    rows = (
        (time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(start + i * 86_400 * 29 / count)),
         f"/news/{i % 300}", "203.0.113.0", None, "Chrome", "128", "Windows", "10", "desktop",
         "https://www.google.com", rng.choice(ids), None, 0)
        for i in range(count)
    )  # fmt: skip
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO consentgate_visits (time, path, ip_prefix, country, browser, browser_major, os, "
            "os_major, device, referrer_origin, consent_id, tenant, is_student) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


async def recording_cost(rounds: int, count: int, stored: int) -> dict[str, float]:
    scopes = requests(count + 4000)
    warm, scopes = scopes[:4000], scopes[4000:]
    with tempfile.TemporaryDirectory() as directory:
        logs = {}
        for name in ("queue", "on"):
            logs[name] = log = PrivacyLog(str(Path(directory) / f"{name}.sqlite3"), POLICY, queue_size=2 * CHUNK)
            log.store.migrate()
            prefill(log.store.path, stored)
        apps = {
            "bare": make_app(),
            "off": ConsentMiddleware(make_app(), policy=POLICY, secret_key=SECRET, banner=False),
            **{
                name: ConsentMiddleware(make_app(), policy=POLICY, secret_key=SECRET, banner=False, privacy_log=log)
                for name, log in logs.items()
            },
        }
        apps["queue"]._log_waiting = False  # no lifespan and no start on the first request: queue only
        server = Lifespan(apps["on"])
        await server.startup()
        for app in apps.values():
            await serve(app, warm)
        logs["queue"].visits.flush()
        await catch_up(logs["on"])
        samples: dict[str, list[float]] = {name: [] for name in (*apps, "on_loop")}
        handled = logs["on"].visits.handled
        indexed = _indexed(logs["on"])
        for _ in range(rounds):
            for name, app in apps.items():
                log = logs.get(name)
                cpu = loop = 0.0
                for first in range(0, len(scopes), CHUNK):
                    start, start_loop = time.process_time(), time.thread_time()
                    await serve(app, scopes[first : first + CHUNK])
                    if name == "on":
                        await catch_up(logs["on"])
                    cpu += time.process_time() - start
                    loop += time.thread_time() - start_loop
                    if name == "queue":
                        log.visits.flush()  # untimed: the writer's work is not measured here
                samples[name].append(cpu / len(scopes))
                if name == "on":
                    samples["on_loop"].append(loop / len(scopes))
        recorded = (logs["on"].visits.handled - handled) / (rounds * len(scopes))
        moved = _indexed(logs["on"]) - indexed
        dropped = logs["on"].visits.dropped + logs["queue"].visits.dropped
        await server.shutdown()
        logs["queue"].stop_blocking()
    out = {name: statistics.median(values) * 1e6 for name, values in samples.items()}
    out["recorded_share"] = recorded
    out["dropped"] = dropped
    out["moved"] = moved
    # Per recorded visit from the means, not the medians: the writer moves its stage into the
    # indexed table now and then (see log/stores/sqlite.py), and that round's cost is part of it.
    mean = {name: statistics.fmean(values) * 1e6 for name, values in samples.items()}
    out["request_path"] = (mean["queue"] - mean["off"]) / recorded
    out["per_visit"] = (mean["on"] - mean["off"]) / recorded
    out["per_visit_loop"] = (mean["on_loop"] - mean["off"]) / recorded
    out["per_visit_writer"] = (mean["on"] - mean["on_loop"]) / recorded
    return out


def _indexed(log: PrivacyLog) -> int:
    with sqlite3.connect(log.store.path) as conn:  # type: ignore[attr-defined]
        return int(conn.execute("SELECT COUNT(*) FROM consentgate_visits").fetchone()[0])


async def catch_up(log: PrivacyLog) -> None:
    """Wait (on the event loop, as a server would between requests) until every queued visit is
    written; the log's own pump and writer do the work."""
    target = log.visits.handled + log.visits.queued
    while log.visits.handled < target:  # noqa: ASYNC110 - a counter the writer thread moves
        await asyncio.sleep(0.02)


def writer_throughput(target: str, directory: str, count: int, stored: int) -> dict[str, float]:
    """Records persisted per second (wall clock) and writer CPU per record, ``count`` queued visits."""
    spool = Path(directory) / f"spool-{time.monotonic_ns()}"
    log = PrivacyLog(target, POLICY, queue_size=count, spool_path=spool, purge_interval=None)
    log.store.migrate()
    if target.endswith(".sqlite3"):
        prefill(Path(target), stored)
    ids = [new_consent_id() for _ in range(5000)]
    for i, scope in enumerate(requests(count, seed=11)):
        log.visits.enqueue(queued_visit(time.time(), scope, (ids[i % len(ids)], None, False), proxies=False))
    before = log.store.counts()[1]
    start, cpu = time.perf_counter(), time.process_time()
    log.visits.start()
    log.visits.stop()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    stored_now = log.store.counts()[1]
    log.store.close()
    if stored_now - before != count:
        raise RuntimeError(f"expected {count} records, found {stored_now - before}")
    return {"per_s": count / elapsed, "cpu_us": cpu / count * 1e6}


def ua_parsing(count: int) -> dict[str, float]:
    agents = user_agent_pattern(count, seed=3)
    unique = list(dict.fromkeys(agents))
    parse_user_agent(unique[0])  # build the parser outside the timing
    clear_cache()
    start = time.process_time()
    for ua in unique:
        parse_user_agent(ua)
    cold = (time.process_time() - start) / len(unique)
    clear_cache()
    start = time.process_time()
    for ua in agents:
        parse_user_agent(ua)
    pattern = (time.process_time() - start) / len(agents)
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


def writers(args: argparse.Namespace) -> Iterator[tuple[str, dict[str, float]]]:
    with tempfile.TemporaryDirectory() as directory:
        yield "sqlite", writer_throughput(str(Path(directory) / "w.sqlite3"), directory, args.records, args.stored)
        if args.no_postgres:
            return
        url, server = postgres_target(args.postgres)
        try:
            if url:
                yield "postgres", writer_throughput(url, directory, args.records, 0)
        finally:
            if server is not None:
                server.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (recording cost)")
    parser.add_argument("--requests", type=int, default=10_000, help="requests per variant per round")
    parser.add_argument("--stored", type=int, default=300_000, help="visits in the SQLite store at the start")
    parser.add_argument("--records", type=int, default=50_000, help="visits for the writer throughput")
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL to measure (default: a throwaway one)")
    parser.add_argument("--no-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    results: dict[str, Any] = {"ua_parser_backend": parser_backend()}
    results["ua_parsing"] = ua_parsing(20_000)
    results["recording_cpu_us"] = asyncio.run(recording_cost(args.rounds, args.requests, args.stored))
    results["writer"] = dict(writers(args))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    cost = results["recording_cpu_us"]
    ua = results["ua_parsing"]
    print(f"user-agent parser backend: {results['ua_parser_backend']}")
    print(
        f"UA parsing: {ua['cold_us']:.1f} µs per new string, {ua['pattern_us']:.2f} µs per request in the "
        f"pattern ({ua['distinct_share'] * 100:.0f}% distinct strings)"
    )
    print(f"CPU per request (µs, medians of {args.rounds} rounds, {cost['recorded_share']:.0%} of requests recorded):")
    print(f"{'bare':>8} {'off':>8} {'queue':>8} {'on':>8} {'on: loop':>9}")
    print(f"{cost['bare']:>8.2f} {cost['off']:>8.2f} {cost['queue']:>8.2f} {cost['on']:>8.2f} {cost['on_loop']:>9.2f}")
    ratio = (cost["queue"] - cost["off"]) / (cost["off"] - cost["bare"])
    print(f"  request path: {cost['request_path']:.2f} µs per recorded visit ({ratio:.2f} of the middleware's own cost)")
    print(
        f"  recording, whole process: {cost['per_visit']:.2f} µs per recorded visit "
        f"(event loop {cost['per_visit_loop']:.2f}, writer thread {cost['per_visit_writer']:.2f}); "
        f"dropped {cost['dropped']:.0f}; {cost['moved']:,.0f} staged visits moved meanwhile"
    )
    for backend, figures in results["writer"].items():
        verdict = "ok" if figures["per_s"] >= 5000 else "MISSED"
        print(
            f"writer, {backend}: {figures['per_s']:,.0f} records/s persisted (target >= 5,000) {verdict}; "
            f"{figures['cpu_us']:.1f} µs CPU per record"
        )


if __name__ == "__main__":
    main()
