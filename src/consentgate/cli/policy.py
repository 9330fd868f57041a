"""``consentgate check``: validate a policy file and the site's language packs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    if policy is not None and args.django_settings:
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
        help="validate a policy file and/or a folder of language packs",
        description="Validate a TOML policy file and the language packs it uses (its `locales` "
        "folder, or --locales). Prints each category with its cookies and hosts and every language, "
        "or the error (file, key, value) and exits with status 1. With only --locales, checks the "
        "packs alone, as the middleware would at start-up.",
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
    check.set_defaults(func=_check)
