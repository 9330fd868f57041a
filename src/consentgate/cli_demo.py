"""``consentgate demo``: a small school site on 127.0.0.1 with the middleware in front."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ModuleNotFoundError:
        print("consentgate demo needs an ASGI server: pip install 'consentgate[demo]'", file=sys.stderr)
        return 2
    from .demo.app import create_demo_app

    app = create_demo_app(store=args.store)
    print(f"consentgate demo: http://{args.host}:{args.port}/  (Ctrl-C stops it)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", lifespan="on")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run the demo school site on 127.0.0.1",
        description="Start a small demo school site with the consent middleware and banner, "
        "on the embedded SQLite privacy log. Nothing is downloaded at run time.",
    )
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    demo.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    demo.add_argument(
        "--store",
        default="consentgate-demo.sqlite3",
        help="privacy log: a SQLite file path or a postgresql:// URL (default: ./consentgate-demo.sqlite3)",
    )
    demo.set_defaults(func=_run)
