"""Consent receipts (R-CON-9) and their ISO/IEC TS 27560-shaped export."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType

import pytest
from coreapp import make_policy

from consentgate import Decision
from consentgate.log.receipts import ISO27560_SCHEMA_VERSION, Receipt, format_time, parse_time

WHEN = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def decision(**changes: object) -> Decision:
    values: dict[str, object] = {
        "consent_id": "AbCdEfGhIjKlMnOp",
        "time": WHEN,
        "method": "banner:save",
        "requested": frozenset({"analytics", "marketing"}),
        "granted": frozenset({"analytics"}),
        "refused": frozenset({"marketing", "personalization"}),
        "stored": frozenset({"analytics", "marketing"}),
        "revision": 3,
        "notice_hash": "ab" * 32,
        "language": "fr",
        "is_student": False,
        "gpc": True,
        "tenant": "lincoln-high",
        "limited_by": MappingProxyType({"marketing": "gpc"}),
    }
    values.update(changes)
    return Decision(**values)  # type: ignore[arg-type]


def test_r_con_9_receipt_holds_the_proof_and_nothing_more_identifying() -> None:
    receipt = Receipt.from_decision(decision(), make_policy())
    data = receipt.as_dict()
    assert set(data) == {
        "receipt_id", "consent_id", "time", "method", "policy_revision", "notice_hash", "language",
        "requested", "granted", "refused", "limited_by", "is_student", "gpc", "tenant", "expires_at",
    }  # fmt: skip
    assert data["consent_id"] == "AbCdEfGhIjKlMnOp"
    assert data["time"] == "2025-03-04T05:06:07Z"
    assert data["method"] == "banner:save"
    assert data["policy_revision"] == 3
    assert data["notice_hash"] == "ab" * 32
    assert data["language"] == "fr"
    assert data["granted"] == ["analytics"]
    assert data["refused"] == ["marketing", "personalization"]
    assert data["requested"] == ["analytics", "marketing"]
    assert data["limited_by"] == {"marketing": "gpc"}
    assert receipt.limited
    assert data["gpc"] is True and data["is_student"] is False and data["tenant"] == "lincoln-high"


def test_each_receipt_gets_its_own_id() -> None:
    ids = {Receipt.from_decision(decision()).receipt_id for _ in range(50)}
    assert len(ids) == 50


def test_r_con_7_expiry_follows_consent_or_refusal_lifetime() -> None:
    policy = make_policy()
    granted = Receipt.from_decision(decision(), policy)
    assert granted.expires_at == WHEN + timedelta(days=395)
    refused = Receipt.from_decision(decision(stored=frozenset(), granted=frozenset()), policy)
    assert refused.expires_at == WHEN + timedelta(days=182)
    assert Receipt.from_decision(decision()).expires_at is None


def test_round_trip_through_dict_and_json() -> None:
    receipt = Receipt.from_decision(decision(), make_policy())
    again = Receipt.from_dict(json.loads(json.dumps(receipt.as_dict())))
    assert again == receipt


@pytest.mark.parametrize(
    "broken",
    [{}, {"granted": None}, {"time": "yesterday"}, {"limited_by": ["a"]}, {"policy_revision": "three"}],
)
def test_from_dict_rejects_broken_input(broken: dict[str, object]) -> None:
    data = {**Receipt.from_decision(decision()).as_dict(), **broken}
    if not broken:
        data.pop("consent_id")
    with pytest.raises((KeyError, ValueError, TypeError)):
        Receipt.from_dict(data)


def test_times_are_fixed_width_utc_text() -> None:
    local = datetime(2025, 1, 2, 3, 4, 5, 999999, tzinfo=UTC).astimezone(timezone(timedelta(hours=5)))
    assert format_time(local) == "2025-01-02T03:04:05Z"
    assert parse_time("2025-01-02T03:04:05Z") == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert format_time(datetime(2025, 1, 2)) == "2025-01-02T00:00:00Z"  # naive counts as UTC


def test_iso27560_export_has_the_four_parts_and_maps_every_field() -> None:
    receipt = Receipt.from_decision(decision(is_student=True), make_policy())
    record = receipt.to_iso27560(controller="Lincoln School District")
    assert set(record) == {"header", "processing", "parties", "events"}
    assert record["header"] == {
        "schema_version": ISO27560_SCHEMA_VERSION,
        "record_id": receipt.receipt_id,
        "pii_principal_id": "AbCdEfGhIjKlMnOp",
        "created": "2025-03-04T05:06:07Z",
        "expires": format_time(WHEN + timedelta(days=395)),
    }
    purposes = {p["purpose"]: p for p in record["processing"]}
    assert set(purposes) == {"analytics", "marketing", "personalization"}  # essential needs no consent
    assert purposes["analytics"]["status"] == "granted"
    assert purposes["marketing"] == {
        "purpose": "marketing",
        "legal_basis": "consent",
        "status": "refused",
        "requested": True,
        "limited_by": "gpc",
    }
    assert purposes["personalization"]["requested"] is False
    controller, principal = record["parties"]
    assert controller == {"role": "pii_controller", "name": "Lincoln School District", "tenant": "lincoln-high"}
    assert principal == {"role": "pii_principal", "id": "AbCdEfGhIjKlMnOp", "is_student": True}
    (event,) = record["events"]
    assert event["type"] == "given"
    assert event["method"] == "banner:save"
    assert event["notice"] == {
        "policy_revision": 3,
        "notice_hash": "ab" * 32,
        "hash_algorithm": "sha-256",
        "language": "fr",
    }
    assert event["signals"] == {"gpc": True}
    assert event["duration_days"] == 395
    json.dumps(record)  # JSON-ready


def test_iso27560_refusal_event() -> None:
    receipt = Receipt.from_decision(decision(granted=frozenset(), method="deny_all", tenant=None))
    record = receipt.to_iso27560()
    assert record["events"][0]["type"] == "refused"
    assert record["events"][0]["duration_days"] is None
    assert record["parties"][0] == {"role": "pii_controller", "name": None}
