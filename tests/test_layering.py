"""The package's layout keeps its promises: each part imports only the parts below it, no module
imports another that imports it back, and no module outgrows one sitting (README: How it is built)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "consentgate"

# What each part may import besides itself (consentgate._files, the data-folder locator, is for all).
ALLOWED: dict[str, set[str]] = {
    "enforce": set(),
    "i18n": {"enforce"},
    # cookie knowledge (the cookie database, suggestions, discovery folding, the declaration):
    # plain data and functions over the policy, used by every part that shows or checks cookies
    "cookies": {"enforce"},
    "banner": {"enforce", "i18n", "cookies"},
    "log": {"enforce", "i18n", "cookies"},
    "middleware": {"enforce", "i18n", "banner", "log", "cookies"},
    "audit": {"enforce", "i18n", "banner", "cookies"},
    "dashboard": {"enforce", "i18n", "banner", "log", "cookies"},
    "demo": {"enforce", "i18n", "banner", "log", "middleware", "dashboard", "cookies"},
    "cli": {"enforce", "i18n", "banner", "log", "middleware", "dashboard", "audit", "demo", "django", "cookies"},
    "django": {"enforce", "i18n", "banner", "log", "middleware"},
    "__main__": {"cli"},
}
SHARED = {"_files"}
MAX_LINES = 420


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path, module: str, *, top_level_only: bool) -> set[str]:
    """The consentgate modules ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.If) and top_level_only:  # "if TYPE_CHECKING:" imports are types only
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "consentgate"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "consentgate":
                continue
            found.add(target)
            # "from consentgate.x import y" may name a submodule y
            found |= {f"{target}.{a.name}" for a in node.names}
    return found


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


MODULES = _modules()


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _part(m)))
def test_each_part_imports_only_the_parts_below_it(module: str) -> None:
    part = _part(module)
    if part in SHARED:
        return
    assert part in ALLOWED, f"{module}: a new part; add it to ALLOWED here and to the README's layer list"
    used = {_part(m) for m in _imports(MODULES[module], module, top_level_only=False) if m in MODULES}
    wrong = used - ALLOWED[part] - SHARED - {part, ""}
    assert not wrong, f"{module} ({part}) imports {sorted(wrong)}, which sit above or beside it"


def test_enforce_stands_alone() -> None:
    """The README's first rule, stated on its own: enforcement imports no other part."""
    for module, path in MODULES.items():
        if _part(module) == "enforce":
            used = {_part(m) for m in _imports(path, module, top_level_only=False) if m in MODULES}
            assert used <= {"enforce"}, (module, used)


def test_no_import_cycles() -> None:
    graph = {
        module: {m for m in _imports(path, module, top_level_only=True) if m in MODULES and m != module}
        for module, path in MODULES.items()
    }
    # A package's __init__ re-exporting its submodules is not a cycle through them.
    for module in graph:
        graph[module] = {m for m in graph[module] if not module.startswith(m + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_modules_stay_readable_in_one_sitting() -> None:
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_parts_are_folders() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert {"enforce", "i18n", "cookies", "banner", "log", "audit", "dashboard", "cli", "demo"} <= folders
    assert (PACKAGE / "log" / "stores" / "__init__.py").is_file()


def test_public_names_import_from_the_top() -> None:
    import consentgate

    for name in ("ConsentMiddleware", "Policy", "Consent", "SecretKeys", "PrivacyLog", "Dashboard", "open_store"):
        assert name in consentgate.__all__
        assert getattr(consentgate, name).__module__.startswith("consentgate.")
