"""``consentgate cookies lookup | undeclared``: what the cookie database knows of a name, and what
live discovery found on real traffic.

``lookup`` never needs a store; ``undeclared`` reads the privacy log like the log commands (exit 2
for a missing or unreachable store).
"""

from __future__ import annotations

import argparse
import json
import sys

from consentgate.cli.log import _guard, _open, _store_option
from consentgate.cookies.suggestions import Suggestion, suggest
from consentgate.cookies.undeclared import Reviewed, review, snippets
from consentgate.enforce.policy import Policy

__all__ = ["register"]

WHERE = {"set-cookie": "Set-Cookie from the app", "cookie": "sent back by the browser"}


def _lookup(args: argparse.Namespace) -> int:
    found = [suggest(name, set_by=args.set_by, site=args.site) for name in args.names]
    if args.json:
        json.dump([s.as_dict() for s in found], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    for item in found:
        sys.stdout.write(_describe(item))
    return 0


def _describe(item: Suggestion) -> str:
    if not item.known:
        return f"{item.name}: unknown (not in the cookie database)\n"
    head = f"{item.name}: {item.category or 'no category'}"
    if item.matched != item.name:
        head += f" (matches {item.matched})"
    lines = [head]
    if item.note:
        lines.append(f"  {item.note}; decide yourself where it belongs")
    for entry in item.entries:
        where = f", {entry.domain}" if entry.domain else ""
        lines.append(f"  {entry.platform or 'unknown platform'} ({entry.source_category}{where})")
        if entry.description:
            lines.append(f"    {entry.description}")
        if entry.retention:
            lines.append(f"    retention: {entry.retention}")
    return "\n".join(lines) + "\n"


def _policy(args: argparse.Namespace) -> Policy:
    if args.policy:
        return Policy.from_file(args.policy)
    return Policy.from_toml("revision = 1", source="<no policy given>")


@_guard
def _undeclared(args: argparse.Namespace) -> int:
    policy = _policy(args)
    with _open(args) as store:
        entries = store.undeclared_cookies()
    reviewed = review(entries, policy, site=args.site)
    if args.json:
        json.dump([r.as_dict() for r in reviewed], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    sys.stdout.write(render_undeclared(reviewed, policy))
    return 0


def render_undeclared(reviewed: list[Reviewed], policy: Policy) -> str:
    """The text report: a table of what was seen, then the policy snippets."""
    if not reviewed:
        return "no undeclared cookies seen (every cookie name on the traffic is in the policy)\n"
    rows = [["name", "where seen", "count", "first seen", "last seen", "example", "suggestion"]]
    for item in reviewed:
        entry = item.entry
        rows.append(
            [
                entry.name,
                WHERE.get(entry.direction, entry.direction),
                str(entry.count),
                entry.first_seen,
                entry.last_seen,
                entry.example_path,
                _short(item.suggestion),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [f"{len(reviewed)} undeclared cookie name(s) seen on real traffic:"]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]))
    lines.append("")
    lines.append(f"Suggested additions to {policy.source} (check each before you paste it):")
    for text in snippets(reviewed, policy).values():
        lines.append("")
        lines.append(text)
    return "\n".join(lines) + "\n"


def _short(item: Suggestion) -> str:
    if not item.known:
        return "unknown"
    if item.note:
        return item.note
    return f"{item.category} ({item.platform})"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cookies = subparsers.add_parser(
        "cookies",
        help="what a cookie name is (cookie database) and which undeclared cookies real traffic carries",
        description="Look cookie names up in the shipped Open Cookie Database, or list the cookie "
        "names the middleware saw on real traffic that the policy does not name.",
    )
    sub = cookies.add_subparsers(
        dest="cookies_command", metavar="SUBCOMMAND", required=True, help="lookup or undeclared"
    )

    lookup = sub.add_parser(
        "lookup",
        help="platform, suggested category, description and retention of cookie names",
        description="Print, for each name, the platform(s), the suggested consentgate category, "
        "the description and the retention, or 'unknown'. A match is a suggestion, not a verdict.",
    )
    lookup.add_argument("names", nargs="+", metavar="NAME", help="cookie (or web-storage key) names")
    lookup.add_argument("--json", action="store_true", help="print a JSON list instead of text")
    lookup.add_argument(
        "--set-by",
        choices=("server", "script"),
        help="who sets the cookie on your site: 'server' applies the third-party rule (a name that "
        "only matches another platform's third-party cookie is not placed in a category)",
    )
    lookup.add_argument("--site", metavar="HOST", help="your site's host name (its own platform's cookies)")
    lookup.set_defaults(func=_lookup)

    undeclared = sub.add_parser(
        "undeclared",
        help="cookie names seen on real traffic that the policy does not name",
        description="List what live discovery stored in the privacy log: name, where it was seen, "
        "how often, first and last seen, an example path and the suggestion, then policy snippets "
        "per category. Names only: the log never holds a cookie's value.",
    )
    _store_option(undeclared)
    undeclared.add_argument(
        "--policy", metavar="FILE", help="the policy in force: names it declares by now are left out"
    )
    undeclared.add_argument(
        "--site", metavar="HOST", help="your site's host name (its own platform's cookies)"
    )
    undeclared.add_argument("--json", action="store_true", help="print a JSON list instead of text")
    undeclared.set_defaults(func=_undeclared)
