"""Long sequences of requests through ONE middleware: many visitors interleaved, each request in a
situation that may have changed since the last (GPC on or off, student or teacher, school), with
cookie values that change on every hit, as a real browser sends them.

Whatever the middleware remembers between requests (verified consent cookies, the consent built per
situation, the verdicts per cookie-name shape and per Set-Cookie name) must never carry one visitor's
or one situation's answer over to another. Every request is checked in both directions against an
oracle written here, independently of the product's classifier: a literal table of which cookie
belongs to which category and the ceilings spelled out from the policy text below.

* the headers the app sees: exactly the request's cookies of allowed categories, values untouched;
* the ``Set-Cookie`` lines that leave: exactly the app's lines of allowed categories (HttpOnly ones
  included), byte-exact and in order, plus a deletion for every known cookie the request carried
  that is not allowed (R-CON-6) and nothing else;
* the cookie stored by a decision (R-STU-1, R-STU-2, R-GPC-2, R-GPC-5) and the effective consent the
  app is handed (R-GPC-1, R-STU-1).
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field
from typing import Any

import pytest
from support.asgi import call_asgi

from consentgate import ConsentMiddleware, Policy, SecretKeys
from consentgate.enforce.consent_cookie import ConsentCookieCodec

SECRET = "sequence-secret-0123456789-abcdefghijkl"

POLICY = Policy.from_toml(
    """
revision = 7
unknown_cookies = "block"

[categories.essential]
cookies = ["session", "csrftoken"]

[categories.personalization]
cookies = ["lang", "theme"]

[categories.analytics]
cookies = ["_ga", "_ga_*", "_pk_id.*"]

[categories.marketing]
cookies = ["_fbp", "IDE", "ad_*"]

[students]
deny = ["analytics"]

