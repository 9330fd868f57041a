"""Run an ASGI app under a real server in a child process: uvicorn, hypercorn, granian or daphne.

``AsgiServer("hypercorn", "support.framework_apps:app", env={...})`` starts it on a free port of
127.0.0.1 and waits until it answers; ``stop()`` sends SIGTERM (the server's own graceful stop) and
waits for the process to end, so what it writes at exit is on disk when ``stop()`` returns.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from .live_server import wait_for_port
from .postgres import free_port

__all__ = ["SERVERS", "AsgiServer"]

TESTS = Path(__file__).resolve().parents[1]


def _command(server: str, target: str, port: int, extra: Sequence[str]) -> list[str]:
    py = sys.executable
    if server == "uvicorn":
        return [
            py,
            "-m",
            "uvicorn",
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "info",
            *extra,
        ]
    if server == "hypercorn":
        return [py, "-m", "hypercorn", target, "--bind", f"127.0.0.1:{port}", "--log-level", "info", *extra]
    if server == "granian":
        return [py, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
                "--workers", "1", "--log-level", "info", *extra, target]  # fmt: skip
    if server == "daphne":
        return [py, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "-v", "1", *extra, target]
    raise ValueError(f"unknown server {server!r}")


SERVERS = ("uvicorn", "hypercorn", "granian", "daphne")


class AsgiServer:
    def __init__(
        self,
        server: str,
        target: str,
        *,
        env: Mapping[str, str] | None = None,
        log_dir: Path,
        extra: Sequence[str] = (),
    ) -> None:
        self.server = server
        self.port = free_port()
        pythonpath = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
        self.env = {**os.environ, "PYTHONPATH": pythonpath, **(env or {})}
        self.command = _command(server, target, self.port, extra)
        self.output = log_dir / f"{server}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        with open(self.output, "ab") as log:
            self.proc = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.port, timeout=30, proc=self.proc)
        except Exception as exc:
            self.kill()
            raise RuntimeError(f"{self.server} did not start: {self.log_text()[-3000:]}") from exc
        return self.url

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait; returns the exit status (the process is killed after ``timeout``)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise RuntimeError(
                    f"{self.server} did not stop on SIGTERM: {self.log_text()[-3000:]}"
                ) from None
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_text(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""
