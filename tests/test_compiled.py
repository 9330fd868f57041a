"""The request path exists in two builds: pure Python (every plain install) and compiled with mypyc
(scripts/build-compiled). scripts/test runs the core tests against both; this checks which one a run
is testing, so a compiled run cannot silently fall back to the pure-Python modules."""

from __future__ import annotations

import importlib
import os

COMPILED_MODULES = (
    "consentgate.middleware",
    "consentgate.enforce.visitors",
    "consentgate.enforce.cookie_filter",
    "consentgate.enforce.memo",
    "consentgate.enforce.consent",
    "consentgate.enforce.students",
    "consentgate.enforce.cookie_headers",
)


def test_the_build_under_test_is_the_one_expected() -> None:
    compiled = os.environ.get("CONSENTGATE_EXPECT_COMPILED") == "1"
    for name in COMPILED_MODULES:
        path = importlib.import_module(name).__file__ or ""
        assert path.endswith(".so") == compiled, (name, path)
