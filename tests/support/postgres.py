"""A throwaway PostgreSQL cluster on 127.0.0.1 for the test session (see SETUP: initdb/pg_ctl).

It can be stopped and started again in the middle of a test (outage tests) and is removed at the end.
As root, the server binaries run as the ``postgres`` user (initdb refuses root).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

__all__ = ["PostgresServer", "find_bin_dir", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_bin_dir() -> Path:
    explicit = os.environ.get("CONSENTGATE_PG_BIN")
    if explicit:
        return Path(explicit)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError(
            "PostgreSQL server binaries not found: run scripts/setup (installs Debian's postgresql) "
            "or set CONSENTGATE_PG_BIN to the directory holding initdb and pg_ctl"
        )
    return Path(found[-1]).parent


class PostgresServer:
    """One cluster: ``start()``, ``stop()`` (immediate, like a crash), ``cleanup()``."""

    def __init__(self, *, fsync: bool = False) -> None:
        self.fsync = fsync  # off for tests (nothing to keep); on where commit costs are measured
        self.bin = find_bin_dir()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="consentgate-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync",
            "-E", "UTF8", "--locale=C.UTF-8",
        )
        self.running = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr.strip()}\n{log[-2000:]}")

    def start(self) -> None:
        fsync = "on" if self.fsync else "off"
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync={fsync}"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "-o", options, "start")
        self.running = True

    def stop(self) -> None:
        """Stop at once (``-m immediate``): clients see the connection drop, as in an outage."""
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self.running = False

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
