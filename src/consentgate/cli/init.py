"""``consentgate init URL``: draft a policy from what a running site does with everything allowed.

Exit status: 0 the file was written, 2 a usage or connection problem (the message says what to
fix; an existing file is never replaced without ``--force``).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from consentgate.cookies.draft import Draft, FoundCookie, FoundHost, FoundStorage, draft_policy
from consentgate.enforce.policy import Policy, PolicyError

__all__ = ["register"]

EXIT_WRITTEN = 0
EXIT_ERROR = 2


def _fail(message: str) -> int:
    print(f"consentgate init: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _run(args: argparse.Namespace) -> int:
    from consentgate.audit.inventory import take_inventory
    from consentgate.audit.report import ProgressDisplay
    from consentgate.audit.scenarios import AuditError

    output = Path(args.output)
    if output.exists() and not args.force:
        return _fail(f"{output} exists; give another --output, or --force to replace it")
    if not output.parent.is_dir():
        return _fail(f"cannot write {output}: the directory {output.parent} does not exist")
    progress = ProgressDisplay(sys.stderr, enabled=not args.quiet, label="init")
    try:
        found = take_inventory(
            args.url,
            crawl=args.crawl,
            timeout=args.timeout,
            chromium=args.chromium,
            delay=args.delay,
            accept_selector=args.accept_selector,
            progress=progress,
        )
    except AuditError as exc:
        progress.done()
        return _fail(str(exc))
    progress.done()
    draft = draft_policy(
        args.url,
        found.host,
        found.pages,
        [FoundCookie(c.name, c.set_by, c.page, c.domain) for c in found.cookies],
        [FoundHost(r.host, r.page, r.resource_type) for r in found.requests],
        [FoundStorage(s.name, s.kind, s.page) for s in found.storage],
        now=datetime.now(UTC),
    )
    try:
        Policy.from_toml(draft.text, source=str(output))
    except PolicyError as exc:  # pragma: no cover - the draft is built to be valid
        return _fail(f"the drafted policy is not valid ({exc}); please report this")
    try:
        with open(output, "w" if args.force else "x", encoding="utf-8") as handle:
            handle.write(draft.text)
    except FileExistsError:
        return _fail(f"{output} exists; give another --output, or --force to replace it")
    except OSError as exc:
        return _fail(f"cannot write {output}: {exc.strerror}")
    print(_summary(output, found.pages, found.banner, draft))
    return EXIT_WRITTEN


def _summary(output: Path, pages: list[str], banner: str | None, draft: Draft) -> str:
    accepted = {"consentgate": "consentgate's banner accepted", "other": "the banner's Accept all clicked"}
    lines = [
        f"wrote {output}: {len(pages)} page(s) visited; {accepted.get(banner or '', 'no banner found')}",
    ]
    for category, names in draft.placed.items():
        lines.append(f"  {category:<16} cookies: {', '.join(names)}")
    for category, hosts in draft.hosts.items():
        lines.append(f"  {category:<16} hosts:   {', '.join(hosts)}")
    for category, keys in draft.storage.items():
        lines.append(f"  {category:<16} storage: {', '.join(keys)}")
    undecided = draft.undecided + draft.undecided_hosts + draft.undecided_storage
    if undecided:
        lines.append(f"  to decide (blocked until you do): {', '.join(undecided)}")
    lines.append(f"next: review {output}, then `consentgate check {output}`")
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = subparsers.add_parser(
        "init",
        help="draft a policy from what a running site does, visited in a real browser",
        description="Visit URL in Chromium with everything allowed (accepting a consent banner if "
        "there is one), collect the cookies set by the server and by scripts and the third-party "
        "hosts requested, and write a commented starter policy: known cookies in their suggested "
        "category, the rest in a commented 'to decide' block. Never replaces a file without --force.",
    )
    init.add_argument("url", metavar="URL", help="the start page, e.g. http://127.0.0.1:8000/")
    init.add_argument(
        "--crawl",
        type=int,
        default=0,
        metavar="N",
        help="also visit up to N same-origin pages linked from the start page (default: 0)",
    )
    init.add_argument(
        "--output", "-o", default="consent.toml", metavar="FILE", help="file to write (default: consent.toml)"
    )
    init.add_argument("--force", action="store_true", help="replace FILE if it exists")
    init.add_argument(
        "--accept-selector", metavar="CSS", help="the Accept all button of a banner other than consentgate's"
    )
    init.add_argument(
        "--timeout", type=float, default=15.0, metavar="SECONDS", help="page and banner wait (default: 15)"
    )
    init.add_argument(
        "--delay", type=float, default=0.0, metavar="SECONDS", help="pause between pages (default: 0)"
    )
    init.add_argument("--chromium", metavar="PATH", help="the Chromium binary (as for `consentgate audit`)")
    init.add_argument("--quiet", action="store_true", help="no progress display on stderr")
    init.set_defaults(func=_run)
