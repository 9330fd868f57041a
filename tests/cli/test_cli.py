"""`consentgate check` and the command line's help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from coreapp import POLICY_TOML

from consentgate.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def test_check_prints_categories_cookies_and_hosts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "consent.toml"
    path.write_text(POLICY_TOML)
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "[analytics]" in out
    assert "_ga, _ga_*, _pk_id.*" in out
    assert "www.google-analytics.com" in out
    assert "tenant lincoln-high: students also denied personalization" in out
    assert out.rstrip().endswith("OK")


def test_check_invalid_file_exits_1_with_the_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("revision = 1\nconsent_max_age_days = 999\n")
    result = subprocess.run(
        [sys.executable, "-m", "consentgate", "check", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert f"{path}: consent_max_age_days: 999 is out of range" in result.stderr


def test_check_missing_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "nope.toml")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_every_subcommand_has_help_for_every_option() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert "check" in subparsers.choices  # type: ignore[operator]
    for name, sub in subparsers.choices.items():  # type: ignore[union-attr]
        assert sub.description or sub.format_help(), name
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, f"consentgate {name}: option {action.dest} has no help text"


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).with_name("consentgate")
    result = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "check" in result.stdout
