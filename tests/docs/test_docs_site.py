"""The documentation site builds with ``mkdocs build --strict`` (no broken link, no page left out of the
navigation), its generated references cover the code they describe, and the README stays a short front
door that links every page."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
from html import unescape
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

import consentgate
from consentgate.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _docs_site() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_site", ROOT / "scripts" / "docs_site.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


docs_site = _docs_site()


def nav_pages() -> list[str]:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)

    walk(config["nav"])
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built as CI builds it: strict, from the repository root."""
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    return out


def page_text(site: Path, page: str) -> str:
    html = (site / page.removesuffix(".md") / "index.html").read_text(encoding="utf-8")
    return unescape(html)


@pytest.mark.slow
def test_site_builds_strict_with_every_page(site: Path) -> None:
    for page in nav_pages():
        built = site / ("index.html" if page == "index.md" else page.removesuffix(".md") + "/index.html")
        assert built.is_file(), page
    assert (site / "images" / "banner.png").is_file()


@pytest.mark.slow
def test_policy_reference_page_lists_every_key_of_the_schema(site: Path) -> None:
    text = page_text(site, "privacy-teams/policy-file.md")
    assert "<!-- generated" not in text
    for entry in docs_site.policy_keys():
        key = entry.rsplit(": ", 1)[1]
        assert f"<code>{key}</code>" in text, entry


@pytest.mark.slow
def test_cli_reference_page_lists_every_command_and_option(site: Path) -> None:
    text = page_text(site, "reference/cli.md")
    for command, parser in commands(build_parser()):
        assert f"<code>{command}</code>" in text, command
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert option in text, f"{command} {option}"


@pytest.mark.slow
def test_python_api_page_documents_every_public_name(site: Path) -> None:
    text = page_text(site, "reference/python-api.md")
    for name in [*consentgate.__all__, "audit.pytest_plugin.assert_cookies_allowed", "audit.pytest_plugin.click_through_banner"]:
        assert f'id="consentgate.{name}"' in text, name
    assert ":class:" not in text and ":meth:" not in text  # Sphinx roles became Markdown


def commands(parser: argparse.ArgumentParser, prefix: str = "consentgate") -> list[tuple[str, argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((f"{prefix} {name}", sub))
                found.extend(commands(sub, f"{prefix} {name}"))
    return found


def schema_property_names(node: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.get("properties", {}).items():
            names.add(key)
            names |= schema_property_names(value)
        for key, value in node.items():
            if key != "properties":
                names |= schema_property_names(value)
    elif isinstance(node, list):
        for item in node:
            names |= schema_property_names(item)
    return names


def test_every_policy_key_has_a_description() -> None:
    """The reference is generated from the schema: a key without a description would be a blank row."""
    missing = docs_site.undescribed_keys()
    assert not missing, f"add a description to these keys in src/consentgate/enforce/policy.schema.json: {missing}"


def test_generated_policy_reference_reaches_every_property_of_the_schema() -> None:
    """However the schema nests its tables, every property it defines gets a row."""
    schema = json.loads(docs_site.SCHEMA_PATH.read_text(encoding="utf-8"))
    reference = docs_site.policy_reference(schema)
    rows = set(re.findall(r"^\| `([^`]+)` \|", reference, re.MULTILINE))
    assert schema_property_names(schema) <= rows, schema_property_names(schema) - rows


def test_generated_cli_reference_shows_usage_and_defaults() -> None:
    reference = docs_site.cli_reference()
    assert "usage: consentgate export [-h] (--consent-id ID | --tenant TENANT)" in reference
    assert "| `--store URL_OR_PATH` | `consentgate.sqlite3` |" in reference
    assert "| `FILE` | required | the policy file (TOML) |" in reference


def test_generated_sections_are_expanded_and_unknown_ones_refused() -> None:
    expanded = docs_site.expand("# Title\n\n<!-- generated: cli-reference -->\n")
    assert "## `consentgate check`" in expanded
    with pytest.raises(ValueError, match="unknown generated section"):
        docs_site.expand("<!-- generated: nothing-like-this -->\n")


def test_sphinx_roles_become_markdown() -> None:
    public = set(consentgate.__all__)
    text = "See :class:`~consentgate.enforce.policy.Policy`, :meth:`from_file` and :mod:`consentgate.log`."
    assert docs_site.sphinx_roles_to_markdown(text, public) == (
        "See [`Policy`][consentgate.Policy], `from_file()` and `consentgate.log`."
    )


def test_every_docs_page_is_in_the_navigation() -> None:
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    nav = set(nav_pages())
    assert not pages - nav, f"add these pages to nav in mkdocs.yml (and link them from README.md): {sorted(pages - nav)}"
    assert not nav - pages, f"mkdocs.yml's nav names pages that do not exist: {sorted(nav - pages)}"


def test_readme_links_every_page_of_the_site() -> None:
    """Everything the README used to hold is one click away from it."""
    readme = README.read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\((docs/[^)#]+\.md)(?:#[^)]*)?\)", readme))
    missing = sorted(f"docs/{page}" for page in nav_pages() if page != "index.md" and f"docs/{page}" not in linked)
    assert not missing, f"README.md links no page {missing}"
    for link in linked:
        assert (ROOT / link).is_file(), link


def test_readme_is_a_short_front_door() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert 150 <= lines <= 250, f"README.md has {lines} lines: keep it 150-250 and put the detail in docs/"


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = README.read_text(encoding="utf-8")
    assert "./scripts/test    # installs what the tests need" in readme
    assert (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().endswith("exec ./scripts/test")


def test_every_endpoint_the_http_reference_names_is_answered(tmp_path: Path) -> None:
    """The HTTP reference names no endpoint the middleware does not answer (the demo site has all of
    them: consent, GPC, the visitor's data; placeholders like <mount> are left out)."""
    from starlette.testclient import TestClient

    from consentgate.demo.app import create_demo_app

    text = (ROOT / "docs" / "reference" / "http.md").read_text(encoding="utf-8")
    endpoints = set(re.findall(r"`(GET|POST) (/[^`\s?<]*)[`?\s]", text))
    assert {("GET", "/_consent"), ("POST", "/_consent"), ("GET", "/.well-known/gpc.json")} <= endpoints
    app = create_demo_app(str(tmp_path / "demo.sqlite3"), dashboard_token="docs-http-token-0123456789-abcdefghijk")
    with TestClient(app, base_url="http://testserver") as client:
        for method, path in sorted(endpoints):
            response = client.request(method, path, headers={"origin": "http://testserver"})
            assert response.status_code not in (404, 405), (method, path, response.status_code)
            assert response.status_code < 500, (method, path, response.text)
