"""``consentgate check``: validate a policy file and the site's language packs, and warn where the
cookie database disagrees with the policy."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from consentgate.cookies.checks import check_policy
from consentgate.enforce.policy import Policy, PolicyError
from consentgate.i18n.catalogs import Catalogs, Localizer
from consentgate.i18n.packs import LocaleError, base_tag, read_pack

__all__ = ["register"]


def _describe_packs(catalogs: Catalogs) -> list[str]:
    """One line per pack file: how many strings, and which language it extends."""
    folder = catalogs.folder
    assert folder is not None  # only called for a folder
    lines = [f"language packs in {folder}"]
    for path in sorted(folder.glob("*.json")):
        tag, count = path.stem, len(read_pack(path))
        strings = "string" if count == 1 else "strings"
        parent = base_tag(tag)
        while parent is not None and parent not in catalogs:
            parent = base_tag(parent)
        if tag in catalogs.languages and tag not in catalogs.added:
            what = f"overrides {count} {strings} of built-in {tag}"
        elif parent is not None:
            what = f"{count} {strings} over {parent}"
        else:
            what = f"a new language ({catalogs[tag]['language.name']}), {count} {strings}"
        lines.append(f"  {path.name}: {what}")
    return lines


def _check(args: argparse.Namespace) -> int:
    if args.file is None and args.locales is None:
        print("consentgate check: give a policy FILE, --locales DIR, or both", file=sys.stderr)
        return 2
    lines: list[str] = []
    policy: Policy | None = None
    try:
        if args.file is not None:
            policy = Policy.from_file(args.file)
            lines.append(policy.describe())
            catalogs = Localizer(policy, locales=args.locales).catalogs
        else:
            catalogs = Catalogs(args.locales)
    except PolicyError as exc:
        print(f"invalid policy: {exc}", file=sys.stderr)
        return 1
    except LocaleError as exc:
        print(f"invalid language pack: {exc}", file=sys.stderr)
        return 1
    if catalogs.folder is not None:
        lines.extend(_describe_packs(catalogs))
    lines.append(f"languages: {', '.join(catalogs.languages)}")
    print("\n".join(lines))
    count = 0
    if policy is not None and args.django_settings:
        count += _check_django(policy, args.django_settings)
    if policy is not None:
        warnings = check_policy(policy)
        for warning in warnings:
            print(f"warning: {warning.message}", file=sys.stderr)
        count += len(warnings)
    if count:
        print(f"{count} warning(s){'' if args.strict else ' (--strict makes them an error)'}")
    print("OK" if not (count and args.strict) else "FAILED: warnings under --strict")
    return 1 if count and args.strict else 0


def _check_django(policy: Policy, module: str) -> int:
    """The cookies Django sets under these settings, and a warning for each the policy blocks;
    returns how many warnings."""
    from consentgate.django.cookies import django_cookies, policy_warnings

    cookies = django_cookies(module)
    listed = ", ".join(f"{c.name} ({c.setting})" for c in cookies) or "none"
    print(f"  Django ({module}) sets: {listed}")
    warnings = list(policy_warnings(policy, cookies))
    for warning in warnings:
        print(f"warning: {warning}")
    return len(warnings)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = subparsers.add_parser(
        "check",
        help="validate a policy file and/or a folder of language packs",
        description="Validate a TOML policy file and the language packs it uses (its `locales` "
        "folder, or --locales). Prints each category with its cookies and hosts and every language, "
        "or the error (file, key, value) and exits with status 1. With only --locales, checks the "
        "packs alone, as the middleware would at start-up. Warns (exit 0; 1 with --strict) when the "
        "cookie database puts a declared cookie in a stricter category.",
    )
    check.add_argument("file", metavar="FILE", nargs="?", help="the policy file (TOML)")
    check.add_argument(
        "--locales",
        metavar="DIR",
        type=Path,
        help="a folder of language packs (xx.json, xx-YY.json) to check; overrides the policy's",
    )
    check.add_argument(
        "--django-settings",
        metavar="MODULE",
        help="a Django settings module (dotted name, importable from the current directory): warn "
        "when the policy blocks a cookie Django itself sets (session, CSRF, language, messages)",
    )
    check.add_argument("--strict", action="store_true", help="exit with status 1 when there are warnings")
    check.set_defaults(func=_check)
