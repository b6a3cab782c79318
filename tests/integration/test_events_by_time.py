"""The DynamoDB event store's answer for a moment: the index only hints, the table
decides. The index is eventually consistent and orders events recorded at the same
instant arbitrarily; neither may make an answer wrong, and the reads stay bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from banking.adapters.dynamodb import DynamoDBEventStore
from banking.application.ports import StoredEvent
from banking.domain.account import Account, evolve
from banking.domain.events import Credited
from banking.domain.money import Money

START = datetime(2026, 11, 1, tzinfo=UTC)


class IndexAnswering:
    """A DynamoDB client whose index answers what a lagging replica would: the hint
    given, whatever was stored since; every request counted."""

    def __init__(self, client: Any, hint_version: int | None) -> None:
        self._client = client
        self._hint = hint_version
        self.requests: list[dict[str, Any]] = []

    def query(self, **request: Any) -> Any:
        self.requests.append(request)
        if "IndexName" in request:
            if self._hint is None:
                return {"Items": [], "Count": 0}
            account = request["ExpressionAttributeValues"][":a"]
            return {"Items": [{"accountId": account, "version": {"N": str(self._hint)}}]}
        return self._client.query(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def history(store: DynamoDBEventStore, seconds: list[int]) -> list[StoredEvent]:
    stored, state = [], Account("alice")
    for version, offset in enumerate(seconds, start=1):
        event = Credited(
            "alice", version, f"e{version}", Money(version), START + timedelta(seconds=offset)
        )
        state = evolve(state, event, ZoneInfo("UTC"))
        stored.append(StoredEvent(event, state))
        store.append(stored[-1])
    return stored


@pytest.fixture
def tables(aws):
    return aws["dynamodb"], aws["tables"]["events"]


@pytest.mark.parametrize("hint", [None, 1, 2])
def test_a_lagging_index_never_makes_the_answer_older_than_the_table(tables, hint):
    # GIVEN alice's events at +0s..+4s, and an index that has seen only up to `hint`
    client, table = tables
    events = history(DynamoDBEventStore(client, table), [0, 1, 2, 3, 4])
    lagging = IndexAnswering(client, hint)
    store = DynamoDBEventStore(lagging, table)  # type: ignore[arg-type]
    # WHEN she is asked for +3.5s
    found = store.last_at("alice", START + timedelta(seconds=3, milliseconds=500))
    # THEN the answer is the table's: version 4, not the index's
    assert found == events[3]


def test_equal_instants_answer_the_last_of_them_whichever_the_index_names(tables):
    # GIVEN three events at the same instant (a transfer's legs), and an index naming
    # the first of them
    client, table = tables
    events = history(DynamoDBEventStore(client, table), [0, 5, 5, 5, 9])
    store = DynamoDBEventStore(IndexAnswering(client, 2), table)  # type: ignore[arg-type]
    # WHEN alice is asked for that instant
    # THEN the answer is the last of them
    assert store.last_at("alice", START + timedelta(seconds=5)) == events[3]


def test_a_moment_costs_two_requests_however_long_the_history(tables):
    # GIVEN alice with 300 events and an index that is up to date
    client, table = tables
    history(DynamoDBEventStore(client, table), list(range(300)))
    counting = IndexAnswering(client, 150)
    store = DynamoDBEventStore(counting, table)  # type: ignore[arg-type]
    # WHEN she is asked for a moment in the middle of it
    found = store.last_at("alice", START + timedelta(seconds=149, milliseconds=1))
    # THEN the index and one consistent read of two items answered it
    assert found is not None
    assert found.event.version == 150
    assert len(counting.requests) == 2
    assert counting.requests[1]["ConsistentRead"] is True
    assert counting.requests[1]["Limit"] == 2


def test_the_index_is_asked_with_the_stored_time_format(tables):
    # GIVEN alice's events, and the real index (moto keeps it up to date)
    client, table = tables
    events = history(DynamoDBEventStore(client, table), [0, 60, 120])
    store = DynamoDBEventStore(client, table)
    # WHEN she is asked for +61s, at and strictly before +60s
    # THEN the real index finds them
    assert store.last_at("alice", START + timedelta(seconds=61)) == events[1]
    assert store.last_at("alice", START + timedelta(seconds=60)) == events[1]
    assert store.last_at("alice", START + timedelta(seconds=60), inclusive=False) == events[0]
