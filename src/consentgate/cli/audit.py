"""``consentgate audit URL --policy consent.toml``: check a running site in a real browser.

Exit status: 0 clean, 1 violations (or a scenario that could not be completed), 2 a usage or
connection problem, with a message saying what to fix.
"""

from __future__ import annotations

import argparse
import sys

from consentgate.enforce.policy import Policy, PolicyError

__all__ = ["EXIT_CLEAN", "EXIT_ERROR", "EXIT_VIOLATIONS", "register"]

EXIT_CLEAN = 0
EXIT_VIOLATIONS = 1
EXIT_ERROR = 2


def _fail(message: str) -> int:
    print(f"consentgate audit: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _student_cookie(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise ValueError(f"--student-cookie must look like NAME=VALUE, got {text!r}")
    return name.strip(), value


def _run(args: argparse.Namespace) -> int:
    from consentgate.audit.auditor import run_audit
    from consentgate.audit.report import ProgressDisplay, render_json, render_text
    from consentgate.audit.scenarios import AuditError, AuditOptions

    try:
        policy = Policy.from_file(args.policy)
    except PolicyError as exc:
        return _fail(f"invalid policy: {exc}")
    choice = None
    if args.choice is not None:
        choice = frozenset(c.strip() for c in args.choice.split(",") if c.strip())
    try:
        options = AuditOptions(
            url=args.url,
            policy=policy,
            crawl=args.crawl,
            choice=choice,
            student_login=args.student_login,
            student_cookie=_student_cookie(args.student_cookie),
            accept_selector=args.accept_selector,
            deny_selector=args.deny_selector,
            timeout=args.timeout,
            chromium=args.chromium,
            delay=args.delay,
        )
    except (AuditError, ValueError) as exc:
        return _fail(str(exc))
    progress = ProgressDisplay(sys.stderr, enabled=not args.quiet)
    try:
        result = run_audit(options, progress)
    except AuditError as exc:
        progress.done()
        return _fail(str(exc))
    progress.done()
    sys.stdout.write(render_json(result) if args.json else render_text(result))
    return EXIT_CLEAN if result.clean else EXIT_VIOLATIONS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = subparsers.add_parser(
        "audit",
        help="check a running site against a policy in a real browser",
        description="Visit URL in Chromium (through Playwright) in several scenarios - first visit, "
        "Deny All, Accept All, a partial choice, Global Privacy Control, a student session - and "
        "report every cookie and third-party request that breaks the policy, with the requirement "
        "it breaks. Exit status: 0 clean, 1 violations, 2 usage or connection error.",
    )
    audit.add_argument("url", metavar="URL", help="the start page, e.g. http://127.0.0.1:8000/")
    audit.add_argument("--policy", required=True, metavar="FILE", help="the site's policy file (TOML)")
    audit.add_argument(
        "--crawl",
        type=int,
        default=0,
        metavar="N",
        help="also visit up to N same-origin pages linked from the start page, per scenario (default: 0)",
    )
    audit.add_argument(
        "--choice",
        metavar="CAT,CAT",
        help="add a partial-choice scenario that allows only these categories (e.g. analytics)",
    )
    audit.add_argument(
        "--student-login",
        metavar="URL",
        help="a page (absolute or relative to URL) that makes the browser a student session; "
        "adds a student scenario",
    )
    audit.add_argument(
        "--student-cookie",
        metavar="NAME=VALUE",
        help="a cookie that makes the browser a student session; adds a student scenario",
    )
    audit.add_argument(
        "--accept-selector", metavar="CSS", help="the Accept All button of a banner other than consentgate's"
    )
    audit.add_argument(
        "--deny-selector", metavar="CSS", help="the Deny All button of a banner other than consentgate's"
    )
    audit.add_argument("--json", action="store_true", help="print a machine-readable JSON report")
    audit.add_argument(
        "--timeout",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="how long to wait for a page or a banner control (default: 15)",
    )
    audit.add_argument(
        "--delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="pause between page visits, to go easy on the site (default: 0)",
    )
    audit.add_argument(
        "--chromium",
        metavar="PATH",
        help="the Chromium binary (default: $CONSENTGATE_CHROMIUM, else a system Chromium, "
        "else Playwright's own)",
    )
    audit.add_argument("--quiet", action="store_true", help="no progress display on stderr")
    audit.set_defaults(func=_run)
