"""Consent receipts: the proof, kept by the privacy log, of what a visitor decided (R-CON-9).

A :class:`Receipt` is made from every :class:`~consentgate.enforce.decisions.Decision` taken through
``POST /_consent``. It holds the receipt id, the random consent id, the UTC time, the method (which
button, API call or signal), the policy revision and the hash of the notice text the visitor saw,
the language, the categories asked for, granted and refused (with the ceiling that limited any of
them: ``"student"`` or ``"gpc"``), the student and GPC flags, the tenant and when the choice
expires. Nothing more identifying: no IP address, no user agent, no account.

Export shaped after ISO/IEC TS 27560 (consent record information structure)
---------------------------------------------------------------------------
:meth:`Receipt.to_iso27560` gives one JSON object with the four parts of a TS 27560 record. How
each of our fields fills them:

============================  ==============================================================
TS 27560 part / element       consentgate receipt field
============================  ==============================================================
header.record_id              ``receipt_id`` (UUID 4, also the store's primary key)
header.schema_version         ``"consentgate-iso27560/1"`` (this profile)
header.pii_principal_id       ``consent_id`` (random, pseudonymous; the only link between
                              records, and what the visitor's cookie carries)
header.created / .expires     ``time`` / ``expires_at`` (when the cookie stops counting)
processing[]                  one entry per optional category of the decision: ``purpose``
                              (the category), ``legal_basis`` ``"consent"``, ``status``
                              ``"granted"`` / ``"refused"``, ``requested`` and ``limited_by``
                              (a ceiling that overrode the request)
parties[]                     the PII controller (the operator's name when given, and the
                              ``tenant``, i.e. the school, when there is one) and the PII
                              principal (``consent_id``, ``is_student``: a child/student
                              principal in TS 27560 terms)
events[]                      one consent event: ``time``, ``type`` ``"given"`` (something
                              optional granted) or ``"refused"`` (nothing optional granted),
                              ``method`` (how consent was expressed), ``actor``
                              ``"pii_principal"``, ``notice`` (``policy_revision``,
                              ``notice_hash`` with ``hash_algorithm`` SHA-256, ``language``),
                              ``signals`` (``gpc``), ``duration_days`` / ``expires``
============================  ==============================================================

Essential (strictly necessary) cookies need no consent and do not appear as a purpose.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from consentgate.enforce.decisions import Decision
from consentgate.enforce.policy import Policy

__all__ = ["ISO27560_SCHEMA_VERSION", "Receipt", "format_time", "parse_time"]

ISO27560_SCHEMA_VERSION = "consentgate-iso27560/1"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_time(moment: datetime) -> str:
    """UTC, whole seconds, fixed width (``2025-01-31T12:00:00Z``): sorts as text in both stores."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


