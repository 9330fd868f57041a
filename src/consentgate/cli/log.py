"""``consentgate export | forget | purge | stats``: the operator's side of the privacy log (R-VIS-3).

Every command takes ``--store`` (a SQLite file path or a ``postgresql://`` URL; default
``./consentgate.sqlite3``) and never creates a store: a mistyped path is an error. Exit status 0 on
success, 1 when the command could not do its work, 2 for a missing or unreachable store.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from consentgate.enforce.policy import Policy, PolicyError, Retention
from consentgate.log.spool import Spool
from consentgate.log.stores.base import Store, StoreError, StoreUnavailable
from consentgate.log.stores.factory import open_store
from consentgate.log.stores.results import StoreStats

__all__ = ["DEFAULT_STORE", "register"]

DEFAULT_STORE = "consentgate.sqlite3"


def _open(args: argparse.Namespace) -> Store:
    store = open_store(args.store, create=False)
    store.ping()  # unreachable or not a privacy log: say so now, not halfway through
    return store


def _spool_for(args: argparse.Namespace, store: Store) -> Spool | None:
    if args.spool:
        return Spool(args.spool)
    from consentgate.log.privacy_log import default_spool_path

    path = default_spool_path(store)
    return Spool(path) if path.exists() else None


def _guard(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn store and policy errors into one clear line on stderr and an exit status."""

    def wrapped(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except StoreUnavailable as exc:
            print(f"consentgate {args.command}: store unreachable: {exc}", file=sys.stderr)
            return 2
        except StoreError as exc:
            print(f"consentgate {args.command}: {exc}", file=sys.stderr)
            return 2
        except PolicyError as exc:
            print(f"consentgate {args.command}: invalid policy: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"consentgate {args.command}: {exc}", file=sys.stderr)
            return 1

    return wrapped


def _selector(args: argparse.Namespace) -> dict[str, str]:
    return {"consent_id": args.consent_id} if args.consent_id else {"tenant": args.tenant}


@_guard
def _export(args: argparse.Namespace) -> int:
    with _open(args) as store:
        selector = _selector(args)
        receipts = store.receipts(**selector)
        visits = store.visits(**selector)
    document = {
        "exported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **selector,
        "receipts": [r.to_iso27560(controller=args.controller) for r in receipts],
        "visits": visits,
    }
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if args.output and args.output != "-":
        Path(args.output).write_text(text, encoding="utf-8")
        print(
            f"exported {len(receipts)} receipt(s) and {len(visits)} visit record(s) to {args.output}",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    return 0


@_guard
def _forget(args: argparse.Namespace) -> int:
    with _open(args) as store:
        selector = _selector(args)
        spool = _spool_for(args, store)
        spooled = spool.remove(**selector) if spool is not None else 0
        deleted = store.forget(**selector)
    what = f"consent id {args.consent_id}" if args.consent_id else f"tenant {args.tenant}"
    extra = f" (and {spooled} spooled receipt(s))" if spooled else ""
    print(f"deleted {deleted.receipts} receipt(s) and {deleted.visits} visit record(s) of {what}{extra}")
    return 0


def _retention(args: argparse.Namespace) -> tuple[Retention, str]:
    if args.policy:
        return Policy.from_file(args.policy).retention, f"policy {args.policy}"
    return Retention(), "default retention (no --policy given)"


@_guard
def _purge(args: argparse.Namespace) -> int:
    retention, source = _retention(args)
    with _open(args) as store:
        deleted = store.purge(retention)
    print(
        f"purged {deleted.receipts} receipt(s) older than {retention.receipts_days} days and "
        f"{deleted.visits} visit record(s) older than {retention.visits_days} days ({source})"
    )
    return 0


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def print_stats_table(stats: StoreStats, out: TextIO) -> None:
    """Per day: decisions, GPC and student decisions, and the opt-in rate of each category."""
    categories = list(stats.categories)
    headers = ["day", "decisions", "gpc", "students", *categories]
    rows = [
        [
            day.day,
            str(day.decisions),
            str(day.gpc),
            str(day.students),
            *[_percent(day.categories[c].opt_in_rate) if c in day.categories else "-" for c in categories],
        ]
        for day in stats.days
    ]
    rows.append(
        [
            "total",
            str(stats.decisions),
            f"{stats.gpc_decisions} ({_percent(stats.gpc_share)})",
            f"{stats.student_decisions} ({_percent(stats.student_share)})",
            *[_percent(stats.categories[c].opt_in_rate) for c in categories],
        ]
    )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )

    since = f" since {stats.since}" if stats.since else ""
    out.write(f"{stats.receipts} receipt(s), {stats.visits} visit record(s) stored{since}\n")
    if categories:
        out.write("opt-in rate per category = share of decisions that allowed it\n")
    out.write(line(headers) + "\n")
    out.write(line(["-" * w for w in widths]) + "\n")
    for row in rows:
        out.write(line(row) + "\n")


@_guard
def _stats(args: argparse.Namespace) -> int:
    with _open(args) as store:
        stats = store.stats(days=args.days)
    if args.json:
        json.dump(stats.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_stats_table(stats, sys.stdout)
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of days, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1 day, got {value}")
    return value


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        default=DEFAULT_STORE,
        metavar="URL_OR_PATH",
        help=f"the privacy log: a SQLite file or a postgresql:// URL (default: ./{DEFAULT_STORE})",
    )


def _who(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--consent-id", metavar="ID", help="one visitor's consent id")
    group.add_argument("--tenant", metavar="TENANT", help="every record of one school (tenant)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = subparsers.add_parser(
        "export",
        help="export the records of a consent id or tenant as JSON",
        description="Print (or write) every receipt, in the ISO/IEC TS 27560 record shape, and every "
        "visit record of one consent id or one tenant.",
    )
    _who(export)
    _store_option(export)
    export.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of standard output")
    export.add_argument("--controller", metavar="NAME", help="the controller's name for the export")
    export.set_defaults(func=_export)

    forget = subparsers.add_parser(
        "forget",
        help="delete every record of a consent id or tenant",
        description="Delete every receipt and visit record of one consent id, or of one tenant "
        "(a school leaving). Receipts waiting in the spool file are removed too.",
    )
    _who(forget)
    _store_option(forget)
    forget.add_argument(
        "--spool", metavar="FILE", help="the receipt spool (default: next to the SQLite file)"
    )
    forget.set_defaults(func=_forget)

    purge = subparsers.add_parser(
        "purge",
        help="delete records older than the retention periods",
        description="Delete visit records and receipts older than the policy's [retention] periods "
        "(defaults: visits 30 days, receipts 400 days). The running app also does this hourly.",
    )
    _store_option(purge)
    purge.add_argument("--policy", metavar="FILE", help="the policy whose [retention] applies")
    purge.set_defaults(func=_purge)

    stats = subparsers.add_parser(
        "stats",
        help="decisions and opt-in rates per day and category",
        description="Show decisions per day with GPC and student decisions and each category's "
        "opt-in rate, as a table or (--json) for machines. Counts only: nothing per visitor.",
    )
    _store_option(stats)
    stats.add_argument("--days", type=_positive, default=30, help="how many days back (default: 30)")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.set_defaults(func=_stats)
