"""The expirer on moto: every pending hold past its expiry released once, however
often it runs."""

from __future__ import annotations

from datetime import timedelta

from banking.adapters.dynamodb import DynamoDBEventStore
from banking.application.commands import CommandDependencies, record
from banking.application.holds import place_hold
from banking.application.ports import HoldStatus
from banking.domain.commands import RecordCredit
from banking.domain.holds import PlaceHold
from banking.domain.money import Money
from banking.entrypoints.bootstrap import new_event_id, utc_now
from tests.support import open_on_moto


def test_due_holds_are_released_once_and_the_others_kept(load_handler, aws, context):
    # GIVEN a hold placed an hour ago for a second, and one for an hour from now
    open_on_moto(aws, "alice")
    store = DynamoDBEventStore(
        aws["dynamodb"],
        aws["tables"]["events"],
        aws["tables"]["idempotency"],
        holds_table=aws["tables"]["holds"],
    )
    an_hour_ago = utc_now() - timedelta(hours=1)
    past = CommandDependencies(store, lambda: an_hour_ago, new_event_id)
    record(RecordCredit("alice", Money(10000)), past, caller="bank")
    place_hold(
        PlaceHold("alice", "due", Money(1000), timedelta(seconds=1)),
        past,
        idempotency_key="k1",
        caller="shop",
    )
    now = CommandDependencies(store, utc_now, new_event_id)
    place_hold(
        PlaceHold("alice", "later", Money(1000), timedelta(hours=1)),
        now,
        idempotency_key="k2",
        caller="shop",
    )
    expirer = load_handler("expirer")
    # WHEN the expirer runs twice
    first = expirer.lambda_handler({}, context)
    second = expirer.lambda_handler({}, context)
    # THEN the due hold was released by the first run only
    assert first == {"expired": 1, "alreadyResolved": 0}
    assert second == {"expired": 0, "alreadyResolved": 0}
    due, later = store.hold("due"), store.hold("later")
    assert due is not None
    assert due.status is HoldStatus.EXPIRED
    assert later is not None
    assert later.status is HoldStatus.PENDING
    assert store.load("alice").held == Money(1000)
