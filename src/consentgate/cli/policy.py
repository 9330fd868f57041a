"""``consentgate check``: validate a policy file."""

from __future__ import annotations

import argparse
import sys

from consentgate.enforce.policy import Policy, PolicyError

__all__ = ["register"]


def _check(args: argparse.Namespace) -> int:
    try:
        policy = Policy.from_file(args.file)
    except PolicyError as exc:
        print(f"invalid policy: {exc}", file=sys.stderr)
        return 1
    print(policy.describe())
    print("OK")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = subparsers.add_parser(
        "check",
        help="validate a policy file and print its categories",
        description="Validate a TOML policy file. Prints each category with its cookies and hosts, "
        "or the error (file, key, value) and exits with status 1.",
    )
    check.add_argument("file", metavar="FILE", help="the policy file (TOML)")
    check.set_defaults(func=_check)
