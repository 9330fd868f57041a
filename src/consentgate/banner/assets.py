"""The banner's static files, served by the middleware under ``<prefix>/static/<hash>/<file>``.

The files are read once, from the package (``consentgate/static`` in an installed wheel, the
repository's ``static/`` in a source checkout), hashed and gzipped in memory. The content hash in
the URL makes them cacheable forever (``immutable``); a new release has new URLs. Only the exact
names read at start-up can be served, so no path (``..``, encoded or not) reaches the file system.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from starlette.types import Receive, Scope, Send

from consentgate._files import package_dir

__all__ = ["Asset", "AssetStore"]

_TYPES = {
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".png": b"image/png",
    ".json": b"application/json",
}
_IMMUTABLE = b"public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class Asset:
    name: str
    body: bytes
    gzipped: bytes
    content_type: bytes
    digest: str

    @property
    def etag(self) -> bytes:
        return b'"' + self.digest.encode() + b'"'


class AssetStore:
    """Every file of the static directory, in memory, addressed by ``<hash>/<name>``."""

    def __init__(self, prefix: str, directory: Path | None = None) -> None:
        self.base = f"{prefix}/static/"
        folder = directory or package_dir("static")
        self.assets: dict[str, Asset] = {}
        self._by_path: dict[str, Asset] = {}
        for path in sorted(folder.iterdir()):
            content_type = _TYPES.get(path.suffix)
            if not path.is_file() or content_type is None:
                continue
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:16]
            asset = Asset(path.name, body, gzip.compress(body, 9, mtime=0), content_type, digest)
            self.assets[path.name] = asset
            self._by_path[f"{digest}/{path.name}"] = asset

    def url(self, name: str) -> str:
        """The cache-busting URL of a file, e.g. ``/_consent/static/3f2a…/consentgate.js``."""
        asset = self.assets[name]
        return f"{self.base}{asset.digest}/{name}"

    def matches(self, path: str) -> bool:
        return path.startswith(self.base)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        asset = self._by_path.get(scope["path"][len(self.base) :])
        method = scope["method"]
        if asset is None or method not in ("GET", "HEAD"):
            status = 404 if asset is None else 405
            body = b"not found" if asset is None else b"method not allowed"
            headers = [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", b"%d" % len(body)),
            ]
            if status == 405:
                headers.append((b"allow", b"GET, HEAD"))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        if_none_match = b""
        accepts_gzip = False
        for key, value in scope["headers"]:
            key = key.lower()  # a cached asset request: not worth the length check
            if key == b"if-none-match":
                if_none_match = value
            elif key == b"accept-encoding":
                accepts_gzip = b"gzip" in value.lower()
        headers = [
            (b"cache-control", _IMMUTABLE),
            (b"etag", asset.etag),
            (b"vary", b"Accept-Encoding"),
            (b"x-content-type-options", b"nosniff"),
        ]
        if if_none_match and (if_none_match.strip() == b"*" or asset.etag in if_none_match):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        body = asset.gzipped if accepts_gzip else asset.body
        headers.append((b"content-type", asset.content_type))
        headers.append((b"content-length", b"%d" % len(body)))
        if accepts_gzip:
            headers.append((b"content-encoding", b"gzip"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
