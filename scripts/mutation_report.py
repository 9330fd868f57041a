"""The report of ``scripts/mutation``: the mutation score per module and the surviving mutants.

Reads mutmut's results (``mutants/**/*.py.meta``). Score = mutants killed (a test failed, or the
run timed out: an endless loop is caught too) / all mutants of the module. ``--show`` adds each
survivor's diff (``mutmut show``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
KILLED = {1, 3}  # mutmut: pytest failed, or errored
TIMEOUT = {36, 24, -24, 152, 255}
NO_TESTS = {5, 33}


def _status(code: int | None) -> str:
    if code in KILLED:
        return "killed"
    if code in TIMEOUT:
        return "timeout"
    if code == 0:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    return "not run" if code is None else f"other ({code})"


def main(argv: list[str]) -> int:
    metas = sorted(MUTANTS.glob("src/**/*.py.meta"))
    if "--names" in argv:  # for scripts/mutation --survivors
        for meta in metas:
            codes = json.loads(meta.read_text())["exit_code_by_key"]
            for name, code in sorted(codes.items()):
                if _status(code) in ("survived", "no tests"):
                    print(name)
        return 0
    if not metas:
        print("mutation: no results in mutants/ (run scripts/mutation first)", file=sys.stderr)
        return 2
    rows: list[tuple[str, Counter[str]]] = []
    survivors: list[tuple[str, str]] = []
    total: Counter[str] = Counter()
    for meta in metas:
        module = str(meta.relative_to(MUTANTS))[: -len(".meta")]
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if not codes:
            continue
        counts = Counter(_status(code) for code in codes.values())
        rows.append((module, counts))
        total.update(counts)
        for name, code in sorted(codes.items()):
            if _status(code) not in ("killed", "timeout"):
                survivors.append((name, _status(code)))
    head = ("mutants", "killed", "timeout", "survived", "no tests")
    print(f"{'module':<44} " + " ".join(f"{h:>8}" for h in head) + f" {'score':>7}")
    for module, counts in [*rows, ("total", total)]:
        n = sum(counts.values())
        caught = counts["killed"] + counts["timeout"]
        figures = (n, counts["killed"], counts["timeout"], counts["survived"], counts["no tests"])
        print(f"{module:<44} " + " ".join(f"{f:>8}" for f in figures) + f" {100 * caught / n:>6.1f}%")
    others = sum(c for key, c in total.items() if key not in ("killed", "timeout", "survived", "no tests"))
    if others:
        print(f"({others} mutants not run or with another outcome: see mutants/run.log)")
    print(f"\n{len(survivors)} mutants not killed:")
    for name, status in survivors:
        print(f"  {name}  [{status}]")
        if "--show" in argv:
            command = [sys.executable, "-m", "mutmut", "show", name]  # a name from our own results
            shown = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
            print("    " + shown.stdout.strip().replace("\n", "\n    "))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
