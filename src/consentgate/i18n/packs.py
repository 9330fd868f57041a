"""Language packs: the built-in catalogs and the ones a site adds, read and checked once.

A pack is one JSON object of strings named after its language tag (``sv.json``, ``de-CH.json``).
The built-in packs live in ``consentgate/i18n/locales``; a site points consentgate at a folder of
its own (``ConsentMiddleware(locales=Path("locales/"))`` or ``locales = "locales/"`` in the
policy). Every file there is validated at start-up, and a mistake is a :class:`LocaleError` that
names the file and the key:

* a key English does not have (a typo, or a key from another version) is an error;
* a pack for a language consentgate does not know yet (``sv.json``) must have every key;
* a pack for a language that is known, built in or in the same folder (``de.json``, ``de-CH.json``
  next to a built-in ``de``), may override any subset: the rest comes from that language;
* the ``{placeholders}`` of each string must be those of the English string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType

from consentgate.enforce.rules import BUILTIN_LANGUAGES

__all__ = [
    "BUILTIN_DIR",
    "LocaleError",
    "base_tag",
    "builtin_packs",
    "placeholders",
    "read_pack",
    "site_packs",
]

BUILTIN_DIR = Path(__file__).with_name("locales")
REFERENCE = "en"
_TAG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DIRECTIONS = ("ltr", "rtl")

Strings = Mapping[str, str]


class LocaleError(ValueError):
    """A language pack is invalid. The message names the file and the key."""

    def __init__(self, path: Path | str, key: str, message: str) -> None:
        self.path = str(path)
        self.key = key
        super().__init__(f"{path}: {key}: {message}")


def placeholders(text: str) -> frozenset[str]:
    """The ``{name}`` placeholders of a string."""
    return frozenset(_PLACEHOLDER.findall(text))


def base_tag(tag: str) -> str | None:
    """The language a regional or script variant falls back to (``de-CH`` → ``de``)."""
    head, dash, _ = tag.rpartition("-")
    return head if dash else None


def read_pack(path: Path) -> dict[str, str]:
    """One pack file as a dict of strings; a file that is not a JSON object of strings is an error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LocaleError(path, "<file>", f"cannot read it ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise LocaleError(path, "<file>", f"not UTF-8 text (byte {exc.start})") from exc
    except ValueError as exc:
        raise LocaleError(path, "<file>", f"not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise LocaleError(path, "<file>", "expected a JSON object of strings")
    for key, value in data.items():
        if not isinstance(value, str) or not value.strip():
            raise LocaleError(path, key, f"expected a non-empty string, got {value!r}")
    return data


def _check(path: Path, strings: Strings, reference: Strings, *, complete: bool) -> None:
    """Keys, placeholders and the text direction of one pack against the English catalog."""
    for key, value in strings.items():
        if key not in reference:
            raise LocaleError(path, key, "unknown key (English has no such string)")
        expected = placeholders(reference[key])
        found = placeholders(value)
        if found != expected:
            want = ", ".join("{" + p + "}" for p in sorted(expected)) or "none"
            got = ", ".join("{" + p + "}" for p in sorted(found)) or "none"
            raise LocaleError(path, key, f"placeholders must be English's: expected {want}, found {got}")
    if "language.dir" in strings and strings["language.dir"] not in _DIRECTIONS:
        raise LocaleError(path, "language.dir", f"must be 'ltr' or 'rtl', got {strings['language.dir']!r}")
    if complete:
        missing = [key for key in reference if key not in strings]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise LocaleError(
                path, missing[0], f"missing: a new language needs every key of en.json{more}"
            )


@cache
def builtin_packs() -> Mapping[str, Strings]:
    """The built-in catalogs by tag, in the order of ``BUILTIN_LANGUAGES``; each one complete."""
    files = sorted(path.stem for path in BUILTIN_DIR.glob("*.json"))
    if files != sorted(BUILTIN_LANGUAGES):
        raise LocaleError(BUILTIN_DIR, "<folder>", f"expected {sorted(BUILTIN_LANGUAGES)}, found {files}")
    reference = read_pack(BUILTIN_DIR / f"{REFERENCE}.json")
    packs: dict[str, Strings] = {}
    for tag in BUILTIN_LANGUAGES:
        path = BUILTIN_DIR / f"{tag}.json"
        strings = reference if tag == REFERENCE else read_pack(path)
        _check(path, strings, reference, complete=True)
        packs[tag] = MappingProxyType(strings)
    return MappingProxyType(packs)


def site_packs(folder: Path | str, known: Mapping[str, Strings]) -> dict[str, Strings]:
    """A site's packs from ``folder``, each merged onto the language it extends.

    ``known`` are the catalogs already available (the built-in ones). The answer maps each file's
    tag to its complete catalog; a pack overriding a built-in language replaces that entry.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise LocaleError(folder, "<folder>", "not a folder of language packs (xx.json, xx-YY.json)")
    reference = known[REFERENCE]
    raw: dict[str, tuple[Path, dict[str, str]]] = {}
    seen: dict[str, Path] = {}
    for path in sorted(folder.glob("*.json")):
        tag = path.stem
        if not _TAG.fullmatch(tag):
            raise LocaleError(
                path, "<file>", "the file name must be a language tag such as sv.json or de-CH.json"
            )
        if tag.lower() in seen:
            raise LocaleError(path, "<file>", f"the same language as {seen[tag.lower()].name}")
        seen[tag.lower()] = path
        raw[tag] = (path, read_pack(path))
    merged: dict[str, Strings] = {}

    def resolve(tag: str) -> Strings | None:
        """The complete catalog of ``tag`` (from this folder or the known ones), else None."""
        if tag in merged:
            return merged[tag]
        if tag not in raw:
            return known.get(tag)
        path, strings = raw[tag]
        base: Strings | None = known.get(tag)
        parent = base_tag(tag)
        while base is None and parent is not None:
            base = resolve(parent)
            parent = base_tag(parent)
        _check(path, strings, reference, complete=base is None)
        catalog = MappingProxyType({**(base or {}), **strings})
        merged[tag] = catalog
        return catalog

    for tag in raw:
        resolve(tag)
    return merged
