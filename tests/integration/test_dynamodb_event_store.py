"""What the DynamoDB event store makes of each way DynamoDB refuses an append.

Only a version conflict is retried by deciding again; a throttle (after the SDK's own
retries) means "try later"; any other reason is a fault, reported with its reason.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from banking.adapters.dynamodb import DynamoDBEventStore, event_item, from_item
from banking.adapters.dynamodb.codec import stored_event_from_item
from banking.application.ports import (
    IdempotencyKeyTaken,
    IdempotencyRecord,
    StoredEvent,
    StoreThrottled,
    TransactionRecords,
    VersionConflict,
    WriteCanceled,
)
from banking.domain.account import Account, LegacyTerms, evolve
from banking.domain.currency import Currency
from banking.domain.events import Credited
from banking.domain.money import Money
from banking.entrypoints.bootstrap import SDK_MAX_ATTEMPTS, dynamodb_client
from tests.conftest import refuse

# bootstrap sets `max_attempts: 4`, which botocore counts as retries: 5 tries in all.


@pytest.fixture
def store(aws, instant_sdk_retries):
    # The client the functions use, with their retry policy.
    return DynamoDBEventStore(
        dynamodb_client(), aws["tables"]["events"], aws["tables"]["idempotency"]
    )


def first_credit() -> StoredEvent:
    event = Credited(
        account_id="alice",
        version=1,
        event_id="event-1",
        amount=Money(100),
        recorded_at=datetime(2026, 11, 26, tzinfo=UTC),
    )
    return StoredEvent(event, evolve(Account("alice"), event, ZoneInfo("UTC")))


def key_of(stored: StoredEvent) -> IdempotencyRecord:
    return IdempotencyRecord("alice", "payroll", "key-1", "fingerprint", stored.event)


@pytest.mark.parametrize(
    ("reasons", "error"),
    [
        (["ConditionalCheckFailed", "None"], VersionConflict),
        (["TransactionConflict", "None"], VersionConflict),
        (["None", "TransactionConflict"], VersionConflict),
        (["None", "ConditionalCheckFailed"], IdempotencyKeyTaken),
        (["ConditionalCheckFailed", "ConditionalCheckFailed"], IdempotencyKeyTaken),
        (["ThrottlingError", "None"], StoreThrottled),
        (["None", "ProvisionedThroughputExceeded"], StoreThrottled),
        (["ValidationError", "None"], WriteCanceled),
        (["ItemCollectionSizeLimitExceeded", "None"], WriteCanceled),
    ],
)
def test_each_cancellation_reason_of_an_append_with_a_key_means_what_it_says(
    store, monkeypatch, reasons, error
):
    # GIVEN DynamoDB cancels the transaction for these reasons
    attempts = refuse(
        monkeypatch, "transact_write_items", "TransactionCanceledException", reasons=reasons
    )
    stored = first_credit()
    # WHEN an event is appended with its idempotency key
    with pytest.raises(error) as raised:
        store.append(stored, TransactionRecords(idempotency=key_of(stored)))
    # THEN the error says which it was, the SDK did not retry it, and nothing is stored
    assert len(attempts) == 1
    if error is WriteCanceled:
        assert raised.value.reasons == reasons
        assert reasons[0] in str(raised.value)
    assert store.load("alice").version == 0


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
@pytest.mark.parametrize("with_key", [False, True])
def test_a_throttled_append_is_retried_by_the_sdk_then_answered_throttled(
    store, monkeypatch, code, with_key
):
    # GIVEN the table is throttled for longer than the SDK's retries last
    operation = "transact_write_items" if with_key else "put_item"
    attempts = refuse(monkeypatch, operation, code)
    stored = first_credit()
    # WHEN an event is appended
    # THEN the SDK tried it as often as its policy says, and then the store says throttled
    with pytest.raises(StoreThrottled):
        store.append(stored, TransactionRecords(idempotency=key_of(stored) if with_key else None))
    assert len(attempts) == SDK_MAX_ATTEMPTS


def test_a_throttle_that_passes_within_the_sdks_retries_stores_the_event(store, monkeypatch):
    # GIVEN the table is throttled for two attempts
    attempts = refuse(monkeypatch, "put_item", "ProvisionedThroughputExceededException", times=2)
    stored = first_credit()
    # WHEN an event is appended
    store.append(stored)
    # THEN the SDK's third try stored it
    assert len(attempts) == 2
    assert store.get("alice", 1) == stored


FIXTURE = (
    Path(__file__).resolve().parents[1] / "fixtures" / "events" / "dynamodb_stream_insert.json"
)


def test_a_recorded_schema_1_item_reads_as_a_legacy_account_and_writes_as_schema_2():
    # GIVEN an events-table item as the store wrote it before accounts (schema 1)
    image = json.loads(FIXTURE.read_text())["Records"][0]["dynamodb"]["NewImage"]
    # WHEN it is read on a deployment whose legacy terms are USD with a 50.00 limit
    legacy = LegacyTerms(Currency("USD"), Money(5000))
    stored = stored_event_from_item(from_item(image), legacy)
    # THEN it is the credit and the state after it: an account opened at that credit on
    # the legacy terms, owned by its own id
    assert stored.state == Account(
        "alice",
        version=1,
        balance=Money(1234),
        month="2026-11",
        month_credits=Money(1234),
        month_debits=Money(0),
        month_event_count=1,
        last_recorded_at=datetime(2026, 11, 26, 7, tzinfo=UTC),
        currency=Currency("USD"),
        overdraft_limit=Money(5000),
        owners=frozenset({"alice"}),
    )
    assert isinstance(stored.event, Credited)
    assert stored.event.currency == Currency("USD")
    # AND written again it is a schema 2 item that reads back the same, on any terms
    item = event_item(stored)
    assert item["schemaVersion"] == {"N": "2"}
    assert item["snapshot"]["M"]["owners"] == {"L": [{"S": "alice"}]}
    assert stored_event_from_item(from_item(item)) == stored
