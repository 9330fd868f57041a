"""``consentgate check`` warns where the cookie database puts a declared cookie in a stricter
category (issue 14, point 5): exit 0, or 1 with --strict."""

from __future__ import annotations

from pathlib import Path

import pytest

from consentgate import Policy
from consentgate.cli import main
from consentgate.cookies.checks import check_policy

MISPLACED = """
revision = 1
[categories.essential]
cookies = ["csrftoken", "_fbp", { name = "sessionid", provider = "Lincoln High" }, "token"]
[categories.personalization]
cookies = ["lang"]
[categories.analytics]
cookies = ["_ga", "_ga_*", "_gcl_au"]
"""


def test_a_cookie_declared_below_its_database_category_is_warned_about() -> None:
    warnings = check_policy(Policy.from_toml(MISPLACED, source="consent.toml"))
    assert [(w.key, w.name, w.declared, w.suggestion.category) for w in warnings] == [
        ("categories.essential.cookies[1]", "_fbp", "essential", "marketing"),
        ("categories.analytics.cookies[2]", "_gcl_au", "analytics", "marketing"),
    ]
    message = warnings[0].message
    assert "_fbp is declared essential" in message and "as marketing (Facebook" in message
    assert "[categories.marketing]" in message and 'provider = "..."' in message


def test_what_is_not_warned_about() -> None:
    warnings = {w.name for w in check_policy(Policy.from_toml(MISPLACED))}
    assert "sessionid" not in warnings  # the policy says whose it is (not Instagram's)
    assert "token" not in warnings  # one alternative (Xandr, functional) agrees with essential
    assert "lang" not in warnings  # stricter in the policy than in the database: fine
    assert "csrftoken" not in warnings  # unknown to the database
    assert not {"_ga", "_ga_*"} & warnings  # where the database puts them


def test_a_provider_naming_the_databases_platform_does_not_silence_the_warning() -> None:
    policy = Policy.from_toml(
        'revision = 1\n[categories.essential]\ncookies = [{ name = "_fbp", provider = "Facebook" }]'
    )
    assert [w.name for w in check_policy(policy)] == ["_fbp"]


def test_check_command_prints_warnings_exit_0_and_1_with_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "consent.toml"
    path.write_text(MISPLACED)
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr()
    assert out.out.rstrip().endswith("2 warning(s) (--strict makes them an error)\nOK")
    assert out.err.count("warning: ") == 2
    assert "warning: categories.essential.cookies[1]: _fbp is declared essential" in out.err
    assert main(["check", "--strict", str(path)]) == 1
    assert capsys.readouterr().out.rstrip().endswith("2 warning(s)\nFAILED: warnings under --strict")
    clean = tmp_path / "clean.toml"
    clean.write_text('revision = 1\n[categories.marketing]\ncookies = ["_fbp"]\n')
    assert main(["check", "--strict", str(clean)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("OK")
