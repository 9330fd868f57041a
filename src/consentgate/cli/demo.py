"""``consentgate demo``: a small school site on 127.0.0.1 with the middleware, the banner and the log."""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["register"]

TOKEN_ENV = "CONSENTGATE_DASHBOARD_TOKEN"  # noqa: S105 - a variable name, not a secret


def _describe_store(target: str) -> str:
    if target.startswith(("postgresql://", "postgres://")):
        return "PostgreSQL (from the URL given)"
    path = target.removeprefix("sqlite:///")
    return f"{os.path.abspath(path)} (SQLite)"


def _run(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ModuleNotFoundError:
        print("consentgate demo needs an ASGI server: pip install 'consentgate[demo]'", file=sys.stderr)
        return 2
    from consentgate.dashboard.app import MIN_TOKEN_LENGTH
    from consentgate.demo.app import create_demo_app
    from consentgate.log.stores.base import StoreError

    token = args.dashboard_token or os.environ.get(TOKEN_ENV) or None
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        print(
            f"consentgate demo: the dashboard token must be at least {MIN_TOKEN_LENGTH} characters",
            file=sys.stderr,
        )
        return 2
    try:
        app = create_demo_app(store=args.store, dashboard_token=token)
    except StoreError as exc:
        print(f"consentgate demo: cannot open the privacy log: {exc}", file=sys.stderr)
        return 1
    settings = app.state.demo
    base = f"http://{args.host}:{args.port}"
    print(
        f"""consentgate demo: a school site behind consentgate, served from this machine only.

  Site            {base}/
  Dashboard       {base}/dashboard/?token={settings.dashboard_token}
  Privacy log     {_describe_store(args.store)}

What to try
  1. Open the site: the banner asks first; nothing optional runs until you choose.
  2. Open the cookie lab ({base}/cookies) with the browser's developer tools (Application > Cookies)
     and change your mind with "Privacy preferences" at the bottom of the page.
  3. Sign in as a student ({base}/sign-in) and click "Accept all": marketing stays off.
  4. "My data" ({base}/_consent/my-data) shows what was recorded about you; "Forget me" deletes it.
  5. The dashboard link above shows decisions, opt-in rates and the policy in force.
  6. Switch language at the bottom of any page (en, es, fr, ar, ja, zh).

Ctrl-C stops the demo (the privacy log is flushed first).""",
        flush=True,
    )
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}: other machines may reach the demo", file=sys.stderr)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, lifespan="on")
    finally:
        settings.store.close()
    print("consentgate demo stopped; the privacy log is saved.", flush=True)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run the demo school site on 127.0.0.1",
        description="Start a small demo school site with the consent middleware, the banner, the privacy "
        "log (SQLite by default) and the privacy-team dashboard. It prints the address, the dashboard "
        "URL with its token and what to try. Nothing is downloaded at run time. Ctrl-C stops it and "
        "flushes the log.",
    )
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    demo.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    demo.add_argument(
        "--store",
        default="consentgate-demo.sqlite3",
        metavar="PATH_OR_URL",
        help="privacy log: a SQLite file path (created if missing) or a postgresql:// URL "
        "(default: ./consentgate-demo.sqlite3)",
    )
    demo.add_argument(
        "--dashboard-token",
        default=None,
        metavar="TOKEN",
        help=f"token that opens the dashboard, at least 32 characters (default: ${TOKEN_ENV}, "
        "else a random one printed at start)",
    )
    demo.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="server log level (default: warning)",
    )
    demo.set_defaults(func=_run)
