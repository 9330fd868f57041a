"""Where the package's data folders are: inside an installed wheel, or at the repository's top."""

from __future__ import annotations

from pathlib import Path

__all__ = ["package_dir"]

_HERE = Path(__file__).resolve().parent


def package_dir(name: str) -> Path:
    """``static`` or ``templates``: inside the installed package, else at the repository root."""
    for candidate in (_HERE / name, _HERE.parent.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"consentgate: cannot find its {name}/ directory (looked next to {_HERE})")
