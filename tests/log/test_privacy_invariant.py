"""The privacy log's invariant, driven by hypothesis through the real middleware.

Random visitors (a decision or none, student or not, GPC or not, a tenant, IPv4/IPv6 addresses
through a trusted proxy, real user-agent strings, referrers and paths with secrets in their path
and query) make requests; then the whole database file is read back:

* a visit row exists exactly for the requests whose consent allowed the visit category (R-MIN-1);
* no raw IP, raw user agent, referrer path or query string appears anywhere in its bytes
  (R-MIN-2 to R-MIN-4).
"""

from __future__ import annotations

import ipaddress
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from coreapp import client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_privacy_log import STUDENT_POLICY, log_app

from consentgate import Policy
from consentgate.log.privacy_log import PrivacyLog

POLICY = Policy.from_toml(STUDENT_POLICY + "\n[crawlers]\ndetect = false\n", source="invariant.toml")
# Students may allow analytics, except at strict-school, which denies it to its students. Crawler
# detection is off: the corpus's bots are visitors here too, so their visits are minimised like any
# other (what happens to crawlers with detection on: tests/enforce/test_crawlers.py).
PROXY = "10.0.0.1"
USER_AGENTS = [
    case["ua"]
    for case in yaml.safe_load((Path(__file__).resolve().parents[1] / "data" / "user_agents.yaml").read_text())["test_cases"]
    if len(case["ua"]) >= 40  # long enough that finding one in the file can only mean a leak
]
DECISIONS: list[dict[str, object] | None] = [
    None,
    {"action": "accept_all"},
    {"action": "deny_all"},
    {"categories": ["analytics"]},
    {"categories": ["personalization", "marketing"]},
    {"categories": ["analytics", "marketing"]},
]


@dataclass(frozen=True)
class Visitor:
    decision: dict[str, object] | None
    student: bool
    gpc: bool
    tenant: str | None
    ip: str
    user_agent: str
    secret: str

    def allowed(self) -> bool:
        """The oracle, written from the policy text rather than from the code under test."""
        if self.decision is None:
            return False
        requested = self.decision.get("categories") or (
            ["analytics"] if self.decision.get("action") == "accept_all" else []
        )
        if "analytics" not in requested:  # type: ignore[operator]
            return False
        return not (self.student and self.tenant == "strict-school")


ipv4 = st.tuples(
    st.integers(1, 223), st.integers(0, 255), st.integers(0, 255), st.integers(1, 254)
).map(lambda o: ".".join(map(str, o)))
ipv6 = st.integers(1, 2**128 - 1).map(
    lambda n: str(ipaddress.IPv6Address((0x2001_0DB8 << 96) | (n & ((1 << 80) - 1)) | 1))
)
visitors = st.builds(
    Visitor,
    decision=st.sampled_from(DECISIONS),
    student=st.booleans(),
    gpc=st.booleans(),
    tenant=st.sampled_from([None, "open-school", "strict-school"]),
    ip=st.one_of(ipv4, ipv6),
    user_agent=st.sampled_from(USER_AGENTS),
    secret=st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=12, max_size=12),
)


def _headers(v: Visitor) -> dict[str, str]:
    headers = {"x-forwarded-for": v.ip, "user-agent": v.user_agent}
    if v.student:
        headers["x-test-student"] = "1"
    if v.gpc:
        headers["sec-gpc"] = "1"
    if v.tenant:
        headers["x-test-tenant"] = v.tenant
    return headers


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(visitors, min_size=1, max_size=8))
def test_r_min_1_to_4_only_allowed_visits_and_nothing_raw_in_the_database(people: list[Visitor]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "log.sqlite3"
        log = PrivacyLog(str(path), POLICY, trusted_proxies=[PROXY], flush_interval=0.01)
        with client(log_app(log), client=(PROXY, 4000)) as tc:
            for index, person in enumerate(people):
                tc.cookies.clear()
                headers = _headers(person)
                cookie = None
                if person.decision is not None:
                    response = tc.post(
                        "/_consent", json=person.decision, headers={"origin": "http://testserver", **headers}
                    )
                    assert response.status_code == 200
                    cookie = response.headers["set-cookie"].split(";", 1)[0]
                    tc.cookies.clear()
                if cookie:
                    headers["cookie"] = cookie
                headers["referer"] = f"https://ref.example/path-{person.secret}/x?q=query-{person.secret}"
                page = tc.get(f"/page?utm=leak-{person.secret}&n={index}", headers=headers)
                assert page.status_code == 200
        # the lifespan shutdown wrote every queued visit
        rows = log.store._read("SELECT consent_id, ip_prefix, referrer_origin, path FROM consentgate_all_visits")
        assert len(rows) == sum(p.allowed() for p in people)
        for _, ip_prefix, referrer, stored_path in rows:
            assert referrer == "https://ref.example"
            assert stored_path == "/page"
            address = ipaddress.ip_address(ip_prefix)
            bits = 24 if address.version == 4 else 48
            assert ipaddress.ip_network(f"{ip_prefix}/{bits}").network_address == address

        data = b"".join(p.read_bytes() for p in Path(directory).iterdir() if p.name.startswith("log.sqlite3"))
        for person in people:
            assert person.ip.encode() not in data, "a raw IP address was stored"
            assert str(ipaddress.ip_address(person.ip).exploded).encode() not in data
            assert person.user_agent.encode() not in data, "a raw user agent was stored"
            assert f"path-{person.secret}".encode() not in data, "a referrer path was stored"
            assert f"query-{person.secret}".encode() not in data, "a referrer query was stored"
            assert f"leak-{person.secret}".encode() not in data, "a query string was stored"
