#!/usr/bin/env python3
"""Map the requirement IDs (tests/data/requirement_ids.txt, from the product's REQUIREMENTS.md) to the
tests that prove them: a test cites an ID in its name (``test_r_gpc_2_...``) or its docstring.

    python scripts/requirement_map.py            # print the Markdown table
    python scripts/requirement_map.py --write    # replace the table between the markers in the docs page

The table lives in docs/privacy-teams/requirement-map.md (the documentation site's requirement map);
tests/test_requirement_map.py fails when it is out of date.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_ID_FILE = ROOT / "tests/data/requirement_ids.txt"
IDS = [line.strip() for line in _ID_FILE.read_text().splitlines() if line.strip()]
BEGIN, END = "<!-- requirement-map:begin -->", "<!-- requirement-map:end -->"
PAGE = ROOT / "docs/privacy-teams/requirement-map.md"


def _ids_in(text: str) -> set[str]:
    pattern = r"(?i)(?<![a-z0-9])r[-_](con|gpc|stu|min|vis|gcm|ck|a11y)[-_](\d+)"
    found = {f"R-{area.upper()}-{number}" for area, number in re.findall(pattern, text)}
    return {f for f in found if f in IDS}


def collect() -> dict[str, list[str]]:
    proofs: dict[str, list[str]] = defaultdict(list)
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
                cited = _ids_in(node.name) | _ids_in(ast.get_docstring(node) or "")
                for requirement in cited:
                    proofs[requirement].append(f"{path.relative_to(ROOT).as_posix()}::{node.name}")
    return proofs


def table() -> str:
    proofs = collect()
    lines = ["| requirement | tests that prove it |", "|---|---|"]
    for requirement in IDS:
        tests = proofs.get(requirement, [])
        shown = "<br>".join(f"`{t}`" for t in tests[:4])
        more = f" (+{len(tests) - 4} more)" if len(tests) > 4 else ""
        lines.append(f"| {requirement} | {shown or '**none**'}{more} |")
    return "\n".join(lines)


def main() -> int:
    generated = table()
    if "--write" in sys.argv:
        text = PAGE.read_text(encoding="utf-8")
        start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
        PAGE.write_text(text[:start] + "\n" + generated + "\n" + text[end:], encoding="utf-8")
    else:
        print(generated)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
