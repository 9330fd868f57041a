"""Serve an ASGI app on 127.0.0.1 for browser and load tests.

``ThreadServer`` runs uvicorn in a thread of the test process (for apps built inside a test);
``ServerProcess`` runs it in a child process from an import string, so a test can ``kill -9`` it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from .postgres import free_port

__all__ = ["ServerProcess", "ThreadServer", "wait_for_port"]


def wait_for_port(port: int, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class ThreadServer:
    """``host``: any 127.x.y.z (another "site" on this machine); ``ssl``: (certificate file, key
    file) to serve HTTPS."""

    def __init__(
        self, app: ASGIApp, *, lifespan: str = "auto", host: str = "127.0.0.1", ssl: tuple[str, str] | None = None
    ) -> None:
        self.host = host
        self.port = free_port()
        self.scheme = "https" if ssl else "http"
        certfile, keyfile = ssl or (None, None)
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", lifespan=lifespan,
                                ssl_certfile=certfile, ssl_keyfile=keyfile)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


class ServerProcess:
    """uvicorn in a subprocess: ``ServerProcess("pkg.mod:app", factory=False, env={...})``."""

    def __init__(
        self,
        target: str,
        *,
        factory: bool = False,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        port: int | None = None,
        file_size_limit: int | None = None,
        workers: int = 1,
    ) -> None:
        self.target = target
        self.workers = workers  # > 1: uvicorn's supervisor and its workers (kill() ends the supervisor only)
        self.file_size_limit = file_size_limit  # RLIMIT_FSIZE: a full disk, file by file
        self.factory = factory
        self.env = {**os.environ, **(env or {})}
        self.cwd = Path(cwd) if cwd else None
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.output: Path | None = None
        self.output_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        cmd = [sys.executable, "-m", "uvicorn", self.target, "--host", "127.0.0.1", "--port", str(self.port),
               "--log-level", "warning"]
        if self.factory:
            cmd.append("--factory")
        if self.workers > 1:
            cmd += ["--workers", str(self.workers)]
        if self.file_size_limit is not None:
            # Writes past the limit fail with EFBIG, as on a full disk (SIGXFSZ ignored, not fatal).
            prelude = (
                "import os, resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
                f"resource.setrlimit(resource.RLIMIT_FSIZE, ({self.file_size_limit}, {self.file_size_limit})); "
                "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
            )
            cmd = [sys.executable, "-c", prelude, *cmd[1:]]
        log_dir = self.output_dir or self.cwd or Path.cwd()
        self.output = log_dir / f"server-{self.port}.log"
        with open(self.output, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, proc=self.proc, timeout=15.0 * self.workers)
        return self.url

    def kill(self) -> None:
        """SIGKILL: no lifespan shutdown, nothing flushed — a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM: a clean shutdown (lifespan runs)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_text(self) -> str:
        return self.output.read_text(errors="replace") if self.output and self.output.exists() else ""
