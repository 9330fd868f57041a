"""What the documentation site generates, so those pages cannot drift from the code.

* The policy file reference, from the JSON Schema that ships in the package
  (``src/consentgate/enforce/policy.schema.json``): every key, its values, its default and its
  ``description``. A key without a description is an error (``tests/docs/test_docs_site.py``).
* The command line reference, from the argparse definitions (``consentgate.cli.build_parser``):
  every command, subcommand and option with its help text.

mkdocs loads this file as a hook (``hooks:`` in mkdocs.yml): a page holding the line
``<!-- generated: policy-reference -->`` or ``<!-- generated: cli-reference -->`` gets the
generated Markdown in its place. mkdocstrings loads :class:`SphinxRoles` as a griffe extension:
the docstrings' ``:class:`...``` roles become code spans (or links to the Python API page).

    python scripts/docs_site.py policy    # print the generated policy reference
    python scripts/docs_site.py cli       # print the generated command line reference
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "src/consentgate/enforce/policy.schema.json"
MARKER = re.compile(r"^<!-- generated: ([a-z-]+) -->$", re.MULTILINE)

# The placeholder shown for a table whose keys are names the policy chooses.
_KEY_NAMES = {"categories": "NAME", "tenants": "ID"}


def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


# -- the policy file reference ---------------------------------------------------------------


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with its ``$ref`` followed; the node's own keywords win over the target's."""
    ref = node.get("$ref")
    if not ref:
        return node
    target = schema
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    merged = {**_resolve(schema, target), **node}
    merged.pop("$ref")
    return merged


def _table_of(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any] | None:
    """The object schema (with ``properties``) this value is, or holds in a list, if any."""
    node = _resolve(schema, node)
    if node.get("type") == "object" and "properties" in node:
        return node
    if node.get("type") == "array":
        return _table_of(schema, node.get("items", {}))
    for option in node.get("oneOf", []) + node.get("anyOf", []):
        found = _table_of(schema, option)
        if found is not None:
            return found
    return None


def _value_text(schema: dict[str, Any], node: dict[str, Any]) -> str:
    """What a key takes, in words: ``"block"`` or ``"allow"``, integer from 1 to 395, list: ..."""
    node = _resolve(schema, node)
    if "title" in node:
        return str(node["title"])
    if "enum" in node:
        return " or ".join(f"`{json.dumps(v)}`" for v in node["enum"])
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    options = node.get("oneOf") or node.get("anyOf")
    if options:
        return ", or ".join(_value_text(schema, option) for option in options)
    kind = node.get("type")
    if kind == "integer":
        low, high = node.get("minimum"), node.get("maximum")
        if low is not None and high is not None:
            return f"integer from {low} to {high}"
        if low is not None:
            return f"integer ≥ {low}"
        return "integer"
    if kind == "boolean":
        return "`true` or `false`"
    if kind == "string":
        return "text"
    if kind == "array":
        items = _value_text(schema, node.get("items", {}))
        return f"list: {items}" + (", each once" if node.get("uniqueItems") else "")
    if kind == "object":
        if "properties" in node:
            return "table (below)"
        values = node.get("additionalProperties")
        if isinstance(values, dict):
            if _table_of(schema, values) is not None:
                return "tables (below)"
            return f"table of {_value_text(schema, values)}"
        return "table"
    return "value"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default_text(node: dict[str, Any], required: bool) -> str:
    if required:
        return "**required**"
    if "default" in node:
        return f"`{json.dumps(node['default'], ensure_ascii=False)}`"
    return ""


