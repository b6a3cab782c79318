"""A poison event is parked without stopping anything; once fixed, `ledger redrive`
completes the read models."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from banking.adapters.dynamodb import DynamoDBEventStore, DynamoDBProjectionStore, event_item
from banking.application.ports import StoredEvent
from banking.domain.account import evolve
from banking.domain.commands import RecordCredit
from banking.domain.decisions import decide
from banking.domain.money import Money
from scripts.ops.aws import Ledger
from scripts.ops.redrive import redrive_queues
from scripts.ops.status import dead_letter_depths
from tests.e2e.conftest import Api, eventually
from tests.local_system import System

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

# Past the dispatcher's async retries (1 + 2 s) and the stream's (0.2 … 2 s, 5 times).
PARKED_WITHIN_S = 60


def _parked(ledger: Ledger, queue: str) -> int | None:
    depth = dead_letter_depths(ledger)[f"{ledger.prefix}-{queue}-dlq"]
    return depth or None


def test_a_poison_event_is_parked_and_after_the_fix_a_redrive_completes_the_read_models(
    api: Api, account: str, system: System
) -> None:
    ledger = system.ledger()
    dynamodb = ledger.client("dynamodb")
    store = DynamoDBEventStore(dynamodb, ledger.events_table)
    # GIVEN an opened account whose read models reflect its first credit (version 2)
    assert api.credit(account, "10.00").status_code == 201
    api.balance_at(account, 2)

    # WHEN a second event is stored with a schema version no code knows
    state = store.load(account)
    event = decide(
        state,
        RecordCredit(account, Money.of("5.00")),
        event_id=str(uuid.uuid4()),
        now=datetime.now(UTC),
    )
    fixed = event_item(StoredEvent(event, evolve(state, event, ZoneInfo("UTC")), "poison"))
    poison = {**fixed, "schemaVersion": {"N": "99"}}
    dynamodb.put_item(TableName=ledger.events_table, Item=poison)

    # THEN the dispatcher fails it, retries, and parks it; the read models stay at v2
    eventually(lambda: _parked(ledger, "dispatcher-async"), "the poison", PARKED_WITHIN_S)
    projections = DynamoDBProjectionStore(dynamodb, ledger.projections_table)
    assert {model.version for model in projections.load(account)} == {2}
    # AND reading the account is the operators' 500 (its head cannot be read), no guess
    unreadable = api.get(f"/accounts/{account}/balance")
    assert (unreadable.status_code, unreadable.json()["error"]["code"]) == (500, "internal_error")

    # WHEN the fix is deployed: the item corrected (a MODIFY on the stream, which the
    # fanout sets aside in turn: events are never updated)
    dynamodb.put_item(TableName=ledger.events_table, Item=fixed)
    eventually(lambda: _parked(ledger, "fanout-stream"), "the correction", PARKED_WITHIN_S)
    # AND every dead-letter queue is redriven
    results = redrive_queues(ledger, out=io.StringIO())

    # THEN both parked messages went back, and the read models reach version 3
    assert {r.name: r.redriven for r in results if r.found} == {
        f"{ledger.prefix}-dispatcher-async-dlq": 1,
        f"{ledger.prefix}-fanout-stream-dlq": 1,
    }
    assert [left for r in results for left in r.left] == []
    balance = api.balance_at(account, 3)
    assert balance["totalBalance"] == "15.00"
