"""The hand-written ``</body>`` search agrees with the obvious regular expression on any page."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from support.fuzzcount import tried

from consentgate.banner.injection import _last_body_end

REFERENCE = re.compile(rb"</body\s*>", re.IGNORECASE)
pieces = st.sampled_from(
    [b"</body>", b"</BODY >", b"</Body\n\t>", b"</body", b"<body>", b">", b" ", b"x" * 50, b"</bod", b"\xff",
     b"</body" + b" " * 300 + b">", b" " * 4000, b"a" * 4090, b"<script>'</body>'</script>"]
)


def _reference(data: bytes) -> int:
    index = -1
    for match in REFERENCE.finditer(data):
        index = match.start()
    return index


@settings(max_examples=500, deadline=None)
@given(st.lists(pieces, max_size=12))
def test_last_body_end_matches_the_regex(parts: list[bytes]) -> None:
    tried("</body> search (pages)")
    data = b"".join(parts)
    assert _last_body_end(data) == _reference(data)
