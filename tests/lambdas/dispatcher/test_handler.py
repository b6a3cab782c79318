"""The dispatcher handler on moto: envelopes in, state-carried events on the bus."""

from __future__ import annotations

import pytest

from tests.conftest import published
from tests.support import credit, fixture_event, open_accounts


def test_the_dispatcher_reads_a_bounded_number_of_items_per_event(pipeline, context, aws):
    # GIVEN an account with 1,001 prior events
    from banking.adapters.dynamodb import DynamoDBEventStore
    from banking.application.commands import CommandDependencies, record
    from banking.domain.account import RecordCredit
    from banking.domain.money import Money
    from banking.entrypoints.bootstrap import new_event_id, utc_now

    store = DynamoDBEventStore(aws["dynamodb"], aws["tables"]["events"])
    deps = CommandDependencies(store=store, clock=utc_now, new_id=new_event_id)
    open_accounts(store, "old")
    for _ in range(1001):
        record(RecordCredit("old", Money(100)), deps)
    envelope = fixture_event("eventbridge_event_stored")
    stored = store.get("old", 1002)
    from banking.application.envelope import EventStored
    from banking.serialization import event_to_dict, snapshot_of

    envelope["detail"] = EventStored.from_item(
        {**event_to_dict(stored.event), "snapshot": snapshot_of(stored.state)}
    ).to_detail()
    items_read: list[int] = []

    def count(parsed, **_):
        items_read.append(len(parsed.get("Items", [])) + (1 if "Item" in parsed else 0))

    pipeline["dispatcher"].store._client.meta.events.register("after-call.dynamodb.*", count)
    # WHEN the newest event is dispatched
    pipeline["dispatcher"].lambda_handler(envelope, context)
    # THEN one item was read, and the aggregate is right
    assert sum(items_read) == 1
    carried = published(aws)[-1]["detail"]
    assert carried["aggregate"]["totalBalance"] == "1001.00"
    assert carried["aggregate"]["version"] == 1002


@pytest.mark.parametrize("change", [{"type": "InterestEvent"}, {"schemaVersion": 99}])
def test_an_unknown_stored_event_fails_its_own_delivery(pipeline, context, aws, change):
    envelope = fixture_event("eventbridge_event_stored")
    credit(pipeline["commands"], context, "alice", "12.34")
    envelope["detail"]["payload"].update(change)
    with pytest.raises(Exception, match="unknown"):
        pipeline["dispatcher"].lambda_handler(envelope, context)
    assert published(aws) == []
