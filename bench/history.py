"""Account histories to benchmark against, written as the commands would have written them.

An account's prior events are decided and folded by the domain and turned into
events-table items by the DynamoDB adapter itself (its append, on a client that only
captures what it is given), so the seeded items have exactly the shape and snapshots
the functions write. They are spread evenly over the year before now: the account's
opening, then credits with an occasional debit.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from banking.adapters.dynamodb import DynamoDBEventStore
from banking.application.ports import StoredEvent
from banking.domain.account import Account, evolve
from banking.domain.commands import AccountCommand, Command, OpenAccount, RecordCredit, RecordDebit
from banking.domain.currency import Currency
from banking.domain.decisions import decide
from banking.domain.money import Money

HISTORY_SPAN = timedelta(days=365)
UTC_ZONE = ZoneInfo("UTC")


class _CapturingClient:
    """Stands in for a DynamoDB client: keeps the items an append would write."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def put_item(self, **request: Any) -> dict[str, Any]:
        self.items.append(request["Item"])
        return {}

    def transact_write_items(self, **request: Any) -> dict[str, Any]:
        self.items.extend(entry["Put"]["Item"] for entry in request["TransactItems"][:1])
        return {}


def history_items(
    account_id: str,
    events: int,
    *,
    table: str,
    now: datetime | None = None,
    zone: ZoneInfo = UTC_ZONE,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """The events-table items of an account with `events` events (the first its opening,
    in EUR), the last one shortly before `now`."""
    rng = random.Random(f"{seed}-{account_id}")
    now = now or datetime.now(UTC)
    start = now - HISTORY_SPAN
    step = (HISTORY_SPAN - timedelta(minutes=5)) / max(events, 1)
    client = _CapturingClient()
    store = DynamoDBEventStore(client, table)  # type: ignore[arg-type]
    state = Account(account_id)
    for index in range(events):
        amount = Money.of(f"{rng.randint(1, 9999)}.{rng.randint(0, 99):02d}")
        command: Command | AccountCommand = RecordCredit(account_id, amount, "salary")
        if index == 0:
            command = OpenAccount(account_id, Currency("EUR"), {account_id})
        elif index % 4 == 3 and state.balance >= amount:
            command = RecordDebit(account_id, amount, "groceries")
        event = decide(
            state,
            command,
            event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            now=start + step * index,
        )
        state = evolve(state, event, zone)
        store.append(StoredEvent(event, state, f"seed-{index}"))
    return client.items
