"""The facts the ledger stores. Frozen; never updated or deleted once appended.

Each event type has a stable type name (what is stored and published), independent
of the Python class name, and a schema version for future upcasting.
"""

from __future__ import annotations

from datetime import datetime

from attrs import frozen

from banking.domain.money import Money

SCHEMA_VERSION = 1


@frozen
class Credited:
    account_id: str
    version: int
    event_id: str
    amount: Money
    recorded_at: datetime
    description: str | None = None


@frozen
class Debited:
    account_id: str
    version: int
    event_id: str
    amount: Money
    recorded_at: datetime
    description: str | None = None


Event = Credited | Debited

TYPE_NAMES: dict[type[Event], str] = {Credited: "CreditEvent", Debited: "DebitEvent"}
TYPES_BY_NAME: dict[str, type[Event]] = {name: cls for cls, name in TYPE_NAMES.items()}


def type_name(event: Event) -> str:
    return TYPE_NAMES[type(event)]


def signed_amount(event: Event) -> Money:
    return event.amount if isinstance(event, Credited) else -event.amount
