"""The built wheel is complete: package code, static assets, templates, schema, typing marker, and
the cookie database with its licence and attribution."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_ships_static_templates_schema_and_py_typed(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = tmp_path.glob("consentgate-*.whl")
    # A plain build is pure Python: the compiled request path is opt-in (scripts/build-compiled).
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not any(name.endswith((".so", ".pyd", ".c")) for name in names)
    for source_dir, packaged in (("static", "consentgate/static"), ("templates", "consentgate/templates")):
        expected = {
            f"{packaged}/{path.relative_to(ROOT / source_dir).as_posix()}"
            for path in (ROOT / source_dir).rglob("*")
            if path.is_file()
        }
        assert expected, f"{source_dir}/ is empty"
        assert expected <= names, sorted(expected - names)
    for required in (
        "consentgate/__init__.py",
        "consentgate/middleware.py",
        "consentgate/i18n/locales/en.json",
        "consentgate/enforce/policy.schema.json",
        "consentgate/py.typed",
        "consentgate/cookies/data/open-cookie-database.csv",
        "consentgate/cookies/data/LICENSE",
        "consentgate/cookies/data/NOTICE",
    ):
        assert required in names
    # The Open Cookie Database ships whole, with the Apache-2.0 text and the attribution.
    archive = zipfile.ZipFile(wheel)
    data = archive.read("consentgate/cookies/data/open-cookie-database.csv")
    assert data == (ROOT / "src/consentgate/cookies/data/open-cookie-database.csv").read_bytes()
    assert data.count(b"\n") > 2264
    assert b"Apache License" in archive.read("consentgate/cookies/data/LICENSE")
    notice = archive.read("consentgate/cookies/data/NOTICE").decode()
    assert "Open Cookie Database" in notice and "Apache License, Version 2.0" in notice
    assert not any(name.startswith(("tests/", "benchmarks/")) for name in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    for dependency in ("starlette", "itsdangerous", "jinja2", "user-agents", "geoip2"):
        assert f"Requires-Dist: {dependency}" in text
