"""Stored events are forever: every older shape is turned into the current one on read.

The serialization layer passes each stored item (or any copy of one: a bus
envelope's payload, an idempotency record's event) through `upcast` before reading
it. Pure dict to dict; the item itself is never rewritten.

Schema 1 (before accounts): only `CreditEvent` and `DebitEvent`, no currency, and a
snapshot of balances only; the account was created by its first credit. Schema 2
reads such a history as an account opened at its first posting on the deployment's
`LegacyTerms`: the postings are in the legacy currency, and every snapshot gains
the settings the account had then: that currency, the legacy overdraft limit,
status open, owned by the account id (who could read it then), no metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from banking.domain.account import LEGACY_TERMS, AccountStatus, LegacyTerms
from banking.domain.errors import UnknownEvent
from banking.domain.events import SCHEMA_VERSION

_V1_TYPES = frozenset({"CreditEvent", "DebitEvent"})


def upcast(item: Mapping[str, Any], legacy: LegacyTerms = LEGACY_TERMS) -> dict[str, Any]:
    """The stored item in the current schema's shape; UnknownEvent for a schema
    version this code does not know (newer code wrote it, or it is corrupt)."""
    data = dict(item)
    version = _schema_version(data)
    while version != SCHEMA_VERSION:
        step = UPCASTERS.get(version) if version is not None else None
        if step is None:
            raise UnknownEvent(f"unknown schema version {version!r} of {data.get('type')!r}")
        data = step(data, legacy)
        version = _schema_version(data)
    return data


def _schema_version(data: Mapping[str, Any]) -> int | None:
    # DynamoDB hands numbers back as Decimal.
    value = data.get("schemaVersion")
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    return int(value) if value == int(value) else None


def _v1_to_v2(data: dict[str, Any], legacy: LegacyTerms) -> dict[str, Any]:
    if data.get("type") not in _V1_TYPES:
        raise UnknownEvent(f"unknown event type {data.get('type')!r} in schema 1")
    upcast_item = {**data, "schemaVersion": 2, "currency": legacy.currency.code}
    snapshot = data.get("snapshot")
    if isinstance(snapshot, Mapping):
        upcast_item["snapshot"] = {
            **snapshot,
            "currency": legacy.currency.code,
            "overdraftLimit": str(legacy.overdraft_limit),
            "status": AccountStatus.OPEN.value,
            "owners": [data.get("accountId")],
            "metadata": {},
        }
    return upcast_item


# From each schema version to the next.
UPCASTERS: dict[int, Callable[[dict[str, Any], LegacyTerms], dict[str, Any]]] = {
    1: _v1_to_v2,
}