[tenants.lincoln-high]
student_deny = ["personalization"]
""",
    source="sequences.toml",
)
CODEC = ConsentCookieCodec(SecretKeys.load(SECRET), POLICY)

# The oracle: which category each cookie name belongs to, by hand from the policy above.
# None: no rule names it, so it is blocked (unknown_cookies = "block") and never deleted.
CATEGORY_OF: dict[str, str | None] = {
    "session": "essential",
    "csrftoken": "essential",
    "lang": "personalization",
    "theme": "personalization",
    "_ga": "analytics",
    "_ga_K7Q2": "analytics",
    "_pk_id.9.f00d": "analytics",
    "_fbp": "marketing",
    "IDE": "marketing",
    "ad_campaign": "marketing",
    "mystery": None,
    "_gax": None,  # "_ga_*" needs the underscore
    "ad": None,  # so does "ad_*"
    "Theme": None,  # names are case-sensitive
}
NAMES = list(CATEGORY_OF)
OPTIONAL = ("personalization", "analytics", "marketing")
TENANTS = (None, "lincoln-high", "roosevelt")

# What the app sets for each name (the value changes on every hit); HttpOnly ones included.
SET_COOKIE: dict[str, bytes] = {
    "session": b"session=%s; Path=/; HttpOnly; SameSite=Lax",
    "csrftoken": b"csrftoken=%s; Path=/",
    "lang": b"lang=%s; Path=/; Max-Age=31536000",
    "theme": b"theme=%s",
    "_ga": b"_ga=%s; Path=/; HttpOnly; Secure",
    "_ga_K7Q2": b"_ga_K7Q2=%s; Max-Age=63072000",
    "_pk_id.9.f00d": b"_pk_id.9.f00d=%s; Path=/",
    "_fbp": b"_fbp=%s; Path=/; Max-Age=7776000",
    "IDE": b"IDE=%s; Domain=school.test; HttpOnly",
    "ad_campaign": b"ad_campaign=%s; HttpOnly",
    "mystery": b"mystery=%s",
    "_gax": b"_gax=%s; HttpOnly",
    "ad": b"ad=%s",
    "Theme": b"Theme=%s",
}


def allowed(choice: frozenset[str] | None, student: bool, gpc: bool, tenant: str | None) -> frozenset[str]:
    """The categories a request may use: the choice under the ceilings, spelled out from the policy."""
    out = {"essential"} | set(choice or ())
    if gpc:
        out -= {"marketing"}  # gpc_denies (default)
    if student:
        out -= {"marketing", "analytics"}  # always, plus [students] deny
        if tenant == "lincoln-high":
            out -= {"personalization"}
    return frozenset(out)


def stored(requested: frozenset[str], student: bool, tenant: str | None, body_gpc: bool, header_gpc: bool) -> frozenset[str]:
    """What a decision writes into the cookie: a student's choice only as far as a student may grant
    (the next user of a shared device), and a browser-signal GPC's opt-out; the header's GPC is applied
    per request instead, so it is not written."""
    out = set(requested)
    if student:
        out -= {"marketing", "analytics"}
        if tenant == "lincoln-high":
            out -= {"personalization"}
    if body_gpc and not header_gpc:
        out -= {"marketing"}
    return frozenset(out)


@dataclass
class Visitor:
    """One browser: its cookie jar (what the server set and did not delete) and its situation."""

    label: str
    https: bool = False
    jar: dict[str, str] = field(default_factory=dict)
    choice: frozenset[str] | None = None  # what the oracle says the consent cookie holds
    consent_id: str | None = None
    student: bool = False
    gpc: bool = False
    tenant: str | None = None

    @property
    def consent_name(self) -> str:
        return "__Host-consentgate" if self.https else "consentgate"

    def allowed(self) -> frozenset[str]:
        return allowed(self.choice, self.student, self.gpc, self.tenant)


def _app_cookie_pairs(header: bytes | None) -> list[tuple[str, str]]:
    if header is None:
        return []
    return [tuple(piece.split("=", 1)) for piece in header.decode().split("; ")]  # type: ignore[misc]


class Site:
    """One middleware in front of a tiny app, and the checks every request goes through."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}
        self.hits = 0
        self.ids: set[str] = set()
        self.checked = {"requests": 0, "decisions": 0, "app_cookies": 0, "set_cookie": 0, "deleted": 0}

        async def app(scope: Any, receive: Any, send: Any) -> None:
            headers = dict(scope["headers"])
            self.seen = {"cookie": headers.get(b"cookie"), "consent": scope["consentgate.consent"]}
            emitted: list[tuple[bytes, bytes]] = [(b"content-type", b"text/plain")]
            for i, name in enumerate(headers.get(b"x-emit", b"").decode().split()):
                key = b"Set-Cookie" if i % 2 else b"set-cookie"  # some frameworks capitalise
                emitted.append((key, SET_COOKIE[name] % f"v{self.hits}".encode()))
            emitted.append((b"x-app", b"last"))
            self.seen["emitted"] = emitted
            await send({"type": "http.response.start", "status": 200, "headers": emitted})
            await send({"type": "http.response.body", "body": b"ok"})

        def student(scope: Any) -> bool:
            return any(k == b"x-role" and v == b"student" for k, v in scope["headers"])

        def tenant(scope: Any) -> str | None:
            for key, value in scope["headers"]:
                if key == b"x-school":
                    return str(value.decode())
            return None

        self.middleware = ConsentMiddleware(
            app,
            policy=POLICY,
            secret_key=SECRET,
            student_resolver=student,
            tenant_resolver=tenant,
            decision_rate_limit=None,
            banner=False,
        )

    # -- requests ------------------------------------------------------------------------------

    def _headers(self, v: Visitor, extra: list[tuple[str, str]]) -> tuple[list[tuple[bytes, bytes]], list[tuple[str, str]]]:
        pairs = list(v.jar.items()) + extra
        random.Random(self.hits).shuffle(pairs)
        headers = [(b"host", b"school.test")]
        if pairs:
            headers.append((b"cookie", "; ".join(f"{n}={val}" for n, val in pairs).encode()))
        if v.gpc:
            headers.append((b"sec-gpc", b"1"))
        elif self.hits % 3 == 0:
            headers.append((b"sec-gpc", b"0"))  # sent, but not an opt-out
        if v.student:
            headers.append((b"x-role", b"student"))
        if v.tenant is not None:
            headers.append((b"x-school", v.tenant.encode()))
        return headers, pairs

    async def _call(self, v: Visitor, headers: list[tuple[bytes, bytes]], **kw: Any) -> tuple[dict[str, Any], bytes]:
        self.hits += 1
        _, sent = await call_asgi(self.middleware, headers, scheme="https" if v.https else "http", **kw)
        return sent[0], b"".join(m.get("body", b"") for m in sent[1:])

    async def get(self, v: Visitor, emit: list[str], extra: list[tuple[str, str]] = ()) -> None:  # type: ignore[assignment]
        """A page: the browser sends its jar (plus ``extra`` cookies a script wrote), the app sets
        ``emit``."""
        headers, pairs = self._headers(v, list(extra))
        headers.append((b"x-emit", " ".join(emit).encode()))
        self.seen = {}
        start, _ = await self._call(v, headers)
        expected = v.allowed()
        self._check_consent(v, self.seen["consent"], expected)
        # Inbound: exactly the allowed cookies reach the app, values as sent, order kept.
        kept = [(n, val) for n, val in pairs if n == v.consent_name or CATEGORY_OF[n] in expected]
        assert _app_cookie_pairs(self.seen["cookie"]) == kept, (v, pairs, expected)
        self.checked["app_cookies"] += len(pairs)
        # Outbound: exactly the allowed Set-Cookie lines, byte-exact and in order, then deletions.
        out = list(start["headers"])
        deletions = [h for h in out if h[0] == b"set-cookie" and b"Max-Age=0;" in h[1]]
        rest = [h for h in out if h not in deletions and h[0] != b"vary"]
        want = [
            h for h in self.seen["emitted"]
            if h[0].lower() != b"set-cookie" or CATEGORY_OF[h[1].split(b"=", 1)[0].decode()] in expected
        ]
        assert rest == want, (v, emit, expected)
        self.checked["set_cookie"] += len(emit)
        self._check_deletions(v, deletions, pairs, expected)
        assert ((b"vary", b"Cookie, Sec-GPC") in out) == bool(emit or deletions)
        self._store(v, out)

    async def decide(self, v: Visitor, body: dict[str, Any]) -> None:
        """``POST /_consent`` from the visitor's page (same origin)."""
        headers, pairs = self._headers(v, [])
        scheme = "https" if v.https else "http"
        headers += [(b"content-type", b"application/json"), (b"origin", f"{scheme}://school.test".encode())]
        start, content = await self._call(v, headers, method="POST", path="/_consent", body=json.dumps(body).encode())
        assert start["status"] == 200, content
        if "action" in body:
            requested = frozenset(OPTIONAL) if body["action"] == "accept_all" else frozenset()
        else:
            requested = frozenset(body["categories"]) - {"essential"}
        body_gpc = body.get("gpc") is True
        want_stored = stored(requested, v.student, v.tenant, body_gpc, v.gpc)
        # The cookie stored: exactly what the oracle says, under the visitor's id if it had one.
        (line,) = [val for k, val in start["headers"] if k == b"set-cookie" and val.startswith(v.consent_name.encode() + b"=")]
        value = line.split(b";", 1)[0].split(b"=", 1)[1]
        choice = CODEC.decode(value)
        assert choice is not None and choice.granted == want_stored, (v, body, choice)
        if v.choice is not None:
            assert choice.consent_id == v.consent_id  # a new decision keeps the consent id
        else:
            assert choice.consent_id not in self.ids  # a new visitor: a new random id
        assert (b"Secure" in line) == v.https and (b"HttpOnly" in line)
        v.choice, v.consent_id = want_stored, choice.consent_id
        self.ids.add(choice.consent_id)
        # The answer: the consent now in force, and deletions of what it no longer allows.
        expected = allowed(want_stored, v.student, v.gpc or body_gpc, v.tenant)
        state = json.loads(content)["consent"]
        assert set(state["granted"]) == expected, (v, body, state)
        assert state["consent_id"] == v.consent_id and state["needs_choice"] is False
        deletions = [h for h in start["headers"] if h[0] == b"set-cookie" and b"Max-Age=0;" in h[1]]
        self._check_deletions(v, deletions, pairs, expected)
        self.checked["decisions"] += 1
        self._store(v, list(start["headers"]))

    async def state(self, v: Visitor) -> None:
        """``GET /_consent``: what the banner is told."""
        headers, _ = self._headers(v, [])
        start, content = await self._call(v, headers, path="/_consent")
        assert start["status"] == 200
        consent = json.loads(content)["consent"]
        assert set(consent["granted"]) == v.allowed()
        assert consent["consent_id"] == (v.consent_id if v.choice is not None else None)
        assert (consent["gpc"], consent["is_student"], consent["tenant"]) == (v.gpc, v.student, v.tenant)

    # -- checks ---------------------------------------------------------------------------------

    def _check_consent(self, v: Visitor, consent: Any, expected: frozenset[str]) -> None:
        assert consent.granted == expected, (v, consent)
        assert (consent.is_student, consent.gpc, consent.tenant) == (v.student, v.gpc, v.tenant)
        assert consent.needs_choice is (v.choice is None)
        assert consent.consent_id == (v.consent_id if v.choice is not None else None)
        self.checked["requests"] += 1

    def _check_deletions(
        self, v: Visitor, deletions: list[tuple[bytes, bytes]], pairs: list[tuple[str, str]], expected: frozenset[str]
    ) -> None:
        """R-CON-6: every cookie the request carried that a rule knows and that is not allowed now is
        deleted (HttpOnly ones too: the server cannot tell, so it deletes by name); nothing else is."""
        want = {n for n, _ in pairs if CATEGORY_OF.get(n) is not None and CATEGORY_OF[n] not in expected}
        names = [line.split(b"=", 1)[0].decode() for _, line in deletions]
        assert sorted(names) == sorted(want), (v, pairs, expected)
        for _, line in deletions:
            assert line.split(b";", 1)[0].endswith(b"=") and (b"; Secure" in line) == v.https
        self.checked["deleted"] += len(names)

    def _store(self, v: Visitor, headers: list[tuple[bytes, bytes]]) -> None:
        """The browser keeps what was set and drops what was deleted; afterwards it holds nothing
        the request's consent does not allow (the cookie stored, not only the response)."""
        for key, line in headers:
            if key.lower() != b"set-cookie":
                continue
            name, rest = line.decode().split("=", 1)
            if "Max-Age=0;" in rest:
                v.jar.pop(name, None)
            else:
                v.jar[name] = rest.split(";", 1)[0]
        for name in v.jar:
            assert name == v.consent_name or CATEGORY_OF[name] in v.allowed(), (v, name)


