"""Reading cookie names out of ``Set-Cookie`` and ``Cookie`` headers the way browsers do.

The rules follow RFC 6265bis §5.6 (what Chromium and Firefox implement): the name is what comes
before the first ``=`` of the part before the first ``;``, with spaces and tabs trimmed. A line
without ``=`` makes a *nameless* cookie (empty name), which browsers keep and send back as the bare
value. A line with a control character is dropped by current browsers, while older ones cut it
there; the name is read from the part before the control character, so the category decision is
right under both behaviours. Nameless cookies get the empty name, and the policy's
``unknown_cookies`` rule decides about them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime

__all__ = [
    "NAMELESS",
    "cookie_names",
    "deletion_header",
    "filter_cookie_header",
    "request_cookie_value",
    "set_cookie_name",
]

NAMELESS = ""
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_WSP = b" \t"
_EPOCH = format_datetime(datetime(1970, 1, 1, tzinfo=UTC), usegmt=True)


def set_cookie_name(value: bytes) -> str:
    """The name a browser would store for this ``Set-Cookie`` value ("" when nameless or ignored)."""
    control = _CONTROL.search(value)
    if control is not None:
        value = value[: control.start()]
    end = value.find(b";")
    pair = value if end < 0 else value[:end]
    equals = pair.find(b"=")
    if equals < 0:
        return NAMELESS
    return pair[:equals].strip(_WSP).decode("utf-8", "surrogateescape")


def cookie_names(header: bytes) -> list[str]:
    """Names in a request ``Cookie`` header, in order ("" for a bare value)."""
    names: list[str] = []
    for piece in header.split(b";"):
        equals = piece.find(b"=")
        if equals < 0:
            if piece.strip(_WSP):
                names.append(NAMELESS)
            continue
        names.append(piece[:equals].strip(_WSP).decode("utf-8", "surrogateescape"))
    return names


def filter_cookie_header(header: bytes, keep: set[str] | frozenset[str]) -> tuple[bytes, list[str]]:
    """Drop the pairs whose name is not in ``keep``; returns the new header and the dropped names.

    When nothing is dropped the original bytes are returned unchanged.
    """
    pieces = header.split(b";")
    kept: list[bytes] = []
    dropped: list[str] = []
    for piece in pieces:
        equals = piece.find(b"=")
        if equals < 0:
            if not piece.strip(_WSP):
                continue
            name = NAMELESS
        else:
            name = piece[:equals].strip(_WSP).decode("utf-8", "surrogateescape")
        if name in keep:
            kept.append(piece.strip(_WSP))
        else:
            dropped.append(name)
    if not dropped:
        return header, dropped
    return b"; ".join(kept), dropped


def deletion_header(name: str, path: str = "/", domain: str | None = None, *, secure: bool = False) -> bytes:
    """A ``Set-Cookie`` value that deletes a cookie: same name, Path and Domain, expired (R-CK-2)."""
    parts = [f"{name}=", "Max-Age=0", f"Expires={_EPOCH}", f"Path={path}"]
    if domain:
        parts.append(f"Domain={domain}")
    if secure or name.startswith(("__Host-", "__Secure-")):
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")


def request_cookie_value(header: bytes, name: bytes) -> bytes | None:
    """The value of the first cookie called ``name`` in a request ``Cookie`` header (spaces and
    tabs trimmed), found without splitting the rest of the header; ``None`` when there is none."""
    start = 0
    while True:
        index = header.find(name, start)
        if index < 0:
            return None
        before = header[:index].rstrip(_WSP)
        after = index + len(name)
        rest = header[after:].lstrip(_WSP)
        if (not before or before.endswith(b";")) and rest.startswith(b"="):
            value_start = len(header) - len(rest) + 1
            end = header.find(b";", value_start)
            return header[value_start : end if end >= 0 else len(header)].strip(_WSP)
        start = after
