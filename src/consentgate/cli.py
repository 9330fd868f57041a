"""The ``consentgate`` command line: check a policy, run the demo, and (with the privacy log)
export, forget, purge and report."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .policy import Policy, PolicyError

__all__ = ["build_parser", "main"]

# Subcommand groups that live in their own modules; each has register(subparsers).
_PLUGGABLE = ("consentgate.cli_log", "consentgate.cli_demo", "consentgate.cli_audit")


def _check(args: argparse.Namespace) -> int:
    try:
        policy = Policy.from_file(args.file)
    except PolicyError as exc:
        print(f"invalid policy: {exc}", file=sys.stderr)
        return 1
    print(policy.describe())
    print("OK")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="consentgate",
        description="Cookie-consent enforcement for ASGI apps: check policies, run the demo, "
        "manage the privacy log, audit a running site in a real browser.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    check = sub.add_parser(
        "check",
        help="validate a policy file and print its categories",
        description="Validate a TOML policy file. Prints each category with its cookies and hosts, "
        "or the error (file, key, value) and exits with status 1.",
    )
    check.add_argument("file", metavar="FILE", help="the policy file (TOML)")
    check.set_defaults(func=_check)
    for module_name in _PLUGGABLE:
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