def _names(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


@dataclass(frozen=True, slots=True)
class Receipt:
    """One proof of consent. Build it with :meth:`from_decision`; it round-trips through
    :meth:`as_dict` / :meth:`from_dict` (the store and the spool use that form)."""

    receipt_id: str
    consent_id: str
    time: datetime
    method: str
    policy_revision: int
    notice_hash: str
    language: str | None
    requested: tuple[str, ...]
    granted: tuple[str, ...]
    refused: tuple[str, ...]
    is_student: bool
    gpc: bool
    tenant: str | None
    limited_by: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    expires_at: datetime | None = None

    @classmethod
    def from_decision(cls, decision: Decision, policy: Policy | None = None) -> Receipt:
        """The receipt of ``decision``; with the policy, it also records when the choice expires."""
        expires = None
        if policy is not None:
            seconds = policy.max_age_seconds(bool(decision.stored))
            expires = decision.time + timedelta(seconds=seconds)
        return cls(
            receipt_id=str(uuid.uuid4()),
            consent_id=decision.consent_id,
            time=decision.time.astimezone(UTC).replace(microsecond=0),
            method=decision.method,
            policy_revision=decision.revision,
            notice_hash=decision.notice_hash,
            language=decision.language,
            requested=_names(decision.requested),
            granted=_names(decision.granted),
            refused=_names(decision.refused),
            is_student=decision.is_student,
            gpc=decision.gpc,
            tenant=decision.tenant,
            limited_by=MappingProxyType(dict(sorted(decision.limited_by.items()))),
            expires_at=None if expires is None else expires.astimezone(UTC).replace(microsecond=0),
        )

    @property
    def limited(self) -> bool:
        """True when a ceiling (student or GPC) changed what the visitor asked for."""
        return bool(self.limited_by)

    def as_dict(self) -> dict[str, Any]:
        """A flat JSON-ready form (what ``/my-data`` shows and the spool stores)."""
        return {
            "receipt_id": self.receipt_id,
            "consent_id": self.consent_id,
            "time": format_time(self.time),
            "method": self.method,
            "policy_revision": self.policy_revision,
            "notice_hash": self.notice_hash,
            "language": self.language,
            "requested": list(self.requested),
            "granted": list(self.granted),
            "refused": list(self.refused),
            "limited_by": dict(self.limited_by),
            "is_student": self.is_student,
            "gpc": self.gpc,
            "tenant": self.tenant,
            "expires_at": None if self.expires_at is None else format_time(self.expires_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Receipt:
        """Inverse of :meth:`as_dict`; raises ``KeyError``/``ValueError``/``TypeError`` on bad input."""
        limited = data.get("limited_by") or {}
        if not isinstance(limited, Mapping):
            raise TypeError("limited_by must be an object")
        expires = data.get("expires_at")
        return cls(
            receipt_id=str(data["receipt_id"]),
            consent_id=str(data["consent_id"]),
            time=parse_time(str(data["time"])),
            method=str(data["method"]),
            policy_revision=int(data["policy_revision"]),
            notice_hash=str(data["notice_hash"]),
            language=None if data.get("language") is None else str(data["language"]),
            requested=_names(map(str, data.get("requested", ()))),
            granted=_names(map(str, data["granted"])),
            refused=_names(map(str, data["refused"])),
            is_student=bool(data["is_student"]),
            gpc=bool(data["gpc"]),
            tenant=None if data.get("tenant") is None else str(data["tenant"]),
            limited_by=MappingProxyType({str(k): str(v) for k, v in sorted(limited.items())}),
            expires_at=None if expires is None else parse_time(str(expires)),
        )

    def to_iso27560(self, *, controller: str | None = None) -> dict[str, Any]:
        """This receipt as a record shaped after ISO/IEC TS 27560 (see the module docstring)."""
        created = format_time(self.time)
        expires = None if self.expires_at is None else format_time(self.expires_at)
        duration = None
        if self.expires_at is not None:
            duration = round((self.expires_at - self.time).total_seconds() / 86400)
        processing = [
            {
                "purpose": category,
                "legal_basis": "consent",
                "status": "granted" if category in self.granted else "refused",
                "requested": category in self.requested,
                "limited_by": self.limited_by.get(category),
            }
            for category in sorted(set(self.granted) | set(self.refused))
        ]
        controller_party: dict[str, Any] = {"role": "pii_controller", "name": controller}
        if self.tenant is not None:
            controller_party["tenant"] = self.tenant
        return {
            "header": {
                "schema_version": ISO27560_SCHEMA_VERSION,
                "record_id": self.receipt_id,
                "pii_principal_id": self.consent_id,
                "created": created,
                "expires": expires,
            },
            "processing": processing,
            "parties": [
                controller_party,
                {"role": "pii_principal", "id": self.consent_id, "is_student": self.is_student},
            ],
            "events": [
                {
                    "time": created,
                    "type": "given" if self.granted else "refused",
                    "method": self.method,
                    "actor": "pii_principal",
                    "notice": {
                        "policy_revision": self.policy_revision,
                        "notice_hash": self.notice_hash,
                        "hash_algorithm": "sha-256",
                        "language": self.language,
                    },
                    "signals": {"gpc": self.gpc},
                    "duration_days": duration,
                    "expires": expires,
                }
            ],
        }
