"""What an audit runs: its options and the scenarios (first visit, Deny All, Accept All, a partial
choice, GPC, a student session), each in a fresh browser context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from consentgate.enforce.policy import ESSENTIAL, Policy

if TYPE_CHECKING:
    pass


Action = Literal["none", "deny_all", "accept_all", "choice"]

__all__ = ["Action", "AuditError", "AuditOptions", "Scenario", "build_scenarios", "origin_of"]


class AuditError(Exception):
    """The audit cannot run: a bad option, an unreachable site, no browser. The message says what to fix."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """One visit plan: what the visitor does and under which conditions."""

    key: str
    title: str
    action: Action
    categories: frozenset[str] = frozenset()
    gpc: bool = False
    student: bool = False

    def allowed(self, policy: Policy) -> frozenset[str]:
        """Categories a correct site may use in this scenario."""
        if self.action in ("none", "deny_all"):
            granted = frozenset({ESSENTIAL})
        elif self.action == "choice":
            granted = frozenset({ESSENTIAL}) | self.categories
        else:
            granted = frozenset(policy.category_names)
        if self.gpc:
            granted -= policy.gpc_denies
        if self.student:
            granted -= policy.student_deny
        return granted


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """Everything one audit run needs; built and checked by the command line."""

    url: str
    policy: Policy
    crawl: int = 0
    choice: frozenset[str] | None = None
    student_login: str | None = None
    student_cookie: tuple[str, str] | None = None
    accept_selector: str | None = None
    deny_selector: str | None = None
    timeout: float = 15.0
    chromium: str | None = None
    delay: float = 0.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AuditError(f"the URL must be an http:// or https:// address, got {self.url!r}")
        if self.crawl < 0:
            raise AuditError(f"--crawl must be 0 or more, got {self.crawl}")
        if self.timeout <= 0:
            raise AuditError(f"--timeout must be more than 0 seconds, got {self.timeout}")
        if self.delay < 0:
            raise AuditError(f"--delay must be 0 or more seconds, got {self.delay}")
        if self.choice is not None:
            unknown = sorted(c for c in self.choice if not self.policy.has_category(c))
            if unknown:
                raise AuditError(
                    f"--choice names unknown categor{'ies' if len(unknown) > 1 else 'y'} "
                    f"{', '.join(unknown)}; the policy has {', '.join(self.policy.category_names)}"
                )

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()

    @property
    def origin(self) -> tuple[str, str, int | None]:
        return origin_of(self.url)


def build_scenarios(options: AuditOptions) -> list[Scenario]:
    """The scenarios an audit runs, in order (the partial and student ones only when asked for)."""
    scenarios = [
        Scenario("first-visit", "First visit, no action", "none"),
        Scenario("deny-all", "Deny All", "deny_all"),
        Scenario("accept-all", "Accept All", "accept_all"),
    ]
    if options.choice is not None:
        chosen = frozenset(options.choice) - {ESSENTIAL}
        label = ", ".join(sorted(chosen)) or "nothing optional"
        scenarios.append(Scenario("choice", f"Partial choice ({label})", "choice", chosen))
    scenarios.append(Scenario("gpc", "Accept All with Global Privacy Control", "accept_all", gpc=True))
    if options.student_login or options.student_cookie:
        scenarios.append(Scenario("student", "Accept All in a student session", "accept_all", student=True))
    return scenarios


def origin_of(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return (parts.scheme, (parts.hostname or "").lower(), port)
