"""A projector invoked with an event older than its read model after a rebuild switched
generations: the delivery that was still in flight (late on the bus, retried, parked and
redriven, or a replay's) lands after the switch, and nothing goes backwards.

The real handlers on moto: the rebuild's steps are the projection store's own (open a
generation, replay into it, switch with a grace period), as `ledger rebuild` takes them;
the stale deliveries are injected by invoking the projectors with the old events, both
as the live pipeline and as the replay send them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from banking.adapters.dynamodb import DynamoDBProjectionStore
from banking.application.generations import POINTER_TTL_SECONDS
from banking.domain.read_models import TOTAL_BALANCE, TotalBalance
from tests.conftest import published
from tests.support import bus_event, credit, stream_records

ACCOUNT = "alice"


@pytest.fixture
def carried(pipeline, context, aws) -> list[dict[str, Any]]:
    """Alice's opening and three credits, through the pipeline: the state-carried events
    the dispatcher published (versions 1 to 4), each projected once."""
    for amount in ("1.00", "2.00", "3.00"):
        credit(pipeline["commands"], context, ACCOUNT, amount)
    pipeline["fanout"].lambda_handler({"Records": stream_records(aws)}, context)
    for envelope in published(aws):
        pipeline["dispatcher"].lambda_handler(bus_event(envelope), context)
    events = sorted(published(aws), key=lambda e: e["detail"]["version"])
    for event in events:
        pipeline["projectors"].lambda_handler(bus_event(event), context)
    return events


def _total(store: DynamoDBProjectionStore, generation: int | None = None) -> TotalBalance:
    generations = None if generation is None else {TOTAL_BALANCE: generation}
    (total,) = [
        m for m in store.load(ACCOUNT, generations=generations) if isinstance(m, TotalBalance)
    ]
    return total


def test_events_older_than_the_read_model_delivered_after_a_rebuild_switch_change_nothing(
    pipeline, context, aws, carried, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The projectors' store on a clock of the test's: how stale their cached pointer is
    # (a projector re-reads it every POINTER_TTL_SECONDS) is the test's to say.
    now = [0.0]
    tables = (aws["dynamodb"], aws["tables"]["projections"])
    monkeypatch.setattr(
        pipeline["projectors"],
        "projections",
        DynamoDBProjectionStore(*tables, monotonic=lambda: now[0]),
    )
    store = DynamoDBProjectionStore(*tables)
    project = pipeline["projectors"].lambda_handler
    newest = _total(store)
    assert newest.version == 4

    # GIVEN the total balance rebuilt into a new generation, as `ledger rebuild` does it:
    # opened, every projector given time to see it, replayed into it alone, and readers
    # switched to it, the old generation still written during its grace period
    generation = store.start_building(TOTAL_BALANCE)
    now[0] += 2 * POINTER_TTL_SECONDS
    for event in carried:
        project(bus_event(_replayed(event)), context)
    store.switch(TOTAL_BALANCE, generation, grace_until=datetime.now(UTC) + timedelta(hours=1))
    assert store.generations(TOTAL_BALANCE).active == generation

    # WHEN the older events, still in flight, reach the projectors after the switch, as
    # the live pipeline and as a replay deliver them: first to a projector whose pointer
    # is from before the switch, then to one that has re-read it
    for _ in ("stale pointer", "fresh pointer"):
        for event in [carried[1], carried[0], carried[2], carried[1]]:
            project(bus_event(event), context)
            project(bus_event(_replayed(event)), context)
        now[0] += 2 * POINTER_TTL_SECONDS

    # THEN neither the new generation readers read, nor the old one, went backwards
    assert _total(store) == newest
    assert _total(store, generation) == newest
    assert _total(store, 0) == newest


def _replayed(event: dict[str, Any]) -> dict[str, Any]:
    """The event as a rebuild's replay sends it: for the rebuilt read model only."""
    return {**event, "detail": {**event["detail"], "readModels": [TOTAL_BALANCE]}}