def _sections(
    schema: dict[str, Any], node: dict[str, Any], heading: str, path: str
) -> Iterator[tuple[str, str, list[tuple[str, dict[str, Any], bool]]]]:
    """(heading, introduction, [(key, node, required)]) for this table and every table inside it."""
    required = set(node.get("required", []))
    rows: list[tuple[str, dict[str, Any], bool]] = []
    nested: list[tuple[str, str, dict[str, Any]]] = []
    for key, child in node.get("properties", {}).items():
        rows.append((key, child, key in required))
        resolved = _resolve(schema, child)
        inner = _table_of(schema, child)
        if inner is not None:
            if resolved.get("type") == "array":
                where = "the top level" if heading.startswith("Top") else heading
                nested.append((f"`{key}` tables in {where}", inner.get("description", ""), inner))
            else:
                nested.append((f"`[{path}{key}]`", resolved.get("description", ""), inner))
            continue
        values = resolved.get("additionalProperties")
        if resolved.get("type") == "object" and isinstance(values, dict):
            inner = _table_of(schema, values)
            if inner is not None:
                name = _KEY_NAMES.get(key, "NAME")
                nested.append((f"`[{path}{key}.{name}]`", resolved.get("description", ""), inner))
    yield heading, node.get("description", ""), rows
    for sub_heading, intro, inner in nested:
        sub_path = sub_heading.strip("`[]") + "." if sub_heading.startswith("`[") else path
        for section in _sections(schema, inner, sub_heading, sub_path):
            if section[0] == sub_heading and intro and not section[1]:
                section = (section[0], intro, section[2])
            yield section


def policy_reference(schema: dict[str, Any] | None = None) -> str:
    """Markdown: one table of keys per TOML table of the policy file, from the schema."""
    schema = schema or load_schema()
    out: list[str] = []
    for heading, intro, rows in _sections(schema, schema, "Top-level keys", ""):
        out.append(f"### {heading}\n")
        if intro and heading != "Top-level keys":
            out.append(f"{intro}\n")
        out.append("| key | value | default | what it does |")
        out.append("|---|---|---|---|")
        for key, node, required in rows:
            resolved = _resolve(schema, node)
            description = node.get("description") or resolved.get("description", "")
            if resolved.get("type") == "object":  # told in full under its own heading
                description = description.split(". ")[0].rstrip(".") + "."
            out.append(
                f"| `{key}` | {_cell(_value_text(schema, node))} | {_default_text(resolved, required)} "
                f"| {_cell(description)} |"
            )
        out.append("")
    return "\n".join(out)


def undescribed_keys(schema: dict[str, Any] | None = None) -> list[str]:
    """Every key of the policy file the schema gives no ``description`` for (the reference needs one)."""
    schema = schema or load_schema()
    missing: list[str] = []
    for heading, _intro, rows in _sections(schema, schema, "Top-level keys", ""):
        for key, node, _required in rows:
            if not (node.get("description") or _resolve(schema, node).get("description")):
                missing.append(f"{heading}: {key}")
    return missing


def policy_keys(schema: dict[str, Any] | None = None) -> list[str]:
    """Every key the reference lists, as ``heading: key``."""
    schema = schema or load_schema()
    sections = _sections(schema, schema, "Top-level keys", "")
    return [f"{heading}: {key}" for heading, _intro, rows in sections for key, _node, _required in rows]


# -- the command line reference --------------------------------------------------------------


def _fixed_width(parser: argparse.ArgumentParser) -> None:
    """Usage lines as wide as the docs' code blocks, whatever terminal builds the site."""
    parser.formatter_class = functools.partial(argparse.HelpFormatter, width=88)


