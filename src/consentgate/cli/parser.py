"""The ``consentgate`` command line: the parser that gathers every command group's module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

# Subcommand groups that live in their own modules; each has register(subparsers).
# A group whose optional dependencies are missing is left out of the parser.
_GROUPS = (
    "consentgate.cli.policy",
    "consentgate.cli.cookies",
    "consentgate.cli.init",
    "consentgate.cli.log",
    "consentgate.cli.demo",
    "consentgate.cli.audit",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="consentgate",
        description="Cookie-consent enforcement for ASGI apps: check policies, run the demo, "
        "manage the privacy log, audit a running site in a real browser.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in _GROUPS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
