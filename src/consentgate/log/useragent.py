"""A user-agent string reduced to browser, OS and device class (R-MIN-3).

The families and versions come from ua-parser's regex database (``ua-parser-builtins``); when
the ``ua-parser-rs`` accelerator is installed it does the matching (about 25 times faster on a
new string, see ``benchmarks/ua_parsing.py``), otherwise the pure-Python matcher does. The
device class is decided by the rules of the ``user-agents`` package, fed with that result, so
both backends classify alike. The raw string never leaves this module: callers keep only the
:class:`BrowserInfo`.

Parsing happens in the privacy log's background writer, never on the request path. The parser
is built on first use (about 0.1 s) and results are memoised in a bounded LRU cache, since a
site sees the same few hundred strings over and over.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from user_agents.parsers import (
    UserAgent,
    parse_browser,
    parse_device,
    parse_operating_system,
)

from consentgate.enforce.crawlers import CrawlerDetector
from consentgate.enforce.rules import CrawlerRules

__all__ = [
    "MAX_USER_AGENT_CHARS",
    "BrowserInfo",
    "DeviceClass",
    "clear_cache",
    "crawler_detector",
    "is_bot",
    "parse_user_agent",
    "parser_backend",
]

DeviceClass = Literal["desktop", "mobile", "tablet", "bot", "other"]

MAX_USER_AGENT_CHARS = 512  # real strings are far shorter; longer ones are cut before parsing
CACHE_SIZE = 4096
_MAX_FAMILY_CHARS = 64
_MAX_VERSION_CHARS = 16
_OTHER = "Other"


@dataclass(frozen=True, slots=True)
class BrowserInfo:
    """What is kept of a user-agent string: families, major versions and a device class."""

    browser: str
    browser_major: str | None
    os: str
    os_major: str | None
    device: DeviceClass


class _Classified(UserAgent):  # type: ignore[misc]  # user-agents ships no type hints
    """user-agents' ``UserAgent`` built from an existing ua-parser result, not by parsing again.

    Only the constructor differs, so ``is_bot`` / ``is_tablet`` / ``is_mobile`` / ``is_pc`` are
    exactly the library's rules.
    """

    def __init__(self, ua_string: str, result: Any) -> None:
        browser, os, device = result.user_agent, result.os, result.device
        self.ua_string = ua_string
        self.browser = parse_browser(browser.family, browser.major, browser.minor, browser.patch)
        self.os = parse_operating_system(os.family, os.major, os.minor, os.patch)
        self.device = parse_device(device.family, device.brand, device.model)


_Parse = Callable[[str], Any]
_parser: _Parse | None = None
_backend = ""
_parser_lock = threading.Lock()


def _build_parser() -> tuple[_Parse, str]:
    from ua_parser import Parser, load_builtins, load_lazy_builtins

    resolver: Any
    try:
        from ua_parser.regex import Resolver as RegexResolver  # needs the ua-parser-rs wheel
    except ImportError:
        from ua_parser.basic import Resolver as BasicResolver

        resolver, backend = BasicResolver(load_builtins()), "ua-parser (pure Python)"
    else:
        resolver, backend = RegexResolver(load_lazy_builtins()), "ua-parser-rs"
    # No ua-parser cache here: parse_user_agent's own LRU sits in front of it.
    parser = Parser(resolver)
    return parser.parse, backend


def _get_parser() -> _Parse:
    global _parser, _backend
    parser = _parser
    if parser is None:
        with _parser_lock:
            if _parser is None:
                _parser, _backend = _build_parser()
            parser = _parser
    return parser


def parser_backend() -> str:
    """Which matcher does the work: ``"ua-parser-rs"`` or ``"ua-parser (pure Python)"``."""
    _get_parser()
    return _backend


def _clip(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value[:limit] or None


def _device_class(agent: _Classified) -> DeviceClass:
    if agent.is_bot:
        return "bot"
    if agent.is_tablet:
        return "tablet"
    if agent.is_mobile:
        return "mobile"
    if agent.is_pc:
        return "desktop"
    return "other"


@functools.lru_cache(maxsize=CACHE_SIZE)
def _parse(ua: str) -> BrowserInfo:
    result = _get_parser()(ua).with_defaults()
    agent = _Classified(ua, result)
    return BrowserInfo(
        browser=_clip(result.user_agent.family, _MAX_FAMILY_CHARS) or _OTHER,
        browser_major=_clip(result.user_agent.major, _MAX_VERSION_CHARS),
        os=_clip(result.os.family, _MAX_FAMILY_CHARS) or _OTHER,
        os_major=_clip(result.os.major, _MAX_VERSION_CHARS),
        device=_device_class(agent),
    )


def parse_user_agent(ua: str) -> BrowserInfo:
    """Reduce a ``User-Agent`` header value to a :class:`BrowserInfo` (R-MIN-3).

    Never raises on odd input: an empty, unknown or non-text value gives ``Other`` families and
    the ``other`` device class.
    """
    if not isinstance(ua, str):
        ua = ""
    return _parse(ua[:MAX_USER_AGENT_CHARS])


def is_bot(ua: str) -> bool:
    """Whether ua-parser and the user-agents rules class this user agent as a bot (crawlers,
    monitors, fetchers); the middleware's crawler detection asks on a value it has not seen."""
    return parse_user_agent(ua).device == "bot"


def crawler_detector(rules: CrawlerRules) -> CrawlerDetector | None:
    """The middleware's crawler detection per the policy's ``[crawlers]`` (``None``: off), with this
    module's bot class for the user agents no token names. Builds the parser now (about 0.1 s),
    not on a request."""
    if not rules.detect:
        return None
    is_bot("")
    return CrawlerDetector(rules.tokens, fallback=is_bot)


def clear_cache() -> None:
    """Forget memoised results (for benchmarks and tests that measure cold parsing)."""
    _parse.cache_clear()
