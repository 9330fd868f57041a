"""The code the docs show runs: every block marked ``<!-- runnable -->`` in the README and under docs/.

A Python block runs as a module of its own, in a folder holding ``consent.toml`` (the example policy)
with ``CONSENTGATE_SECRET`` and ``DASHBOARD_TOKEN`` set; ``<!-- runnable: continues -->`` runs in the
namespace of the page's previous runnable block. An ``app`` the block defines is then driven over
HTTP: the consent endpoint answers, nothing optional is set before a choice, a decision is taken.
A TOML block must load as a policy. Python blocks in the README and the getting-started pages are
either runnable or say why not (``<!-- not runnable: reason -->``).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from consentgate import Policy
from consentgate.enforce.policy import ESSENTIAL

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_POLICY = ROOT / "examples" / "consent.toml"
SECRET = "docs-snippet-secret-0123456789-abcdefghij"
FENCE = re.compile(
    r"^(?P<marker><!-- (?P<kind>runnable|not runnable)(?::\s*(?P<note>[^>]*?))? -->\n)?"
    r"```(?P<lang>[\w-]*)[^\n]*\n(?P<code>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
#: Python blocks on these pages must be marked one way or the other.
MUST_DECIDE = ["README.md", "docs/getting-started/*.md"]
#: These pages must have Python that runs: the quickstart and the framework pages.
MUST_RUN = [
    "README.md",
    *(f"docs/getting-started/{name}.md" for name in ("starlette", "fastapi", "flask", "frameworks")),
]


@dataclass(frozen=True)
class Block:
    page: str
    number: int
    lang: str
    code: str
    kind: str | None
    note: str

    @property
    def continues(self) -> bool:
        return self.kind == "runnable" and self.note == "continues"


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    name = page.relative_to(ROOT).as_posix()
    return [
        Block(name, n, m["lang"], m["code"], m["kind"], (m["note"] or "").strip())
        for n, m in enumerate(FENCE.finditer(text), start=1)
    ]


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def runnable() -> list[Block]:
    return [b for page in pages() for b in blocks(page) if b.kind == "runnable"]


RUNNABLE = runnable()


@pytest.fixture
def snippet_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(EXAMPLE_POLICY, tmp_path / "consent.toml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONSENTGATE_SECRET", SECRET)
    monkeypatch.setenv("DASHBOARD_TOKEN", "docs-dashboard-token-0123456789-abcdefgh")
    return tmp_path


def run_python(block: Block, folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run ``block`` (after the page's earlier blocks it continues) as a module of its own, the way
    a reader would save and run it (frameworks such as Litestar look their handlers' module up in
    ``sys.modules``), and return its namespace."""
    chain = [block]
    page_blocks = [b for b in RUNNABLE if b.page == block.page]
    index = page_blocks.index(block)
    while chain[0].continues:
        index -= 1
        assert index >= 0, f"{block.page} block {block.number} continues, but no runnable block precedes it"
        chain.insert(0, page_blocks[index])
    name = "docs_snippet_" + re.sub(r"\W", "_", f"{block.page}_{block.number}")
    path = folder / f"{name}.py"
    path.write_text("\n".join(part.code for part in chain), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return vars(module)


def optional_set_cookies(response: Any, policy: Policy) -> list[str]:
    names = [value.split("=", 1)[0].strip() for value in response.headers.get_list("set-cookie")]
    return [n for n in names if n not in ("consentgate", "__Host-consentgate") and policy.category_of_cookie(n) != ESSENTIAL]


def drive(app: Any) -> None:
    """The app is behind consentgate: it answers the consent endpoint, holds back optional cookies
    before a choice, and records a decision."""
    policy = Policy.from_file(EXAMPLE_POLICY)
    with TestClient(app, base_url="http://testserver") as client:
        state = client.get("/_consent")
        assert state.status_code == 200, state.text
        assert state.json()["consent"]["needs_choice"] is True
        page = client.get("/")
        assert page.status_code < 500, page.text
        assert optional_set_cookies(page, policy) == []
        decided = client.post("/_consent", json={"action": "accept_all"}, headers={"origin": "http://testserver"})
        assert decided.status_code == 200, decided.text
        assert client.get("/_consent").json()["consent"]["needs_choice"] is False


@pytest.mark.parametrize("block", RUNNABLE, ids=[f"{b.page}#{b.number}" for b in RUNNABLE])
def test_runnable_block(block: Block, snippet_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if block.lang == "toml":
        Policy.from_toml(block.code, source=f"{block.page} block {block.number}")
        return
    assert block.lang in ("python", "py"), f"{block.page} block {block.number}: cannot run {block.lang!r}"
    namespace = run_python(block, snippet_dir, monkeypatch)
    later = [b for b in RUNNABLE if b.page == block.page and b.number > block.number]
    if "app" in namespace and not (later and later[0].continues):
        drive(namespace["app"])


def test_the_quickstart_and_every_framework_page_has_runnable_code() -> None:
    """The README's quickstart and each framework page are tested by running them, not by trust.
    (Django's page shows fragments of a project; examples/django_site is that project, run by
    tests/django, and every block there says so.)"""
    marked = {b.page for b in RUNNABLE if b.lang == "python"}
    missing = sorted(set(MUST_RUN) - marked)
    assert not missing, f"no runnable Python block on {missing}"


def test_python_blocks_on_front_pages_say_whether_they_run() -> None:
    undecided = [
        f"{b.page} block {b.number}"
        for pattern in MUST_DECIDE
        for page in sorted(ROOT.glob(pattern))
        for b in blocks(page)
        if b.lang in ("python", "py") and b.kind is None and not b.code.lstrip().startswith("--8<--")
    ]
    assert not undecided, (
        f"mark these <!-- runnable --> (they are then run by this test) or <!-- not runnable: why -->: {undecided}"
    )


def test_quickstart_blocks_analytics_until_the_visitor_allows_it(
    snippet_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's quickstart does what the README says: _ga leaves only after consent."""
    quickstart = next(b for b in RUNNABLE if b.page == "README.md" and b.lang == "python")
    app = run_python(quickstart, snippet_dir, monkeypatch)["app"]
    with TestClient(app, base_url="http://testserver") as client:
        before = client.get("/")
        assert "_ga=" not in ",".join(before.headers.get_list("set-cookie"))
        assert 'data-consentgate="banner"' in before.text
        client.post("/_consent", json={"categories": ["analytics"]}, headers={"origin": "http://testserver"})
        after = client.get("/")
        assert "_ga=" in ",".join(after.headers.get_list("set-cookie"))


def test_marker_grammar_is_understood() -> None:
    """The block parser finds markers, languages and continuation notes (guards the tests above)."""
    text = (
        "<!-- runnable -->\n```python\nx = 1\n```\n\n"
        "<!-- runnable: continues -->\n```python\ny = x + 1\n```\n\n"
        "<!-- not runnable: needs Django -->\n```python\nimport django\n```\n\n```sh\nls\n```\n"
    )
    found = [(m["lang"], m["kind"], (m["note"] or "").strip(), m["code"]) for m in FENCE.finditer(text)]
    assert found == [
        ("python", "runnable", "", "x = 1\n"),
        ("python", "runnable", "continues", "y = x + 1\n"),
        ("python", "not runnable", "needs Django", "import django\n"),
        ("sh", None, "", "ls\n"),
    ]
