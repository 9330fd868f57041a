"""Receipts and visit records as the privacy log makes them, for tests of the stores and the CLI."""

from __future__ import annotations

from datetime import UTC, datetime

from consentgate import Decision
from consentgate.log.minimise import VisitRecord
from consentgate.log.receipts import Receipt

NOW = datetime(2025, 6, 15, 12, 0, 0, tzinfo=UTC)


def make_receipt(
    consent_id: str = "cid-1",
    *,
    when: datetime = NOW,
    granted: frozenset[str] = frozenset({"analytics"}),
    gpc: bool = False,
    student: bool = False,
    tenant: str | None = None,
) -> Receipt:
    optional = frozenset({"personalization", "analytics", "marketing"})
    return Receipt.from_decision(
        Decision(
            consent_id=consent_id,
            time=when,
            method="categories",
            requested=granted,
            granted=granted,
            refused=optional - granted,
            stored=granted,
            revision=1,
            notice_hash="0" * 64,
            language="en",
            is_student=student,
            gpc=gpc,
            tenant=tenant,
        )
    )


def make_visit(
    consent_id: str = "cid-1", *, when: datetime = NOW, tenant: str | None = None, path: str = "/"
) -> VisitRecord:
    return VisitRecord(
        time=when.timestamp(),
        path=path,
        ip_prefix="203.0.113.0",
        country="DE",
        browser="Firefox",
        browser_major="128",
        os="Linux",
        os_major=None,
        device="desktop",
        referrer_origin="https://example.org",
        consent_id=consent_id,
        tenant=tenant,
        is_student=False,
    )
