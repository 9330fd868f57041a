"""CPU time per request under load: the servers and traffic of ``benchmarks/load.py``, measured by the
CPU time the server's processes used (``/proc``), not by requests per second.

On a machine other people use, wrk's requests per second mostly measure who else is running; the
CPU time the server spent per request served does not depend on that nearly as much. The server is
the same (uvicorn, one worker, pinned to CPU 0; wrk pinned to CPU 1; real-browser traffic); each
variant's window is one wrk run plus a second of quiet, so the work the visit writer does after the
last request counts too. CPU time of the server's child processes is counted apart (``child``).

What it means for throughput: a server that is the only thing on its core serves at most
1 / (CPU per request) requests per second; the ratio of two variants' CPU per request is the ratio
of their throughputs on a dedicated core. With ``child`` work, a deployment with a spare core moves
that part off the server's core; a pinned one (as here: children inherit the pin) does not.

``--baseline DIR`` adds ``full`` served from another consentgate's sources (``DIR/src``, e.g.
``git archive main src static templates | tar -x -C DIR``), interleaved with the others: a before / after in one run.

    .venv/bin/python benchmarks/load_cpu.py [--rounds 3] [--duration 6] [--variants bare,enforce,banner,full]
        [--baseline DIR] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.live_server import wait_for_port
from support.postgres import free_port

from benchmarks.load import ROOT, VARIANTS, write_lua

_TICK = os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) of the process ``pid``, all its threads, dead ones included."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def cpu_of(pid: int) -> tuple[float, float]:
    """(the server process's CPU seconds, its descendants' CPU seconds) so far."""
    return _cpu(pid), sum(_cpu(child) for child in _descendants(pid))


def start(variant: str, port: int, workdir: Path, baseline: str | None) -> subprocess.Popen[bytes]:
    """load.py's server (``full-baseline``: ``full`` with the baseline's sources first on the path)."""
    name = variant.removesuffix("-baseline")
    first = [str(Path(baseline or "", "src").resolve())] if name != variant else []
    env = {**os.environ, "CONSENTGATE_LOAD_VARIANT": name,
           "CONSENTGATE_LOAD_STORE": str(workdir / f"{variant}.sqlite3"),
           "PYTHONPATH": os.pathsep.join([*first, str(ROOT)])}  # fmt: skip
    cmd = ["taskset", "-c", "0", sys.executable, "-m", "uvicorn", "benchmarks.load_app:create", "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    if importlib.util.find_spec("uvloop") and importlib.util.find_spec("httptools"):
        cmd += ["--loop", "uvloop", "--http", "httptools"]
    proc = subprocess.Popen(cmd, env=env, cwd=workdir)
    wait_for_port(port, proc=proc)
    return proc


def run_wrk(url: str, script: Path, duration: int, connections: int) -> int:
    """Requests wrk completed (non-2xx answers and socket errors stop the benchmark)."""
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(script), url],
        capture_output=True, text=True, check=True, timeout=duration + 30,
    ).stdout  # fmt: skip
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"errors under load:\n{out}")
    match = re.search(r"(\d+) requests in", out)
    assert match, out
    return int(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=6, help="seconds of load per variant per round")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, bare first")
    parser.add_argument("--visitors", type=int, default=3000, help="returning visitors in the real shape")
    parser.add_argument("--baseline", metavar="DIR", help="also serve full from DIR/src")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    variants = tuple(v for v in args.variants.split(",") if v in VARIANTS)
    if not variants or variants[0] != "bare":
        parser.error("--variants must start with bare (the baseline)")
    if args.baseline:
        if not Path(args.baseline, "src", "consentgate").is_dir():
            parser.error(f"--baseline: no consentgate sources in {args.baseline}/src")
        variants += ("full-baseline",)
    if not shutil.which("wrk") or not shutil.which("taskset"):
        print("load_cpu.py needs wrk and taskset: run scripts/setup (installs Debian's wrk)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="consentgate-load-cpu-"))
    script = workdir / "mix.lua"
    write_lua(script, args.visitors, "real")
    servers = {}
    samples: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
    try:
        for variant in variants:
            port = free_port()
            servers[variant] = (start(variant, port, workdir, args.baseline), f"http://127.0.0.1:{port}/")
        for variant in variants:  # warm-up: caches, parser, first SQLite writes
            run_wrk(servers[variant][1], script, 2, args.connections)
        for round_no in range(args.rounds):
            order = variants if round_no % 2 == 0 else tuple(reversed(variants))
            for variant in order:
                proc, url = servers[variant]
                own, children = cpu_of(proc.pid)
                served = run_wrk(url, script, args.duration, args.connections)
                time.sleep(1.0)  # the writer's last batches belong to this window
                own_after, children_after = cpu_of(proc.pid)
                samples[variant].append(((own_after - own) / served, (children_after - children) / served))
            print(f"round {round_no + 1}: " + "  ".join(
                f"{v} {sum(samples[v][-1]) * 1e6:.1f} µs" for v in variants), file=sys.stderr)  # fmt: skip
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    summary = {}
    bare = statistics.median(sum(s) for s in samples["bare"])
    for variant in variants:
        own = statistics.median(s[0] for s in samples[variant]) * 1e6
        child = statistics.median(s[1] for s in samples[variant]) * 1e6
        total = statistics.median(sum(s) for s in samples[variant]) * 1e6
        summary[variant] = {
            "server_us": round(own, 1), "child_us": round(child, 1), "total_us": round(total, 1),
            "pinned_ratio": round(bare * 1e6 / total, 3), "spare_core_ratio": round(bare * 1e6 / own, 3),
        }  # fmt: skip
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"CPU per request served, medians of {args.rounds} rounds (load average {os.getloadavg()[0]:.1f})")
    width = max(len(v) for v in summary) + 2
    print(f"{'variant':<{width}}{'server µs':>11}{'child µs':>10}{'total µs':>10}{'pinned':>9}{'spare core':>12}")
    for variant, row in summary.items():
        print(
            f"{variant:<{width}}{row['server_us']:>11.1f}{row['child_us']:>10.1f}{row['total_us']:>10.1f}"
            f"{row['pinned_ratio']:>9.1%}{row['spare_core_ratio']:>12.1%}"
        )
    print("pinned: bare's CPU per request / the variant's (throughput ratio on one core, children on it too);")
    print("spare core: the same with the server process alone (children on another core)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
