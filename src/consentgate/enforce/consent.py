"""The effective consent of one request: the visitor's choice, limited by the ceilings.

Ceilings are what no click can lift: in a student session marketing (plus what the policy and the
school deny students) is off; with Global Privacy Control the categories it covers are off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Literal

from consentgate.enforce.consent_cookie import StoredChoice
from consentgate.enforce.policy import ESSENTIAL, Policy

__all__ = ["Consent", "ConsentResolver", "LockReason"]

LockReason = Literal["student", "gpc"]
_EMPTY: Mapping[str, LockReason] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Consent:
    """What a request may do. Handlers find it as ``request.state.consent``."""

    granted: frozenset[str]
    """Categories allowed for this request (essential always among them)."""
    needs_choice: bool
    """True when the visitor has no valid decision yet (the banner asks)."""
    consent_id: str | None = None
    """The random id that links this visitor's records (``None`` before the first decision)."""
    is_student: bool = False
    """Whether this is a student session (marketing, and what the policy denies students, stay off)."""
    gpc: bool = False
    """Whether the request carries Global Privacy Control (``Sec-GPC: 1``)."""
    tenant: str | None = None
    """The school (tenant) of the session, when the app names one."""
    chosen: frozenset[str] = frozenset({ESSENTIAL})
    """What the stored decision says, before ceilings."""
    locked: Mapping[str, LockReason] = field(default_factory=lambda: _EMPTY)
    """Categories a ceiling keeps off, with the reason ("student" or "gpc")."""
    given_at: int | None = None
    """When the stored decision was made (Unix time), ``None`` before the first decision."""
    revision: int = 0
    """The policy revision the stored decision was made under."""

    def allows(self, category: str) -> bool:
        """Whether cookies and scripts of ``category`` may run for this request."""
        return category in self.granted

    @property
    def given_at_datetime(self) -> datetime | None:
        return None if self.given_at is None else datetime.fromtimestamp(self.given_at, UTC)

    def as_dict(self, policy: Policy) -> dict[str, object]:
        """A JSON-ready view (what ``GET /_consent`` answers under ``"consent"``)."""
        names = policy.category_names
        given = self.given_at_datetime
        return {
            "granted": [c for c in names if c in self.granted],
            "denied": [c for c in names if c not in self.granted],
            "locked": dict(self.locked),
            "needs_choice": self.needs_choice,
            "consent_id": self.consent_id,
            "is_student": self.is_student,
            "gpc": self.gpc,
            "tenant": self.tenant,
            "revision": policy.revision,
            "given_at": None if given is None else given.isoformat().replace("+00:00", "Z"),
        }


class ConsentResolver:
    """Applies the policy's ceilings to stored choices. Built once per middleware.

    The ceiling arithmetic for a given (choice, student, GPC, tenant) is memoised: there are few
    distinct combinations, and the hot path then only builds one small object.
    """

    __slots__ = ("_memo", "_policy")

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._memo: dict[
            tuple[frozenset[str], bool, bool, str | None],
            tuple[frozenset[str], Mapping[str, LockReason], frozenset[str]],
        ] = {}

    def ceiling(self, is_student: bool, gpc: bool, tenant: str | None) -> frozenset[str]:
        """Categories that cannot be allowed in this situation, whatever is chosen."""
        denied: set[str] = set()
        if is_student:
            denied |= self._policy.student_denied(tenant)
        if gpc:
            denied |= self._policy.gpc_denies
        return frozenset(denied)

    def limit_for_storage(
        self, wanted: frozenset[str], is_student: bool, tenant: str | None
    ) -> frozenset[str]:
        """What a decision may store: in a student session only what a student may grant, so a
        shared classroom device never carries a student's "Accept All" over to the next user."""
        if not is_student:
            return wanted
        return wanted - self._policy.student_denied(tenant)

    def resolve(
        self,
        stored: StoredChoice | None,
        *,
        is_student: bool,
        gpc: bool,
        tenant: str | None,
    ) -> Consent:
        chosen = stored.granted if stored is not None else frozenset()
        key = (chosen, is_student, gpc, tenant)
        memo = self._memo.get(key)
        if memo is None:
            ceiling = self.ceiling(is_student, gpc, tenant)
            granted = frozenset({ESSENTIAL}) | (chosen - ceiling)
            locked: dict[str, LockReason] = {}
            if is_student:
                for name in self._policy.student_denied(tenant):
                    locked[name] = "student"
            if gpc:
                for name in self._policy.gpc_denies:
                    locked.setdefault(name, "gpc")
            memo = (granted, MappingProxyType(locked) if locked else _EMPTY, chosen | {ESSENTIAL})
            if len(self._memo) < 4096:  # bounded: tenants come from the app, not the visitor
                self._memo[key] = memo
        if stored is None:
            return Consent(
                granted=memo[0],
                needs_choice=True,
                is_student=is_student,
                gpc=gpc,
                tenant=tenant,
                locked=memo[1],
                revision=self._policy.revision,
            )
        # Positional: this runs for every new visitor (field order as declared above).
        return Consent(
            memo[0], False, stored.consent_id, is_student, gpc, tenant, memo[2], memo[1],
            stored.given_at, stored.revision,
        )
