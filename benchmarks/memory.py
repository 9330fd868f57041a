"""How much memory the middleware keeps under hostile-looking real traffic: 100,000 requests from
20,000 distinct returning visitors whose Cookie headers also carry random extra cookies (random
names and values, as A/B tools, consent tools of other vendors and broken scripts leave them),
served by one uvicorn worker with everything on (enforcement, banner, SQLite visit log).

The worker's RSS is read from /proc after a warm-up (the first 20,000 requests) and at the end;
the growth between them is what the memos and queues keep. Target: under 20 MB.

    .venv/bin/python benchmarks/memory.py [--requests 100000] [--visitors 20000] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import httpx2 as httpx
from support.live_server import wait_for_port
from support.postgres import free_port

from benchmarks.load_app import POLICY, SECRET
from consentgate import SecretKeys
from consentgate.enforce.consent_cookie import ConsentCookieCodec, new_consent_id

ROOT = Path(__file__).resolve().parent.parent


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def headers_for(rng: random.Random, cookies: list[str]) -> dict[str, str]:
    extra = "; ".join(
        f"x{rng.getrandbits(40):x}={rng.getrandbits(64):x}" for _ in range(rng.randrange(0, 4))
    )
    if rng.random() < 0.3:
        return {"accept": "text/html", **({"cookie": extra} if extra else {})}
    cookie = rng.choice(cookies) + f"; _ga=GA1.1.{rng.getrandbits(32)}.{rng.getrandbits(30)}"
    return {"accept": "text/html", "cookie": cookie + ("; " + extra if extra else "")}


async def drive(url: str, total: int, connections: int, cookies: list[str], seed: int) -> None:
    rng = random.Random(seed)
    queue: asyncio.Queue[dict[str, str] | None] = asyncio.Queue(maxsize=connections * 4)

    async def worker(client: httpx.AsyncClient) -> None:
        while (headers := await queue.get()) is not None:
            response = await client.get(url, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"status {response.status_code}")

    async with httpx.AsyncClient(timeout=30) as client:
        tasks = [asyncio.create_task(worker(client)) for _ in range(connections)]
        for _ in range(total):
            await queue.put(headers_for(rng, cookies))
        for _ in tasks:
            await queue.put(None)
        await asyncio.gather(*tasks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--visitors", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    codec = ConsentCookieCodec(SecretKeys.load(SECRET), POLICY)
    rng = random.Random(3)
    choices = [{"analytics"}, {"analytics", "marketing", "personalization"}, set()]
    cookies = [f"consentgate={codec.encode(rng.choice(choices), new_consent_id())}" for _ in range(args.visitors)]
    workdir = Path(tempfile.mkdtemp(prefix="consentgate-memory-"))
    port = free_port()
    env = {**os.environ, "CONSENTGATE_LOAD_VARIANT": "full", "PYTHONPATH": str(ROOT),
           "CONSENTGATE_LOAD_STORE": str(workdir / "log.sqlite3")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "benchmarks.load_app:create", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=env, cwd=workdir,
    )
    try:
        wait_for_port(port, proc=proc)
        url = f"http://127.0.0.1:{port}/"
        asyncio.run(drive(url, args.warmup, args.connections, cookies, 1))
        before = rss_mb(proc.pid)
        asyncio.run(drive(url, args.requests, args.connections, cookies, 2))
        after = rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    result = {"requests": args.requests, "visitors": args.visitors, "rss_after_warmup_mb": round(before, 1),
              "rss_at_end_mb": round(after, 1), "growth_mb": round(after - before, 1)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"RSS after {args.warmup} warm-up requests: {before:.1f} MB; after {args.requests} more: "
              f"{after:.1f} MB; growth {after - before:.1f} MB (target < 20 MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