def _body(rng: random.Random) -> dict[str, Any]:
    kind = rng.random()
    if kind < 0.3:
        body: dict[str, Any] = {"action": "accept_all"}
    elif kind < 0.5:
        body = {"action": "deny_all"}
    else:
        # An explicit list, students' ones included (the path the ceilings must also cover).
        body = {"categories": rng.sample(["essential", *OPTIONAL], rng.randint(0, 4))}
    if rng.random() < 0.2:
        body["gpc"] = rng.random() < 0.7  # navigator.globalPrivacyControl, sent by the banner
    return body


async def _interleaved(seed: int, requests: int, visitors: int) -> dict[str, int]:
    site = Site()
    rng = random.Random(seed)
    people = [Visitor(f"v{i}", https=i % 4 == 3) for i in range(visitors)]
    for step in range(requests):
        v = rng.choice(people)
        # The situation changes between requests, the consent cookie stays.
        if rng.random() < 0.25:
            v.gpc = not v.gpc
        if rng.random() < 0.15:
            v.student = not v.student
        if rng.random() < 0.15:
            v.tenant = rng.choice(TENANTS)
        # Scripts rewrite the values of the cookies they own on every hit.
        for name in v.jar:
            if name != v.consent_name and rng.random() < 0.6:
                v.jar[name] = f"c{step}.{rng.randrange(10**6)}"
        roll = rng.random()
        if roll < 0.14:
            await site.decide(v, _body(rng))
        elif roll < 0.17:
            await site.state(v)
        elif roll < 0.19 and v.consent_name in v.jar:
            # A tampered or lost consent cookie: no choice any more.
            if rng.random() < 0.5:
                # One character of the signature dropped. (Replacing characters could undo an
                # earlier tampering of the same cookie, and the last one's low bits carry no
                # data: both gave back a valid cookie the model thought lost.)
                value, at = v.jar[v.consent_name], len(v.jar[v.consent_name]) - 6
                v.jar[v.consent_name] = value[:at] + value[at + 1 :]
            else:
                del v.jar[v.consent_name]
            v.choice = None
        else:
            emit = rng.sample(NAMES, rng.randint(0, len(NAMES)))
            extra = [(n, f"x{rng.randrange(1000)}") for n in rng.sample(NAMES, rng.randint(0, 3))]
            await site.get(v, emit, extra)
    return site.checked


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_r_gpc_1_r_stu_1_r_con_6_interleaved_visitors_in_changing_situations(seed: int) -> None:
    """1,500 requests of 12 visitors on one middleware, every one checked both ways (R-CON-1 before a
    choice, R-GPC-2, R-STU-2, R-GPC-5 for decisions with the browser signal)."""
    checked = asyncio.run(_interleaved(seed, requests=1500, visitors=12))
    # The sequence really exercised every check (a generator that drifted would show here).
    assert checked["requests"] > 1000 and checked["decisions"] > 150
    assert checked["app_cookies"] > 5000 and checked["set_cookie"] > 5000 and checked["deleted"] > 300


