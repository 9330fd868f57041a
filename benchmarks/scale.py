"""Several workers on one privacy log: consent decisions and page views at 64 concurrent clients against
uvicorn with 1 and with 4 workers, on SQLite and on PostgreSQL (a throwaway server with fsync on).

Each configuration gets a fresh store and server, round after round (configurations interleaved), and
two phases of wrk load on 127.0.0.1, each bounded in time:

* ``decisions``: 64 connections posting consent decisions (``POST /_consent``), each request from one
  of 20,000 returning visitors (a signed consent cookie, so the decision rate limit keys them apart);
* ``mixed``: 16 connections posting decisions and 48 viewing pages as returning visitors who allowed
  analytics (every page is a visit record), at the same time.

Reported per configuration and phase, median of the rounds with the spread (min-max): requests per
second, POST p50 / p99 / max latency, page p99, and from the workers' own counters the receipts that
went to the spool, with the log lines saying the store was unavailable. Last, one browser posts 200
decisions in a row (new connection each, so they spread over the workers): how many the decision rate
limit let through (its burst is 20). ``--rate-limit`` picks where the limit's buckets live: shared (the
default: in the store), local (each process its own) or off; several, comma-separated, are interleaved
like the configurations. ``--baseline DIR`` adds, interleaved, each configuration served by the
consentgate package under ``DIR/src`` (e.g. ``git archive main src static templates | tar -x -C DIR``), for a before /
after in one run. Every acknowledged decision is checked against the store afterwards (the
receipts stored must be at least the 200 answers; an answer cut off by the end of a phase may still
have been stored).

Targets (2-core machine): 4 workers at 64 concurrent, POST p99 <= 300 ms and no receipt spooled, on
SQLite and on PostgreSQL.

    .venv/bin/python benchmarks/scale.py [--rounds 3] [--duration 10] [--workers 1,4] [--stores sqlite,postgres]
                                         [--rate-limit shared,local,off] [--baseline DIR] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the test servers' helpers

from support.live_server import wait_for_port
from support.postgres import PostgresServer, free_port

from benchmarks.load_app import POLICY, SECRET
from consentgate import SecretKeys
from consentgate.enforce.consent_cookie import ConsentCookieCodec, new_consent_id
from consentgate.log.stores.factory import open_store

ROOT = Path(__file__).resolve().parent.parent
VISITORS = 20_000
BODIES = ('{"action": "accept_all"}', '{"action": "deny_all"}', '{"categories": ["analytics"]}')
DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %d, "non2xx": %d, "socket_errors": %d, "seconds": %.3f, '
    .. '"p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}\\n', summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def cookies(count: int, categories: set[str] | None = None) -> list[str]:
    codec = ConsentCookieCodec(SecretKeys.load(SECRET), POLICY)
    return [f"consentgate={codec.encode(categories or set(), new_consent_id())}" for _ in range(count)]


def write_scripts(directory: Path, port: int) -> tuple[Path, Path]:
    visitors = ",\n".join(f'  "{c}"' for c in cookies(VISITORS))
    bodies = ", ".join(json.dumps(b) for b in BODIES)
    post = directory / f"post-{port}.lua"
    post.write_text(
        f"local cookies = {{\n{visitors}\n}}\nlocal bodies = {{{bodies}}}\nlocal n = 0\n"
        "request = function()\n  n = n + 1\n"
        '  return wrk.format("POST", "/_consent", {["Content-Type"] = "application/json", '
        f'["Origin"] = "http://127.0.0.1:{port}", ["Cookie"] = cookies[(n % #cookies) + 1]}}, '
        "bodies[(n % #bodies) + 1])\nend\n" + DONE
    )
    readers = ",\n".join(f'  "{c}"' for c in cookies(2000, {"analytics"}))
    get = directory / f"get-{port}.lua"
    get.write_text(
        f"local cookies = {{\n{readers}\n}}\nlocal n = 0\n"
        "request = function()\n  n = n + 1\n"
        '  return wrk.format("GET", "/", {["Accept"] = "text/html", ["Cookie"] = cookies[(n % #cookies) + 1]})\n'
        "end\n" + DONE
    )
    return post, get


def wrk(url: str, script: Path, connections: int, seconds: int, out: dict[str, Any], key: str) -> None:
    result = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script), url],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout
    out[key] = json.loads(result.strip().splitlines()[-1])


def load(url: str, phases: list[tuple[Path, int, str]], seconds: int) -> dict[str, Any]:
    """Run one wrk per (script, connections, name) at the same time."""
    out: dict[str, Any] = {}
    threads = [threading.Thread(target=wrk, args=(url, s, c, seconds, out, k)) for s, c, k in phases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out


class Config:
    def __init__(
        self, store: str, workers: int, pg: PostgresServer | None, rate: str, named: bool, src: str | None = None
    ) -> None:
        self.store, self.workers, self.pg, self.rate, self.src = store, workers, pg, rate, src
        self.name = f"{store}, {workers} worker{'s' if workers > 1 else ''}" + (f", {rate}" if named else "")
        if src:
            self.name += ", baseline"

    def fresh_store(self, directory: Path, round_no: int) -> str:
        if self.store == "sqlite":
            return str(directory / "log.sqlite3")
        assert self.pg is not None
        import psycopg

        name = f"scale_{self.workers}_{self.rate}_{round_no}_{'b' if self.src else 'n'}"
        with psycopg.connect(self.pg.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.pg.url_for(name)


def one_browser(port: int, count: int = 200) -> int:
    """``count`` decisions from one browser (one consent cookie), each on a new connection; how many
    were accepted."""
    cookie = cookies(1)[0]
    accepted = 0
    for n in range(count):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/_consent", body=BODIES[n % 3], headers={
            "Content-Type": "application/json", "Origin": f"http://127.0.0.1:{port}", "Cookie": cookie})
        accepted += conn.getresponse().status == 200
        conn.close()
    return accepted


def run_config(config: Config, round_no: int, seconds: int, base: Path) -> dict[str, Any]:
    directory = base / f"{config.store}-{config.workers}-{config.rate}-{round_no}{'-baseline' if config.src else ''}"
    (directory / "counters").mkdir(parents=True)
    target = config.fresh_store(directory, round_no)
    port = free_port()
    post, get = write_scripts(directory, port)
    python_path = str(ROOT) if config.src is None else os.pathsep.join([str(ROOT), config.src])
    env = {**os.environ, "PYTHONPATH": python_path, "CONSENTGATE_SCALE_STORE": target,
           "CONSENTGATE_SCALE_SPOOL": str(directory / "receipts.spool"),
           "CONSENTGATE_SCALE_COUNTERS": str(directory / "counters"), "CONSENTGATE_SCALE_RATE_LIMIT": config.rate}
    cmd = [sys.executable, "-m", "uvicorn", "benchmarks.scale_app:create", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "--no-access-log", "--loop", "uvloop", "--http", "httptools",
           "--workers", str(config.workers)]
    output = directory / "server.log"
    with open(output, "wb") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=directory, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc=proc, timeout=30)
        url = f"http://127.0.0.1:{port}"
        load(url, [(post, 4, "post"), (get, 4, "get")], 2)  # warm-up: every worker's caches
        result = {"decisions": load(url, [(post, 64, "post")], seconds)}
        result["mixed"] = load(url, [(post, 16, "post"), (get, 48, "get")], seconds)
        result["one_browser_accepted"] = one_browser(port)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    counters: dict[str, int] = {}
    for path in (directory / "counters").glob("*.json"):
        for key, value in json.loads(path.read_text()).items():
            counters[key] = counters.get(key, 0) + int(value)
    text = output.read_text(errors="replace")
    with open_store(target) as store:
        stored, visits = store.counts()
    acked = sum(result[p]["post"]["requests"] - result[p]["post"]["non2xx"] for p in ("decisions", "mixed"))
    acked += result["one_browser_accepted"]
    result.update(
        counters=counters, stored=stored, visits=visits, acked=acked,
        unavailable_lines=text.count("store is unavailable"), back_lines=text.count("store is back"),
        errors=[line for line in text.splitlines() if "Traceback" in line or "ERROR" in line][:5],
    )
    if stored < acked:
        result["errors"].append(f"{acked - stored} acknowledged receipts missing from the store")
    return result


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per phase")
    parser.add_argument("--workers", default="1,4")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--rate-limit", default="shared", help="shared, local, off (comma-separated: each)")
    parser.add_argument("--baseline", metavar="DIR", help="also serve each configuration from DIR/src")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("scale.py needs wrk: run scripts/setup (installs Debian's wrk)", file=sys.stderr)
        return 2
    stores = args.stores.split(",")
    base = Path(tempfile.mkdtemp(prefix="consentgate-scale-"))
    pg = PostgresServer(fsync=True) if "postgres" in stores else None
    results: dict[str, list[dict[str, Any]]] = {}
    try:
        if pg is not None:
            pg.start()
        rates = args.rate_limit.split(",")
        sources = [None, str(Path(args.baseline, "src").resolve())] if args.baseline else [None]
        configs = [Config(s, int(w), pg, r, len(rates) > 1, src) for s in stores for w in args.workers.split(",")
                   for r in rates for src in sources]
        for round_no in range(args.rounds):
            for config in configs if round_no % 2 == 0 else configs[::-1]:
                started = time.monotonic()
                result = run_config(config, round_no, args.duration, base)
                results.setdefault(config.name, []).append(result)
                print(f"round {round_no + 1} {config.name}: decisions {result['decisions']['post']}, "
                      f"spooled {result['counters'].get('receipts_spooled')}, "
                      f"one browser: {result['one_browser_accepted']} of 200 accepted, "
                      f"{time.monotonic() - started:.0f}s", file=sys.stderr)
    finally:
        if pg is not None:
            pg.cleanup()
        shutil.rmtree(base, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    width = max(len(name) for name in results) + 2
    print(f"{'configuration':<{width}}{'phase':<11}{'req/s':>17}{'POST p50 ms':>16}{'POST p99 ms':>17}"
          f"{'POST max ms':>17}{'page p99 ms':>15}{'spooled':>17}")
    for name, runs in results.items():
        for phase in ("decisions", "mixed"):
            rps = [sum(p["requests"] / p["seconds"] for p in r[phase].values()) for r in runs]
            page = spread([r[phase]["get"]["p99_ms"] for r in runs]) if "get" in runs[0][phase] else "-"
            spooled = "/".join(str(r["counters"].get("receipts_spooled", "?")) for r in runs)
            print(f"{name:<{width}}{phase:<11}{spread(rps):>17}"
                  f"{spread([r[phase]['post']['p50_ms'] for r in runs]):>16}"
                  f"{spread([r[phase]['post']['p99_ms'] for r in runs]):>17}"
                  f"{spread([r[phase]['post']['max_ms'] for r in runs]):>17}{page:>15}"
                  f"{spooled if phase == 'decisions' else '':>17}")
    for name, runs in results.items():
        accepted = "/".join(str(r["one_browser_accepted"]) for r in runs)
        print(f"{name}: one browser, 200 decisions in a row: {accepted} accepted (burst 20)")
    for name, runs in results.items():
        for run in runs:
            if run["errors"] or run["unavailable_lines"]:
                print(f"{name}: {run['unavailable_lines']} 'unavailable' / {run['back_lines']} 'back' lines; "
                      f"{run['errors']}")
    print("spooled: receipts that went to the spool, per round (whole run, both phases)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
