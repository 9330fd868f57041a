"""Crawlers and other automated clients: no banner for them, nothing recorded about them.

A search engine's crawler, an AI crawler, a link previewer or a headless browser that says what it
is cannot consent and is not a visitor: it gets no banner markup, no visit record and no receipt
(the middleware refuses its decisions). Enforcement does not change: like any request without a
choice it never gets an optional cookie.

Detection reads the ``User-Agent`` and is memoised per value (:class:`~consentgate.enforce.memo.Memo`),
so a request costs one header scan and one dict lookup, and only where it matters (HTML pages,
recorded visits, decisions). A value seen for the first time is checked against the crawler
tokens below (and the policy's ``[crawlers] tokens``); if none matches, an optional fallback
decides (the middleware passes ua-parser's bot class, which knows the long tail of monitors and
fetchers, at about 25 µs per new value). ``[crawlers] detect = false`` turns all of it off.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from starlette.types import Scope

from consentgate.enforce.memo import Memo

__all__ = ["CRAWLER_TOKENS", "CrawlerDetector"]

#: Substrings (lowercase) of the user agents of well-known crawlers and automated browsers.
CRAWLER_TOKENS: tuple[str, ...] = (
    "googlebot", "google-inspectiontool", "googleother", "mediapartners-google", "adsbot-google",
    "feedfetcher-google", "bingbot", "bingpreview", "msnbot", "slurp", "duckduckbot", "baiduspider",
    "yandex.com/bots", "applebot", "gptbot", "chatgpt-user", "oai-searchbot", "claudebot",
    "claude-web", "anthropic-ai", "perplexitybot", "ccbot", "bytespider", "petalbot", "amazonbot",
    "facebookexternalhit", "meta-externalagent", "twitterbot", "linkedinbot", "slackbot",
    "discordbot", "telegrambot", "whatsapp", "semrushbot", "ahrefsbot", "mj12bot", "dotbot",
    "ia_archiver", "archive.org_bot", "headlesschrome", "phantomjs", "lighthouse", "crawl",
    "spider", "scrapy",
)  # fmt: skip
# "bot" as a word ending ("Googlebot/2.1", "SomeBot;", "bot@") but not inside a phone's name (CUBOT).
_BOT_WORD = r"(?<!cu)bot(?![a-z])"
_AGENT_LIMIT = 512  # bytes of a User-Agent that are read (and memoised)
_MEMO_LIMIT = 4096  # distinct user agents held (x2 generations)


class CrawlerDetector:
    """``detector(scope)``: whether the request comes from a crawler. Built once per middleware.

    Args:
        tokens: more case-insensitive substrings that mark a crawler (the policy's).
        fallback: ``user agent -> bool`` asked when no token matches, once per distinct value.
    """

    def __init__(self, tokens: Iterable[str] = (), *, fallback: Callable[[str], bool] | None = None) -> None:
        words = [re.escape(token.lower()) for token in (*CRAWLER_TOKENS, *tokens) if token]
        self._pattern = re.compile("|".join([*words, _BOT_WORD]))
        self._fallback = fallback
        self._agents: Memo[bytes, bool] = Memo(self._judge, _MEMO_LIMIT)

    def __call__(self, scope: Scope) -> bool:
        try:
            for key, value in scope["headers"]:
                # lowercase from servers; another spelling is lowered only when the length matches
                if len(key) == 10 and (key == b"user-agent" or key.lower() == b"user-agent"):
                    return self._agents[value[:_AGENT_LIMIT]]
        except (TypeError, ValueError, AttributeError):  # headers an inner app garbled: not a crawler
            pass
        return False

    def is_crawler(self, user_agent: str | bytes) -> bool:
        """Whether this ``User-Agent`` value marks a crawler."""
        raw = user_agent.encode("latin-1", "replace") if isinstance(user_agent, str) else user_agent
        return self._agents[raw[:_AGENT_LIMIT]]

    def _judge(self, raw: bytes) -> bool:
        agent = raw.decode("latin-1")
        if self._pattern.search(agent.lower()):
            return True
        return self._fallback is not None and bool(agent) and self._fallback(agent)