# -- deterministic sequences ----------------------------------------------------------------------


def test_r_gpc_2_accept_then_gpc_then_no_gpc_then_deny_then_accept() -> None:
    """One visitor walks through the choices while another, who refused, keeps visiting between
    every step: neither's answer may leak to the other (the Set-Cookie verdicts and the consent per
    situation are remembered between requests). R-GPC-1, R-CON-6 (HttpOnly cookies deleted too)."""

    async def walk() -> None:
        site = Site()
        alice, bob = Visitor("alice"), Visitor("bob", https=True)
        await site.decide(bob, {"action": "deny_all"})
        every = list(NAMES)

        async def both() -> None:
            await site.get(alice, every)
            await site.get(bob, every, [("_fbp", "script"), ("_ga", "script")])

        await both()  # alice has not chosen yet
        await site.decide(alice, {"action": "accept_all"})
        await both()
        assert {"_fbp", "IDE", "ad_campaign", "_ga"} <= set(alice.jar)
        alice.gpc = True  # R-GPC-2: the signal beats the stored accept
        await both()
        assert not {"_fbp", "IDE", "ad_campaign"} & set(alice.jar)  # deleted, HttpOnly ones too
        assert "_ga" in alice.jar
        alice.gpc = False  # the stored accept is back
        await both()
        assert {"_fbp", "IDE", "ad_campaign"} <= set(alice.jar)
        await site.decide(alice, {"action": "deny_all"})
        assert set(alice.jar) == {"consentgate", "session", "csrftoken"}
        await both()
        await site.decide(alice, {"action": "accept_all"})
        await both()
        assert {"_fbp", "theme", "_ga_K7Q2"} <= set(alice.jar)
        assert set(bob.jar) == {"__Host-consentgate", "session", "csrftoken"}

    asyncio.run(walk())


