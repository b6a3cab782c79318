"""What a keyed credit costs in DynamoDB requests, on moto (issue 16, items 3 and 4):
the account's head (one Query) and the transaction, and nothing else. The key is not
read first (the transaction's guard on it is the check), and a refused write returns
the item that refused it, so neither a retried key nor a conflict costs a read."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from banking.adapters.dynamodb import DynamoDBEventStore
from banking.application.commands import CommandDependencies, CommandSettings, record
from banking.application.ports import StoredEvent
from banking.domain.account import Account, evolve
from banking.domain.commands import RecordCredit
from banking.domain.decisions import decide
from banking.domain.money import Money
from tests.conftest import REGION
from tests.support import UTC_ZONE, open_on_moto

NOW = datetime(2026, 11, 26, tzinfo=UTC)


class RacedStore(DynamoDBEventStore):
    """Another writer's credit lands right after this store's first load of an account."""

    rival: DynamoDBEventStore | None = None

    def load(self, account_id: str) -> Account:
        state = super().load(account_id)
        if self.rival is not None:
            rival, self.rival = self.rival, None
            event = decide(state, RecordCredit(account_id, Money(7)), event_id="rival", now=NOW)
            rival.append(StoredEvent(event, evolve(state, event, UTC_ZONE)))
        return state


@pytest.fixture
def ledger(aws: dict[str, Any]) -> tuple[CommandDependencies, list[str]]:
    open_on_moto(aws, "alice")
    client = boto3.client("dynamodb", region_name=REGION)
    requests: list[str] = []
    client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: requests.append(model.name)
    )
    ids = itertools.count(1)
    deps = CommandDependencies(
        store=RacedStore(client, aws["tables"]["events"], aws["tables"]["idempotency"]),
        clock=lambda: NOW,
        new_id=lambda: f"event-{next(ids)}",
        settings=CommandSettings(),
        sleep=lambda _: None,
    )
    return deps, requests


def credit(deps: CommandDependencies, key: str = "k") -> Any:
    return record(RecordCredit("alice", Money(100)), deps, idempotency_key=key, caller="shop")


def test_a_keyed_credit_is_one_query_and_one_transaction(ledger):
    deps, requests = ledger
    # WHEN a keyed credit is recorded
    credit(deps)
    # THEN it read the account's head and wrote: two requests (three before: the key
    # was read first)
    assert requests == ["Query", "TransactWriteItems"]


def test_a_retried_key_is_answered_from_the_refused_transaction(ledger):
    # GIVEN a keyed credit stored
    deps, requests = ledger
    first = credit(deps)
    requests.clear()
    # WHEN the client retries it
    again = credit(deps)
    # THEN the transaction's refusal carried the answer: no read of the key
    assert again == first
    assert requests == ["Query", "TransactWriteItems"]


def test_a_conflict_costs_the_retry_and_no_read_of_the_refused_version(ledger, aws):
    # GIVEN another writer's credit lands between our read of alice and our write
    deps, requests = ledger
    deps.store.rival = DynamoDBEventStore(aws["dynamodb"], aws["tables"]["events"])
    # WHEN a keyed credit is recorded
    event = credit(deps)
    # THEN the refusal said the version was another's (no GetItem of it), and the
    # command was decided again and stored after the rival's
    assert requests == ["Query", "TransactWriteItems", "Query", "TransactWriteItems"]
    assert event.version == 3
    assert deps.store.get("alice", 2).event.event_id == "rival"
