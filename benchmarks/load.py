"""Throughput and p99 latency under load: the same app bare, with enforcement only, and with everything on
(enforcement + banner injection + visit logging), served by uvicorn (one worker, uvloop/httptools when
installed) pinned to CPU 0 and driven by wrk pinned to CPU 1, on 127.0.0.1 only, bounded in time.

Traffic (a wrk Lua script) in the real-browser shape of ``benchmarks/traffic.py``: 3 in 10 requests
are first visits without a cookie; the rest come from 3,000 returning visitors whose Cookie header
carries their consent cookie, a session cookie and, where allowed, GA4 cookies rewritten with the
hit's time on every request (leftovers of withdrawn categories and students included).
``--shape repeating`` replays one visitor's header instead (the shape used before). The variants
are interleaved round after round; the medians are reported with the ratios to bare. Targets:
enforce >= 90 % of bare throughput, banner (enforcement + banner injection, no log) >= 85 %, full
(banner + SQLite visit log) >= 75 %.

    .venv/bin/python benchmarks/load.py [--rounds 5] [--duration 8] [--connections 32]
        [--variants bare,enforce,banner,full] [--shape real|repeating] [--compiled] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the test servers' helpers

from support.live_server import wait_for_port
from support.postgres import free_port

from benchmarks import traffic
from benchmarks.load_app import POLICY, SECRET

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("bare", "enforce", "banner", "full")
DEFAULT_VARIANTS = VARIANTS


def write_lua(path: Path, visitors: int, shape: str) -> None:
    """The wrk script: requests in the real-browser shape (``benchmarks/traffic.py``), made per
    request in Lua so that GA4's ``_ga_<container>`` carries the hit's time on every request."""
    people = traffic.visitors(POLICY, SECRET, visitors)
    rows = []
    for v in people:
        flags = {
            "a": "analytics" in v.granted,
            "m": "marketing" in v.granted,
            "st": v.student,
        }
        fields = [f"c={_lua(v.consent)}", "s={" + ", ".join(_lua(x) for x in v.sessions) + "}"]
        fields += [f"{k}={'true' if on else 'false'}" for k, on in flags.items()]
        fields += [f"l={_lua(v.leftover) if v.leftover else 'nil'}", f"id={_lua(v.client_id)}"]
        rows.append("  {" + ", ".join(fields) + "}")
    if shape == "repeating":
        fixed = next(v for v in people if v.granted == {"analytics"} and not v.student and not v.leftover)
        body = (
            f"local header = {_lua(fixed.header(1_760_000_000).decode())}\n"
            "request = function()\n"
            '  return wrk.format("GET", "/", {["Accept"] = "text/html", ["Cookie"] = header})\n'
            "end\n"
        )
    else:
        body = (
            "local n = 0\n"
            "local t0 = 1760000000\n"
            "request = function()\n"
            "  n = n + 1\n"
            f"  if math.random() < {traffic.FIRST_VISIT_SHARE} then\n"
            '    return wrk.format("GET", "/", {["Accept"] = "text/html"})\n'
            "  end\n"
            "  local v = people[math.random(#people)]\n"
            "  v.h = (v.h or 0) + 1\n"
            "  local parts = {v.c, \"session=\" .. v.s[(math.floor(v.h / 10) % #v.s) + 1]}\n"
            "  if v.a then\n"
            '    parts[#parts + 1] = "_ga=GA1.1." .. v.id\n'
            '    parts[#parts + 1] = "_ga_Q7X2M4KD9P=GS1.1." .. (t0 + n) .. "." .. v.h .. ".1." .. (t0 + n + v.h) .. ".0.0.0"\n'
            "  end\n"
            '  if v.m then parts[#parts + 1] = "_fbp=fb.1." .. string.gsub(v.id, "%.", "") end\n'
            "  if v.l then parts[#parts + 1] = v.l end\n"
            '  local headers = {["Accept"] = "text/html", ["Cookie"] = table.concat(parts, "; ")}\n'
            '  if v.st then headers["X-Bench-Role"] = "student" end\n'
            '  return wrk.format("GET", "/", headers)\n'
            "end\n"
        )
    path.write_text("math.randomseed(7)\nlocal people = {\n" + ",\n".join(rows) + "\n}\n" + body)


def _lua(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def start_server(variant: str, port: int, workdir: Path, compiled: bool = False) -> subprocess.Popen[bytes]:
    path = [str(ROOT / ".compiled")] if compiled else []
    env = {**os.environ, "CONSENTGATE_LOAD_VARIANT": variant,
           "CONSENTGATE_LOAD_STORE": str(workdir / f"{variant}.sqlite3"),
           "PYTHONPATH": os.pathsep.join([*path, str(ROOT)])}
    cmd = ["taskset", "-c", "0", sys.executable, "-m", "uvicorn", "benchmarks.load_app:create", "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    try:
        import httptools  # noqa: F401
        import uvloop  # noqa: F401

        cmd += ["--loop", "uvloop", "--http", "httptools"]
    except ImportError:
        pass
    proc = subprocess.Popen(cmd, env=env, cwd=workdir)
    wait_for_port(port, proc=proc)
    return proc


def run_wrk(url: str, script: Path, duration: int, connections: int) -> tuple[float, float]:
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True, timeout=duration + 30,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99_match = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99_match, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99_match.group(2)]
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"errors under load:\n{out}")
    return rps, float(p99_match.group(1)) * scale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=8, help="seconds of load per variant per round")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                        help="comma-separated, bare first: bare, enforce, banner (no log), full")
    parser.add_argument("--shape", choices=traffic.SHAPES, default="real",
                        help="real browsers (default) or one repeating header (the old shape)")
    parser.add_argument("--visitors", type=int, default=3000, help="returning visitors in the real shape")
    parser.add_argument("--compiled", action="store_true",
                        help="serve the compiled build of the request path (run scripts/build-compiled first)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.compiled and not (ROOT / ".compiled" / "consentgate").is_dir():
        parser.error("--compiled: run scripts/build-compiled first")
    variants = tuple(v for v in args.variants.split(",") if v in VARIANTS)
    if not variants or variants[0] != "bare":
        parser.error("--variants must start with bare (the baseline)")
    if not shutil.which("wrk") or not shutil.which("taskset"):
        print("load.py needs wrk and taskset: run scripts/setup (installs Debian's wrk)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="consentgate-load-"))
    script = workdir / "mix.lua"
    write_lua(script, args.visitors, args.shape)
    servers = {}
    results: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
    try:
        for variant in variants:
            port = free_port()
            servers[variant] = (start_server(variant, port, workdir, args.compiled), f"http://127.0.0.1:{port}/")
        for variant in variants:  # warm-up: caches, parser, first SQLite writes
            run_wrk(servers[variant][1], script, 2, args.connections)
        for round_no in range(args.rounds):
            order = variants if round_no % 2 == 0 else tuple(reversed(variants))
            for variant in order:
                results[variant].append(run_wrk(servers[variant][1], script, args.duration, args.connections))
            print(f"round {round_no + 1}: " + "  ".join(f"{v} {results[v][-1][0]:.0f}/s" for v in variants),
                  file=sys.stderr)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    summary = {}
    bare_rps = statistics.median(r for r, _ in results["bare"])
    for variant in variants:
        rps = statistics.median(r for r, _ in results[variant])
        p99 = statistics.median(p for _, p in results[variant])
        summary[variant] = {"requests_per_s": round(rps), "p99_ms": round(p99, 2), "ratio_to_bare": round(rps / bare_rps, 3)}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{'variant':<10}{'req/s':>10}{'p99 ms':>10}{'vs bare':>10}")
        for variant, row in summary.items():
            print(f"{variant:<10}{row['requests_per_s']:>10}{row['p99_ms']:>10}{row['ratio_to_bare']:>10.1%}")
        print("targets: enforce >= 90 %, banner >= 85 %, full >= 75 % of bare")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
