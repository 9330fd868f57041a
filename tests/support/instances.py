"""One live app instance of ``support.scale_app`` (uvicorn, one or several workers) for the scale tests."""

from __future__ import annotations

import json
from pathlib import Path

from .live_server import ServerProcess

__all__ = ["Instance"]

TESTS = Path(__file__).resolve().parents[1]


class Instance:
    """One app instance: its own spool and counters, the store it shares with the others."""

    def __init__(self, directory: Path, store: str, *, workers: int, rate: str, pg_timeout: float | None) -> None:
        directory.mkdir(parents=True)
        self.directory = directory
        self.spool = directory / "receipts.spool"
        self.counters_dir = directory / "counters"
        self.counters_dir.mkdir()
        env = {"CG_SCALE_STORE": store, "CG_SCALE_SPOOL": str(self.spool),
               "CG_SCALE_COUNTERS": str(self.counters_dir), "CG_SCALE_RATE": rate}
        if pg_timeout is not None:
            env["CG_SCALE_PG_TIMEOUT"] = str(pg_timeout)
        self.server = ServerProcess("support.scale_app:create", factory=True, env=env, cwd=TESTS, workers=workers)
        self.server.output_dir = directory

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> str:
        return self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def kill(self) -> None:
        self.server.kill()

    def counters(self) -> dict[str, int]:
        """The privacy log counters of every worker that shut down cleanly, added up, and
        ``workers``: how many did."""
        total = {"workers": 0}
        for path in self.counters_dir.glob("*.json"):
            total["workers"] += 1
            for key, value in json.loads(path.read_text()).items():
                total[key] = total.get(key, 0) + int(value)
        return total

    def log_text(self) -> str:
        return self.server.log_text()
