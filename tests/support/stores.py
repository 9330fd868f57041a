"""Reading a privacy log's tables back in tests."""

from __future__ import annotations

from consentgate.log.stores.base import Store
from consentgate.log.stores.factory import open_store


def receipt_consent_ids(store: Store | str) -> set[str]:
    """The consent ids that have a receipt in ``store`` (a Store, a SQLite path or a URL)."""
    if isinstance(store, Store):
        return {row[0] for row in store._read("SELECT consent_id FROM consentgate_receipts")}
    with open_store(store) as opened:
        return receipt_consent_ids(opened)
