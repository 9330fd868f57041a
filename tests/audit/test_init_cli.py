"""``consentgate init URL`` against a live local site in Chromium (issue 14, point 4): server and
script cookies, a first-party ``sessionid``, a name nobody knows, a third-party host and web
storage keys (issue 19) end up where they belong in a commented policy that passes
``consentgate check``; an existing file is never replaced without ``--force``."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from sites import ANALYTICS_HOST, Trackers, serve, unpoliced_site

from consentgate import Policy


def init(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "consentgate", "init", "--timeout", "10", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.mark.e2e
def test_init_drafts_a_commented_policy_that_passes_check(third: Trackers, tmp_path: Path) -> None:
    output = tmp_path / "consent.toml"
    with serve(unpoliced_site(third)) as url:
        done = init(f"{url}/", "--crawl", "1", "--output", str(output))
        assert done.returncode == 0, done.stdout + done.stderr
        text = output.read_text()
        again = init(f"{url}/", "--output", str(output))
        assert again.returncode == 2 and "exists" in again.stderr and "--force" in again.stderr
        assert output.read_text() == text  # never overwritten without --force
        forced = init(f"{url}/", "--output", str(output), "--force", "--quiet")
        assert forced.returncode == 0 and forced.stderr == ""
    policy = Policy.from_toml(text, source=str(output))
    # Known cookies in their suggested category, platform and description as a comment.
    assert policy.category_of_cookie("_ga") == "analytics"
    assert policy.category_of_cookie("_ga_OTHER1") == "analytics"  # the family, not one ID
    assert policy.category_of_cookie("_hjSessionUser_99") == "essential"  # Hotjar: "Functional"
    assert '"_ga",  # Google Analytics, 2 years, set by a script on /: ID used to identify users' in text
    assert "(seen as _ga_K3X9Q2)" in text
    # What could not be placed is blocked until someone decides: commented out, with why.
    for name in ("sessionid", "csrftoken", "zz_mystery"):
        assert policy.category_of_cookie(name) is None, name
    decide = text.split("# -- to decide")[1]
    assert '#   "sessionid",  # set by the server on /; name matches Instagram (third-party)' in decide
    assert '#   "csrftoken",  # set by the server on /; not in the cookie database' in decide
    assert '#   "zz_mystery",  # set by a script on /' in decide
    assert f'#   "{ANALYTICS_HOST}",  # image from /' in decide  # a host the database does not know
    # Web storage too (issue 19): a key the database knows is placed, the rest is to decide.
    assert policy.category_of_storage("AMP_anything") == "analytics"
    assert "(seen as AMP_5f3b2a91)" in text
    assert '#   "zz_scroll",  # sessionStorage on /; not in the cookie database' in decide
    assert policy.unknown_storage == "report"
    assert tomllib.loads(text)["unknown_cookies"] == "block"
    assert "2 page(s) visited" in text and "/, /about" in text
    summary = done.stdout
    assert "analytics" in summary and "_ga" in summary and "to decide" in summary and "sessionid" in summary
    assert "init: opening" in done.stderr  # the audit's progress display
    checked = subprocess.run(
        [sys.executable, "-m", "consentgate", "check", "--strict", str(output)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_init_refuses_before_visiting_anything(tmp_path: Path) -> None:
    existing = tmp_path / "consent.toml"
    existing.write_text("revision = 1\n")
    done = init("http://127.0.0.1:9/", "--output", str(existing))
    assert done.returncode == 2 and "exists" in done.stderr
    done = init("http://127.0.0.1:9/", "--output", str(tmp_path / "no" / "such" / "dir.toml"))
    assert done.returncode == 2 and "does not exist" in done.stderr
    done = init("ftp://example.org/", "--output", str(tmp_path / "x.toml"))
    assert done.returncode == 2 and "http://" in done.stderr
