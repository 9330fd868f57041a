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
    """Make a SQLite file unwritable for new connections: chmod for a normal user; root ignores
    permissions, so then the immutable attribute (chattr +i) does it."""
    if os.geteuid() != 0:
        os.chmod(path, 0o400)
        try:
            yield
        finally:
            os.chmod(path, 0o600)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode != 0:
        # Not a skip: CI must run this. scripts/setup's Debian has chattr (e2fsprogs); a container
        # without CAP_LINUX_IMMUTABLE should run the suite as a normal user instead.
        pytest.fail("running as root without a working chattr +i: cannot make the file read-only")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)
