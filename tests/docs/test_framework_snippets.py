"""docs/getting-started/frameworks.md: every framework's snippet runs exactly as written and reads
the consent (the page says what analytics may do, before and after Accept all, with the banner)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from coreapp import POLICY_TOML
from starlette.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "getting-started" / "frameworks.md"
SECRET = "docs-secret-0123456789-abcdefghijklmnop"


def snippets() -> dict[str, str]:
    """The first python block under each "## Framework" heading."""
    found: dict[str, str] = {}
    for section in re.split(r"^## ", PAGE.read_text(), flags=re.MULTILINE)[1:]:
        title = section.splitlines()[0].split(" (")[0].strip()
        block = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
        if block:
            found[title] = block.group(1)
    return found


def test_the_page_has_a_snippet_per_framework() -> None:
    assert set(snippets()) == {"Starlette", "FastAPI", "Litestar", "Quart", "Flask"}


@pytest.mark.parametrize("framework", sorted(snippets()))
def test_snippet_runs_and_reads_the_consent(
    framework: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "consent.toml").write_text(POLICY_TOML)
    module_path = tmp_path / f"docs_{framework.lower()}_app.py"
    module_path.write_text(snippets()[framework])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONSENTGATE_SECRET", SECRET)
    spec = importlib.util.spec_from_file_location(module_path.stem, module_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, module_path.stem, module)
    spec.loader.exec_module(module)
    with TestClient(module.app, base_url="http://testserver") as client:
        first = client.get("/")
        assert first.status_code == 200
        assert "analytics allowed: False" in first.text
        assert 'data-consentgate="banner"' in first.text
        decided = client.post(
            "/_consent", json={"action": "accept_all"}, headers={"origin": "http://testserver"}
        )
        assert decided.status_code == 200
        assert "analytics allowed: True" in client.get("/").text