def test_r_stu_1_student_then_teacher_on_the_same_cookie() -> None:
    """A shared classroom device: a student accepts all, then a teacher uses the same browser (same
    consent cookie), then the teacher accepts all and a student signs in again."""

    async def walk() -> None:
        site = Site()
        device, other = Visitor("device"), Visitor("other")
        await site.decide(other, {"action": "accept_all"})
        device.student, device.tenant = True, "roosevelt"
        await site.decide(device, {"action": "accept_all"})
        assert device.choice == {"personalization"}  # stored: only what a student may grant
        await site.get(device, NAMES)
        await site.get(other, NAMES)
        device.student = False  # the teacher, same cookie: nothing the student could not grant
        await site.get(device, NAMES)
        assert set(device.jar) == {"consentgate", "session", "csrftoken", "lang", "theme"}
        await site.decide(device, {"action": "accept_all"})
        await site.get(device, NAMES)
        assert {"_fbp", "_ga"} <= set(device.jar)
        device.student = True  # a student again, on the teacher's accept: the ceiling applies
        await site.get(device, NAMES)
        assert set(device.jar) == {"consentgate", "session", "csrftoken", "lang", "theme"}
        device.tenant = "lincoln-high"  # a school that also denies personalization to its students
        await site.get(device, NAMES)
        assert set(device.jar) == {"consentgate", "session", "csrftoken"}
        device.student = False
        await site.get(device, NAMES)
        assert {"_fbp", "_ga", "theme"} <= set(device.jar)

    asyncio.run(walk())


