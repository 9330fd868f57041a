"""Request streams shaped like real browsers' traffic, shared by the benchmarks.

``real`` (the default everywhere): 3 in 10 requests are first visits without any cookie; the rest
come from a few thousand returning visitors whose ``Cookie`` header carries

* their consent cookie (55 % accepted all, 25 % analytics only, 20 % refused all),
* a session cookie (signed for Starlette's SessionMiddleware, so that middleware does real work;
  it rotates every 10th hit),
* when analytics is allowed, Google Analytics 4's ``_ga`` and ``_ga_<container>``: the second is
  rewritten with the hit's time on every page view, so no two requests carry the same header,
* when marketing is allowed, ``_fbp``;
* leftovers of withdrawn categories: a fifth of the analytics-only visitors still carry ``_fbp``,
  a fifth of the refusers an old ``_ga`` (the middleware must remove them and ask the browser to
  delete them);

and 1 in 8 returning visitors is a student (``scope["state"]["roles"]``, as an app's
authentication layer would set it).

``repeating``: the shape the benchmarks used before this model: one visitor's header, the same
bytes on every request.
"""

from __future__ import annotations

import json
import random
from base64 import b64encode
from collections.abc import Iterator
from dataclasses import dataclass

from starlette.middleware.sessions import SessionMiddleware

from consentgate import Policy, SecretKeys
from consentgate.enforce.consent_cookie import ConsentCookieCodec, new_consent_id

__all__ = ["SHAPES", "Request", "Visitor", "real_traffic", "repeating_traffic", "visitors"]

SHAPES = ("real", "repeating")
FIRST_VISIT_SHARE = 0.3
STUDENT_SHARE = 1 / 8
_CONTAINER = "Q7X2M4KD9P"


@dataclass(frozen=True, slots=True)
class Request:
    """What the benchmarks send: the Cookie header (None on a first visit) and whether the app
    knows the visitor as a student."""

    cookie: bytes | None
    student: bool = False


@dataclass(slots=True)
class Visitor:
    consent: str
    sessions: tuple[str, ...]
    granted: frozenset[str]
    student: bool
    client_id: str
    leftover: str | None
    hits: int = 0

    def header(self, now: int) -> bytes:
        self.hits += 1
        parts = [self.consent, "session=" + self.sessions[(self.hits // 10) % len(self.sessions)]]
        if "analytics" in self.granted:
            parts.append(f"_ga=GA1.1.{self.client_id}")
            parts.append(f"_ga_{_CONTAINER}=GS1.1.{now}.{self.hits}.1.{now + self.hits}.0.0.0")
        if "marketing" in self.granted:
            parts.append(f"_fbp=fb.1.{self.client_id.replace('.', '')}")
        if self.leftover:
            parts.append(self.leftover)
        return "; ".join(parts).encode()


def visitors(policy: Policy, secret: str, count: int, *, seed: int = 7) -> list[Visitor]:
    """``count`` returning visitors with valid consent and session cookies."""
    rng = random.Random(seed)
    codec = ConsentCookieCodec(SecretKeys.load(secret), policy)
    signer = SessionMiddleware(_nothing, secret_key=secret).signer
    out = []
    for i in range(count):
        roll = rng.random()
        if roll < 0.55:
            granted = frozenset(policy.optional_categories)
        elif roll < 0.80:
            granted = frozenset({"analytics"})
        else:
            granted = frozenset()
        client_id = f"{rng.randrange(10**9, 10**10)}.{rng.randrange(1_600_000_000, 1_700_000_000)}"
        leftover = None
        if granted == {"analytics"} and rng.random() < 0.2:
            leftover = f"_fbp=fb.1.{rng.randrange(10**12)}"
        elif not granted and rng.random() < 0.2:
            leftover = f"_ga=GA1.1.{client_id}"
        sessions = tuple(
            signer.sign(b64encode(json.dumps({"user": f"user-{i}", "n": n}).encode())).decode() for n in range(3)
        )
        consent = "consentgate=" + codec.encode(granted, new_consent_id())
        out.append(Visitor(consent, sessions, granted, rng.random() < STUDENT_SHARE, client_id, leftover))
    return out


def real_traffic(people: list[Visitor], *, seed: int = 11, start: int = 1_760_000_000) -> Iterator[Request]:
    """An endless stream of requests in the real-browser shape (see the module docstring)."""
    rng = random.Random(seed)
    now = start
    while True:
        now += 1
        if rng.random() < FIRST_VISIT_SHARE:
            yield Request(None)
            continue
        visitor = people[rng.randrange(len(people))]
        yield Request(visitor.header(now), visitor.student)


def repeating_traffic(people: list[Visitor]) -> Iterator[Request]:
    """The same header on every request: one visitor's (analytics allowed), frozen."""
    visitor = next(v for v in people if v.granted == {"analytics"} and not v.student and not v.leftover)
    header = visitor.header(1_760_000_000)
    while True:
        yield Request(header)


async def _nothing(scope: object, receive: object, send: object) -> None:
    return None