def _option_text(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    names = []
    for option in action.option_strings:
        if action.nargs == 0:
            names.append(f"`{option}`")
        else:
            metavar = action.metavar or action.dest.upper()
            names.append(f"`{option} {metavar}`")
    return ", ".join(names)


def _help_text(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    formatter = parser._get_formatter()
    text: str = formatter._expand_help(action)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _default_of(action: argparse.Action) -> str:
    if not action.option_strings or action.required:
        return "required" if action.required or not action.option_strings else ""
    if action.nargs == 0 or action.default in (None, argparse.SUPPRESS, False, [], ()):
        return ""
    return f"`{action.default}`"


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name, ""), sub


def _command_sections(parser: argparse.ArgumentParser, name: str, summary: str) -> Iterator[str]:
    _fixed_width(parser)
    children = list(_subcommands(parser))
    yield f"## `{name}`\n"
    if summary:
        yield f"*{summary[0].upper() + summary[1:]}.*\n"
    if parser.description:
        yield f"{parser.description}\n"
    yield f"```text\n{parser.format_usage().strip()}\n```\n"
    exclusive = [g for g in parser._mutually_exclusive_groups if g._group_actions]
    skip = (argparse._HelpAction, argparse._SubParsersAction)
    rows = [a for a in parser._actions if not isinstance(a, skip)]
    if rows:
        yield "| argument | default | what it does |"
        yield "|---|---|---|"
        for action in rows:
            help_text = _help_text(parser, action)
            for group in exclusive:
                if action in group._group_actions:
                    others = ", ".join(
                        _option_text(a) for a in group._group_actions if a is not action
                    )
                    help_text += f" (or {others}{', one of them required' if group.required else ''})"
            yield f"| {_cell(_option_text(action))} | {_cell(_default_of(action))} | {_cell(help_text)} |"
        yield ""
    for child, child_summary, sub in children:
        yield from _command_sections(sub, f"{name} {child}", child_summary)


def cli_reference(parser: argparse.ArgumentParser | None = None) -> str:
    """Markdown: every command of ``consentgate`` with its usage, options and help."""
    if parser is None:
        from consentgate.cli import build_parser

        parser = build_parser()
    out: list[str] = []
    for name, summary, sub in _subcommands(parser):
        out.extend(_command_sections(sub, f"{parser.prog} {name}", summary))
    return "\n".join(out) + "\n"


# -- mkdocs and griffe hooks -----------------------------------------------------------------

GENERATORS: dict[str, Callable[[], str]] = {
    "policy-reference": policy_reference,
    "cli-reference": cli_reference,
}


def expand(markdown: str) -> str:
    """Replace every ``<!-- generated: NAME -->`` line with what NAME generates."""

    def generated(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise ValueError(f"unknown generated section {name!r} (known: {', '.join(GENERATORS)})")
        return GENERATORS[name]()

    return MARKER.sub(generated, markdown)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """mkdocs hook."""
    return expand(markdown)


_ROLE = re.compile(r":(?:py:)?(class|meth|func|attr|data|mod|exc|obj):`(~?)([\w.]+)(\(\))?`")


def _public_names() -> set[str]:
    import consentgate

    return set(consentgate.__all__)


def sphinx_roles_to_markdown(text: str, public: set[str]) -> str:
    """``:class:`~consentgate.enforce.policy.Policy``` -> a link to ``consentgate.Policy`` on the Python
    API page when the name is public, else a code span (``Policy``, or the full path without ``~``)."""

    def replace(match: re.Match[str]) -> str:
        role, short, target = match.group(1), match.group(2), match.group(3)
        last = target.rsplit(".", 1)[-1]
        shown = last if short or (target.startswith("consentgate.") and last in public) else target
        if role in ("meth", "func"):
            shown += "()"
        if last in public and role in ("class", "func", "exc", "data"):
            return f"[`{shown}`][consentgate.{last}]"
        return f"`{shown}`"

    return _ROLE.sub(replace, text)


try:
    import griffe
except ImportError:  # the generators above work without the docs extra
    pass
else:

    class SphinxRoles(griffe.Extension):
        """griffe extension: the docstrings' Sphinx roles as Markdown mkdocstrings renders."""

        def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
            if obj.docstring is not None:
                obj.docstring.value = sphinx_roles_to_markdown(obj.docstring.value, _public_names())


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else ""
    if which not in ("policy", "cli"):
        raise SystemExit(__doc__)
    print(policy_reference() if which == "policy" else cli_reference())
