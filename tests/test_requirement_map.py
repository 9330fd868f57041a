"""Every requirement ID is proven by at least one test, and the docs' requirement map says which."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("requirement_map", ROOT / "scripts" / "requirement_map.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_requirement_is_cited_by_a_test() -> None:
    module = _module()
    proofs = module.collect()
    missing = [rid for rid in module.IDS if not proofs.get(rid)]
    assert not missing, f"no test cites {missing}"


def test_requirement_map_page_is_up_to_date() -> None:
    module = _module()
    page = module.PAGE.read_text(encoding="utf-8")
    start = page.index(module.BEGIN) + len(module.BEGIN)
    end = page.index(module.END)
    assert page[start:end].strip() == module.table().strip(), (
        f"{module.PAGE.relative_to(ROOT)} is stale: run python scripts/requirement_map.py --write"
    )
