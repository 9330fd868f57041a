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
    if args.django_settings:
        _check_django(policy, args.django_settings)
    print("OK")
    return 0


def _check_django(policy: Policy, module: str) -> None:
    """The cookies Django sets under these settings, and a warning for each the policy blocks."""
    from consentgate.django.cookies import django_cookies, policy_warnings

    cookies = django_cookies(module)
    listed = ", ".join(f"{c.name} ({c.setting})" for c in cookies) or "none"
    print(f"  Django ({module}) sets: {listed}")
    for warning in policy_warnings(policy, cookies):
        print(f"warning: {warning}")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = subparsers.add_parser(
        "check",
        help="validate a policy file and print its categories",
        description="Validate a TOML policy file. Prints each category with its cookies and hosts, "
        "or the error (file, key, value) and exits with status 1.",
    )
    check.add_argument("file", metavar="FILE", help="the policy file (TOML)")
    check.add_argument(
        "--django-settings",
        metavar="MODULE",
        help="a Django settings module (dotted name, importable from the current directory): warn "
        "when the policy blocks a cookie Django itself sets (session, CSRF, language, messages)",
    )
    check.set_defaults(func=_check)
