"""A SQLite file that cannot be written for a while: the store's outage as a test makes it."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["unwritable"]


@contextlib.contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """Make a SQLite database unwritable: the file and its write-ahead log (``-wal``), which is
    where a commit goes first. (With the file alone, a connection the process still holds keeps
    its descriptor open, and SQLite hands that to a new connection: commits went on into the
    log.) chmod for a normal user; root ignores permissions, so then the immutable attribute
    (chattr +i) does it."""
    wal = path.with_name(path.name + "-wal")
    files = [str(f) for f in (path, wal) if f.exists()]
    if os.geteuid() != 0:
        for name in files:
            os.chmod(name, 0o400)
        try:
            yield
        finally:
            for name in files:
                os.chmod(name, 0o600)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", *files], capture_output=True).returncode != 0:
        # Not a skip: CI must run this. scripts/setup's Debian has chattr (e2fsprogs); a container
        # without CAP_LINUX_IMMUTABLE should run the suite as a normal user instead.
        pytest.fail("running as root without a working chattr +i: cannot make the file read-only")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", *files], check=True)
