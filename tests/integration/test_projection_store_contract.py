"""One contract, every projection store: the in-memory one and DynamoDB (on moto).

The guarantees, numbered as the tests below check them:
 1. A read model is written only forward: an older or equal version changes nothing.
 2. A generation being built is written with the active one, and read only after the
    switch.
 3. A new generation lags until it holds every item of the active one, at its version.
 4. One rebuild of a read model at a time.
 5. The previous generation is kept written during the grace period after a switch.
 6. An abandoned generation is never read, and the next rebuild does not reuse it.
 7. Pruning deletes exactly the generations nobody writes or reads any more (abandoned,
    or replaced and past the grace period), and nothing of another read model.
 8. A repair overwrites the active read model whatever its version, but only while it is
    still the one the repair replaces (absent, or at the version given).
 9. An owner's accounts are listed by account id, a page at a time after a cursor,
    each entry newest version wins; other owners' and accounts' items never show.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from banking.adapters.dynamodb import DynamoDBProjectionStore
from banking.adapters.memory import InMemoryProjectionStore
from banking.application.ports import GenerationConflict, Generations
from banking.domain.currency import Currency
from banking.domain.money import Money
from banking.domain.read_models import (
    MONTHLY_STATEMENT,
    TOTAL_BALANCE,
    AccountSettings,
    AccountSummary,
    CurrentMonthBalance,
    MonthlyStatement,
    TotalBalance,
    owner_partition,
)


@pytest.fixture(params=["memory", "dynamodb"])
def projections(request):
    if request.param == "memory":
        return InMemoryProjectionStore()
    aws = request.getfixturevalue("aws")
    return DynamoDBProjectionStore(aws["dynamodb"], aws["tables"]["projections"])


def balance(amount: int, version: int) -> TotalBalance:
    return TotalBalance(Money(amount), version)


def test_1_a_read_model_is_written_only_forward(projections):
    assert projections.save("alice", balance(100, 2)) is True

    assert projections.save("alice", balance(50, 1)) is False
    assert projections.save("alice", balance(70, 2)) is False
    assert projections.load("alice") == [balance(100, 2)]


def test_2_a_generation_being_built_is_written_but_not_read_until_the_switch(projections):
    # GIVEN a total balance in the active generation, and a rebuild started
    projections.save("alice", balance(100, 1))
    generation = projections.start_building(TOTAL_BALANCE)
    # WHEN a new event is projected
    projections.save("alice", balance(300, 2))
    # THEN both generations have it, readers still read the active one
    assert projections.load("alice") == [balance(300, 2)]
    assert projections.load("alice", generations={TOTAL_BALANCE: generation}) == [balance(300, 2)]
    # WHEN the rebuild switches
    projections.switch(TOTAL_BALANCE, generation, grace_until=datetime.now(UTC))
    # THEN readers read the new generation
    assert projections.generations(TOTAL_BALANCE).active == generation
    assert projections.load("alice") == [balance(300, 2)]


def test_3_a_new_generation_lags_until_it_holds_every_item_of_the_active_one(projections):
    projections.save("alice", balance(100, 1))
    projections.save("bob", balance(100, 1))
    generation = projections.start_building(TOTAL_BALANCE)

    projections.save("alice", balance(200, 2))

    lagging = projections.lagging(TOTAL_BALANCE, generation)
    assert [(lag.account_id, lag.active_version, lag.building_version) for lag in lagging] == [
        ("bob", 1, None)
    ]
    projections.save("bob", balance(150, 2))
    assert projections.lagging(TOTAL_BALANCE, generation) == []


def test_4_only_one_rebuild_of_a_read_model_runs_at_a_time(projections):
    projections.start_building(TOTAL_BALANCE)

    with pytest.raises(GenerationConflict):
        projections.start_building(TOTAL_BALANCE)
    # AND another read model may be rebuilt meanwhile
    assert projections.start_building(MONTHLY_STATEMENT) == 1


def test_5_the_previous_generation_is_kept_written_during_the_grace_period(projections):
    generation = projections.start_building(TOTAL_BALANCE)
    projections.switch(
        TOTAL_BALANCE, generation, grace_until=datetime.now(UTC) + timedelta(minutes=1)
    )

    projections.save("alice", balance(100, 1))

    assert projections.load("alice", generations={TOTAL_BALANCE: 0}) == [balance(100, 1)]
    assert projections.load("alice") == [balance(100, 1)]


def test_6_an_abandoned_generation_is_never_read_nor_reused(projections):
    projections.save("alice", balance(100, 1))
    abandoned = projections.start_building(TOTAL_BALANCE)
    projections.save("alice", balance(200, 2))

    projections.abandon(TOTAL_BALANCE, abandoned)
    projections.save("alice", balance(300, 3))

    assert projections.generations(TOTAL_BALANCE).active == 0
    assert projections.load("alice") == [balance(300, 3)]
    # AND the abandoned generation stopped being written at its abandonment
    assert projections.load("alice", generations={TOTAL_BALANCE: abandoned}) == [balance(200, 2)]
    assert projections.start_building(TOTAL_BALANCE) == abandoned + 1


def test_7_pruning_deletes_only_what_nobody_writes_or_reads_any_more(projections):
    # GIVEN generation 0, an abandoned generation 1, generation 2 switched to with a
    # grace period, and statements that are not touched by any of it
    statement = MonthlyStatement("2026-11", Money(100), Money(0), Money(100), 1, 1)
    projections.save("alice", statement)
    projections.save("alice", balance(100, 1))
    projections.save("bob", balance(100, 1))
    abandoned = projections.start_building(TOTAL_BALANCE)
    projections.save("alice", balance(150, 2))
    projections.abandon(TOTAL_BALANCE, abandoned)
    generation = projections.start_building(TOTAL_BALANCE)
    projections.save("alice", balance(200, 3))
    projections.save("bob", balance(200, 2))
    grace_until = datetime.now(UTC) + timedelta(minutes=1)
    projections.switch(TOTAL_BALANCE, generation, grace_until=grace_until)

    # WHEN pruning during the grace period: only the abandoned generation goes
    assert projections.prune(TOTAL_BALANCE, now=datetime.now(UTC)) == {abandoned: 1}
    assert projections.load("alice", generations={TOTAL_BALANCE: 0}) == [
        statement,
        balance(200, 3),
    ]
    # WHEN a dry run after the grace period: generation 0 is counted, not deleted
    after = grace_until + timedelta(seconds=1)
    assert projections.prune(TOTAL_BALANCE, now=after, dry_run=True) == {0: 2}
    assert projections.load("bob", generations={TOTAL_BALANCE: 0}) == [balance(200, 2)]
    # WHEN pruning after the grace period
    assert projections.prune(TOTAL_BALANCE, now=after) == {0: 2}

    # THEN readers still read every balance, the statements are untouched, and
    # nothing is left to prune
    assert projections.load("alice") == [statement, balance(200, 3)]
    assert projections.load("bob") == [balance(200, 2)]
    assert projections.load("bob", generations={TOTAL_BALANCE: 0}) == []
    assert projections.prune(TOTAL_BALANCE, now=after) == {}


@pytest.mark.parametrize(
    ("model", "item"),
    [
        (TotalBalance(Money(1234), 3), {"amount": {"S": "12.34"}}),
        (
            CurrentMonthBalance("2026-11", Money(-5), 3),
            {"month": {"S": "2026-11"}, "amount": {"S": "-0.05"}},
        ),
        (
            MonthlyStatement("2026-11", Money(1000), Money(250), Money(750), 4, 3),
            {
                "month": {"S": "2026-11"},
                "credits": {"S": "10.00"},
                "debits": {"S": "2.50"},
                "closingBalance": {"S": "7.50"},
                "eventCount": {"N": "4"},
            },
        ),
    ],
)
def test_read_model_items_keep_the_shape_stored_items_have(aws, model, item):
    # GIVEN the DynamoDB store
    projections = DynamoDBProjectionStore(aws["dynamodb"], aws["tables"]["projections"])
    # WHEN a read model is saved
    projections.save("alice", model)
    # THEN its item is the one the store has always written, and it reads back
    (stored,) = aws["dynamodb"].scan(TableName=aws["tables"]["projections"])["Items"]
    assert stored == {
        "accountId": {"S": "alice"},
        "readModel": stored["readModel"],
        **item,
        "lastKnownVersion": {"N": "3"},
    }
    assert projections.load("alice") == [model]


def test_a_generation_pointer_keeps_the_shape_stored_pointers_have(aws):
    # GIVEN a pointer item as the store has always written it
    projections = DynamoDBProjectionStore(aws["dynamodb"], aws["tables"]["projections"])
    pointer = {
        "accountId": {"S": "#generations"},
        "readModel": {"S": TOTAL_BALANCE},
        "active": {"N": "1"},
        "building": {"N": "2"},
        "latest": {"N": "2"},
        "previous": {"N": "0"},
        "previousUntil": {"S": "2026-11-26T07:00:00+00:00"},
    }
    aws["dynamodb"].put_item(TableName=aws["tables"]["projections"], Item=pointer)
    # WHEN it is read, and the building generation switched in
    # THEN it reads as stored, and the switch writes its time in the same form
    assert projections.generations(TOTAL_BALANCE) == Generations(
        active=1,
        building=2,
        previous=0,
        previous_until=datetime(2026, 11, 26, 7, tzinfo=UTC),
        latest=2,
    )
    projections.switch(TOTAL_BALANCE, 2, grace_until=datetime(2026, 11, 27, 8, tzinfo=UTC))
    (stored,) = aws["dynamodb"].scan(TableName=aws["tables"]["projections"])["Items"]
    assert stored == {
        **{key: value for key, value in pointer.items() if key != "building"},
        "active": {"N": "2"},
        "previous": {"N": "1"},
        "previousUntil": {"S": "2026-11-27T08:00:00+00:00"},
    }


def test_8_a_repair_overwrites_only_the_read_model_it_replaces(projections):
    # GIVEN a read model ahead of what the events say (version 999)
    projections.save("alice", balance(10**8, 999))
    # WHEN repaired as if it were at another version, nothing changes
    assert projections.repair("alice", balance(100, 2), replacing=998) is False
    assert projections.repair("alice", balance(100, 2), replacing=None) is False
    # WHEN repaired as the one it is, it goes back to the right version
    assert projections.repair("alice", balance(100, 2), replacing=999) is True
    assert projections.load("alice") == [balance(100, 2)]
    # THEN ordinary writes go forward from there
    assert projections.save("alice", balance(150, 3)) is True
    # AND a missing read model is repaired only while still missing
    assert projections.repair("bob", balance(5, 1), replacing=None) is True
    assert projections.repair("bob", balance(6, 1), replacing=None) is False
    assert projections.load("bob") == [balance(5, 1)]


def summary(account_id: str, version: int, status: str = "open") -> AccountSummary:
    settings = AccountSettings(Currency("EUR"), status, {"alice", "bob"}, Money(0))
    return AccountSummary(account_id, settings, version)


def test_9_an_owners_accounts_are_listed_by_id_page_by_page(projections):
    # GIVEN alice owning three accounts, written out of order, one updated by a freeze
    for account_id in ("carol-pot", "a-savings", "b-current"):
        projections.save(owner_partition("alice"), summary(account_id, 1))
    projections.save(owner_partition("alice"), summary("b-current", 5, "frozen"))
    projections.save(owner_partition("alice"), summary("b-current", 4))
    projections.save(owner_partition("bob"), summary("z-other", 1))
    projections.save("alice", TotalBalance(Money(1), 1))
    # WHEN listed two at a time
    first = projections.accounts_of("alice", after=None, limit=2)
    rest = projections.accounts_of("alice", after=first[-1].account_id, limit=2)
    # THEN by id, each at its newest version, and nothing of anyone else
    assert [(s.account_id, s.version) for s in first] == [("a-savings", 1), ("b-current", 5)]
    assert first[1].settings.status == "frozen"
    assert [s.account_id for s in rest] == ["carol-pot"]
    assert projections.accounts_of("nobody", after=None, limit=2) == []