@pytest.mark.parametrize(
    ("tenant", "categories", "want"),
    [
        (None, ["marketing", "analytics", "personalization"], {"personalization"}),
        ("lincoln-high", ["marketing", "analytics", "personalization"], set()),
        ("lincoln-high", ["essential", "personalization"], set()),
        ("roosevelt", ["marketing"], set()),
        ("roosevelt", ["personalization", "essential"], {"personalization"}),
    ],
)
def test_r_stu_1_r_stu_2_a_students_explicit_list_is_limited_in_the_stored_cookie(
    tenant: str | None, categories: list[str], want: set[str]
) -> None:
    """``{"categories": [...]}`` from a student session stores only what a student of that school may
    grant; the next (non-student) user of the cookie gets exactly that."""

    async def walk() -> None:
        site = Site()
        student = Visitor("student", student=True, tenant=tenant)
        await site.decide(student, {"categories": categories})
        assert student.choice == frozenset(want)
        student.student = False
        await site.get(student, NAMES)
        assert set(student.jar) - {"consentgate", "session", "csrftoken"} == (
            {"lang", "theme"} if want else set()
        )

    asyncio.run(walk())


def test_r_gpc_5_a_browser_signal_decision_stores_the_opt_out() -> None:
    """GPC seen only by the banner (``"gpc": true`` in the body): the opt-out is stored, so later
    requests without the header stay opted out; with the header, the choice is stored as made."""

    async def walk() -> None:
        site = Site()
        js_only, header = Visitor("js"), Visitor("header", gpc=True)
        await site.decide(js_only, {"action": "accept_all", "gpc": True})
        assert js_only.choice == {"personalization", "analytics"}
        await site.decide(header, {"action": "accept_all", "gpc": True})
        assert header.choice == set(OPTIONAL)
        for _ in range(3):
            await site.get(js_only, NAMES)
            await site.get(header, NAMES)
        header.gpc = False
        await site.get(header, NAMES)
        assert "_fbp" in header.jar and "_fbp" not in js_only.jar

    asyncio.run(walk())


def test_the_same_cookie_values_in_every_situation_in_turn() -> None:
    """One visitor per choice, the same consent cookie each, cycled through all twelve situations
    three times, interleaved: each answer must be the one of that situation, not the last one seen
    (R-GPC-1, R-STU-1, R-STU-2)."""

    async def walk() -> None:
        site = Site()
        choices = [set(), {"analytics"}, {"marketing"}, set(OPTIONAL), {"personalization", "marketing"}]
        people = [Visitor(f"p{i}") for i in range(len(choices))]
        for person, choice in zip(people, choices, strict=True):
            await site.decide(person, {"categories": sorted(choice)})
        situations = [(s, g, t) for s in (False, True) for g in (False, True) for t in TENANTS]
        for round_ in range(3):
            for index, (student, gpc, tenant) in enumerate(situations):
                for person in people:
                    person.student, person.gpc, person.tenant = situations[(index + round_ * 5) % len(situations)] \
                        if person.label == "p0" else (student, gpc, tenant)
                    await site.get(person, NAMES, [("_fbp", "s"), ("_ga", "s"), ("theme", "s")])

    asyncio.run(walk())
