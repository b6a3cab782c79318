"""Replay, generations and verification on the in-memory stores."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count
from zoneinfo import ZoneInfo

import pytest

from banking.adapters.memory import InMemoryEventStore, InMemoryProjectionStore, InMemoryPublisher
from banking.application.commands import CommandDependencies, record
from banking.application.generations import parse_sort_key, sort_key
from banking.application.ports import BusEntry, Cursor, ProjectionStore, StoredEvent, Unreadable
from banking.application.projection import project
from banking.application.replay import (
    REPLAY_SOURCE,
    RateLimiter,
    ReplayJob,
    ReplayOptions,
    replay,
    run_job,
)
from banking.application.verification import (
    Difference,
    all_events,
    expected_read_models,
    overwrite,
    verify_account,
)
from banking.domain.account import RecordCredit, RecordDebit
from banking.domain.money import Money
from banking.domain.read_models import (
    MONTHLY_STATEMENT,
    PROJECTIONS,
    TOTAL_BALANCE,
    MonthlyStatement,
    TotalBalance,
)
from banking.serialization import state_carried_from_dict
from tests.support import open_accounts

UTC_ZONE = ZoneInfo("UTC")


def history(store: InMemoryEventStore, account: str, months: int, per_month: int) -> None:
    """The account opened (version 1), then `per_month` credits of 1.00..n and one
    debit of 0.50 in each of `months` months from January 2026."""
    open_accounts(store, account, at=datetime(2026, 1, 1, tzinfo=UTC))
    moments = iter(
        datetime(2026, 1 + month, 1 + day, tzinfo=UTC)
        for month in range(months)
        for day in range(per_month + 1)
    )
    ids = count()
    deps = CommandDependencies(
        store=store, clock=lambda: next(moments), new_id=lambda: f"e{next(ids)}"
    )
    for _ in range(months):
        for amount in range(1, per_month + 1):
            record(RecordCredit(account, Money(amount * 100)), deps)
        record(RecordDebit(account, Money(50)), deps)


def project_all(entries: list[BusEntry], projections: ProjectionStore) -> None:
    for entry in entries:
        project(
            state_carried_from_dict(entry.detail),
            projections,
            entry.detail.get("readModels") or PROJECTIONS,
        )


@pytest.fixture
def store() -> InMemoryEventStore:
    events = InMemoryEventStore()
    history(events, "alice", months=3, per_month=4)
    history(events, "bob", months=2, per_month=2)
    return events


def test_a_replay_publishes_the_last_event_of_each_account_month_marked_as_a_replay(store):
    # GIVEN alice opened with 15 postings over 3 months and bob with 6 over 2
    publisher = InMemoryPublisher()
    # WHEN every account is replayed
    result = run_job(ReplayJob(), store, publisher)
    # THEN 5 events are published, one per account-month, all from ledger.replay
    assert (result.read, result.published, result.cursor) == (23, 5, None)
    assert {entry.source for entry in publisher.published} == {REPLAY_SOURCE}
    assert all(entry.detail["replay"] is True for entry in publisher.published)
    assert sorted((e.detail["accountId"], e.detail["version"]) for e in publisher.published) == [
        ("alice", 6),
        ("alice", 11),
        ("alice", 16),
        ("bob", 4),
        ("bob", 7),
    ]


def test_every_event_can_be_published_for_a_read_model_keyed_per_event(store):
    publisher = InMemoryPublisher()
    result = run_job(ReplayJob(options=ReplayOptions(every_event=True)), store, publisher)
    assert result.published == 23


def test_a_dry_run_counts_and_publishes_nothing(store):
    publisher = InMemoryPublisher()
    result = run_job(ReplayJob(options=ReplayOptions(dry_run=True)), store, publisher)
    assert (result.published, publisher.published) == (5, [])


@pytest.mark.parametrize("stop_every", [1, 2, 3, 7])
def test_a_replay_cut_into_many_invocations_publishes_what_one_run_does(store, stop_every):
    # GIVEN a replay that stops after every few items, as a Lambda near its timeout
    publisher = InMemoryPublisher()
    job, invocations = ReplayJob(), 0
    # WHEN it is resumed from its cursor until done
    while True:
        seen = count(1)

        def near_timeout(seen=seen):
            return next(seen) >= stop_every

        result = run_job(job, store, publisher, should_stop=near_timeout)
        invocations += 1
        if result.cursor is None:
            break
        job = job.then(result.cursor)
    # THEN the last event of each account-month was published, and the read models
    # equal those of a single run
    assert invocations > 1
    published = {(e.detail["accountId"], e.detail["version"]) for e in publisher.published}
    assert {("alice", 6), ("alice", 11), ("alice", 16), ("bob", 4), ("bob", 7)} <= published
    cut, whole = InMemoryProjectionStore(), InMemoryProjectionStore()
    project_all(publisher.published, cut)
    single = InMemoryPublisher()
    run_job(ReplayJob(), store, single)
    project_all(single.published, whole)
    assert cut.load("alice") == whole.load("alice")
    assert cut.load("bob") == whole.load("bob")


def test_replaying_twice_changes_nothing_a_single_run_would_not(store):
    # GIVEN read models built by one replay
    projections, publisher = InMemoryProjectionStore(), InMemoryPublisher()
    run_job(ReplayJob(), store, publisher)
    project_all(publisher.published, projections)
    once = list(projections.load("alice"))
    # WHEN the replay runs again
    again = InMemoryPublisher()
    run_job(ReplayJob(), store, again)
    project_all(again.published, projections)
    # THEN nothing changed, and it is the fold
    assert projections.load("alice") == once
    expected = expected_read_models("alice", all_events(store, "alice"), UTC_ZONE)
    assert sorted(once, key=repr) == sorted(expected.read_models.values(), key=repr)


def test_an_unreadable_item_is_reported_and_the_others_still_published(store):
    items = [
        *store.scan_account("bob"),
        Unreadable("carol", 1, "UnknownEvent('unknown event type ...')"),
    ]
    publisher = InMemoryPublisher()
    result = replay(items, publisher, ReplayOptions())
    assert result.published == 2
    assert result.failures == ["carol v1: UnknownEvent('unknown event type ...')"]


def test_entries_the_bus_keeps_rejecting_are_reported_as_failures(store, monkeypatch):
    monkeypatch.setattr("banking.application.replay.time.sleep", lambda _: None)
    publisher = InMemoryPublisher()
    publisher.fail_indexes = {0}
    result = run_job(ReplayJob(account_id="bob"), store, publisher)
    assert result.published == 1
    assert result.failures == ["bob v4: the bus rejected it"]


def test_a_replay_may_name_the_read_models_it_rebuilds(store):
    # GIVEN a replay of the statements only
    publisher, projections = InMemoryPublisher(), InMemoryProjectionStore()
    run_job(ReplayJob(options=ReplayOptions(read_models=(MONTHLY_STATEMENT,))), store, publisher)
    # WHEN projected
    project_all(publisher.published, projections)
    # THEN only statements were written
    assert {type(model) for model in projections.load("alice")} == {MonthlyStatement}


def test_the_rate_limit_spaces_out_the_batches():
    now, slept = [0.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(20.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(6):
        limiter.acquire(10)
    # 60 events at 20/s: the first burst is free, the other 50 take 2.5 s
    assert sum(slept) == pytest.approx(2.5)


def test_a_job_survives_the_round_trip_through_the_function_payload():
    job = ReplayJob(
        segment=3,
        total_segments=8,
        start=Cursor("alice", 12),
        options=ReplayOptions(read_models=(TOTAL_BALANCE,), rate_limit=50.0, dry_run=True),
    )
    assert ReplayJob.from_payload(job.to_payload()) == job


def test_a_segment_outside_the_scan_is_rejected():
    with pytest.raises(ValueError, match="segment 4 of 4"):
        ReplayJob.from_payload({"segment": 4, "totalSegments": 4})


def test_every_account_falls_in_exactly_one_segment(store):
    scanned = [
        (item.event.account_id, item.event.version)
        for segment in range(3)
        for item in store.scan(segment=segment, total_segments=3)
        if isinstance(item, StoredEvent)
    ]
    assert sorted(scanned) == sorted(set(scanned))
    assert len(scanned) == 23


# Generations


def test_sort_keys_keep_generation_zero_plain_and_parse_back():
    assert sort_key(TOTAL_BALANCE, 0) == "TotalBalanceForProfile"
    assert sort_key(MONTHLY_STATEMENT, 2, "2026-11") == "MonthlyStatementForProfile@2#2026-11"
    assert parse_sort_key("MonthlyStatementForProfile@2#2026-11") == (
        MONTHLY_STATEMENT,
        2,
        "2026-11",
    )


# The generations themselves: tests/integration/test_projection_store_contract.py.


# Verification


def test_verify_finds_a_missing_statement_and_a_stale_balance_and_both_are_repairable(store):
    # GIVEN read models projected from the live events, then a lost statement and a
    # total balance one event behind
    projections, publisher = InMemoryProjectionStore(), InMemoryPublisher()
    run_job(ReplayJob(account_id="bob"), store, publisher)
    project_all(publisher.published[:1], projections)
    # WHEN verified
    found = verify_account("bob", store, projections.load, UTC_ZONE, sleep=lambda _: None)
    # THEN the balances (at v4, not v7) and the February statement are reported
    assert {(d.read_model, d.qualifier) for d in found} == {
        ("TotalBalanceForProfile", None),
        ("CurrentMonthBalanceForProfile", None),
        ("MonthlyStatementForProfile", "2026-02"),
    }
    assert all(d.repairable for d in found)
    # WHEN repaired by a replay of the account
    project_all(publisher.published, projections)
    # THEN it verifies
    assert verify_account("bob", store, projections.load, UTC_ZONE, sleep=lambda _: None) == []


def _verify_total(store, projections):
    return verify_account(
        "bob", store, projections.load, UTC_ZONE, read_models=(TOTAL_BALANCE,), attempts=1
    )


def test_a_wrong_value_at_the_right_version_is_overwritten_with_the_fold(store):
    # GIVEN bob's total balance at his last version (7) but with a wrong amount
    projections = InMemoryProjectionStore()
    projections.save("bob", TotalBalance(Money(1), 7))
    found = _verify_total(store, projections)
    assert [(d.repairable, d.overwritable) for d in found] == [(False, True)]
    # WHEN repaired
    assert overwrite(found, store, projections, UTC_ZONE) == found
    # THEN it verifies
    assert _verify_total(store, projections) == []


def test_a_read_model_ahead_of_the_events_table_is_overwritten_with_the_fold(store):
    # GIVEN a forged event that put bob's total balance at a version never stored, where
    # the version guard refuses every true write (and so every replay)
    projections = InMemoryProjectionStore()
    projections.save("bob", TotalBalance(Money.of("1000000.00"), 999))
    found = _verify_total(store, projections)
    assert [(d.repairable, d.overwritable) for d in found] == [(False, True)]
    # WHEN repaired
    overwrite(found, store, projections, UTC_ZONE)
    # THEN the read model is the fold's again, and the next event's projection lands
    assert _verify_total(store, projections) == []
    assert projections.load("bob") == [TotalBalance(Money.of("5.00"), 7)]
    assert projections.save("bob", TotalBalance(Money.of("6.00"), 8))


def test_a_repair_leaves_a_read_model_that_is_right_at_a_version_stored_since_verify(store):
    # GIVEN bob's total balance found wrong, ahead of verify's fold at version 7
    projections = InMemoryProjectionStore()
    projections.save("bob", TotalBalance(Money(1), 8))
    found = _verify_total(store, projections)
    assert [d.overwritable for d in found] == [True]
    # WHEN live traffic stores version 8 and projects it before the repair
    live_credit(live_commands(store))
    right = expected_read_models("bob", all_events(store, "bob"), UTC_ZONE).read_models
    # THEN the repair writes the fold of version 8, not the stale one of version 7
    assert overwrite(found, store, projections, UTC_ZONE) == found
    assert projections.load("bob") == [right[(TOTAL_BALANCE, None)]]
    # AND a read model that verify saw ahead but is right at a version stored since
    # (live traffic between verify's fold and its look) is left alone
    newer = Difference("bob", TOTAL_BALANCE, None, found[0].expected, right[(TOTAL_BALANCE, None)])
    assert overwrite([newer], store, projections, UTC_ZONE) == []


def test_a_repair_does_not_overwrite_a_read_model_that_changed_since_verify_saw_it(store):
    # GIVEN a read model ahead of the events that verify found
    projections = InMemoryProjectionStore()
    projections.save("bob", TotalBalance(Money(1), 999))
    found = _verify_total(store, projections)
    # WHEN it changes before the repair writes
    projections.save("bob", TotalBalance(Money(2), 1000))
    # THEN the repair leaves it be (and says so)
    assert overwrite(found, store, projections, UTC_ZONE) == []
    assert projections.load("bob") == [TotalBalance(Money(2), 1000)]


def live_commands(store: InMemoryEventStore) -> CommandDependencies:
    ids = count()
    return CommandDependencies(
        store=store, clock=lambda: datetime(2026, 2, 20, tzinfo=UTC), new_id=lambda: f"l{next(ids)}"
    )


def live_credit(deps: CommandDependencies) -> None:
    record(RecordCredit("bob", Money(100)), deps)


def test_verify_accepts_read_models_that_trail_live_traffic_but_caught_up_with_the_first_look(
    store,
):
    # GIVEN bob's read models projected up to his last event (v7)
    projections, publisher = InMemoryProjectionStore(), InMemoryPublisher()
    run_job(ReplayJob(account_id="bob", options=ReplayOptions(every_event=True)), store, publisher)
    project_all(publisher.published, projections)
    deps = live_commands(store)
    live_credit(deps)  # v8 stored, in flight when verify looks

    def live_traffic(_: float) -> None:
        # Between two looks, v8 lands and v9 is stored: the read models trail the fold.
        live = InMemoryPublisher()
        run_job(ReplayJob(account_id="bob", options=ReplayOptions(every_event=True)), store, live)
        project_all(live.published, projections)
        live_credit(deps)

    # WHEN verified while events keep coming
    found = verify_account("bob", store, projections.load, UTC_ZONE, sleep=live_traffic)

    # THEN nothing is reported: every read model is right at its own version, and at or
    # past the version the first look's fold had
    assert found == []


def test_verify_reports_a_read_model_that_stays_behind_the_first_look(store):
    # GIVEN bob's read models stuck before his last event, while new events keep coming
    projections, publisher = InMemoryProjectionStore(), InMemoryPublisher()
    run_job(ReplayJob(account_id="bob", options=ReplayOptions(every_event=True)), store, publisher)
    project_all(publisher.published[:-1], projections)
    deps = live_commands(store)

    # WHEN verified
    found = verify_account(
        "bob",
        store,
        projections.load,
        UTC_ZONE,
        sleep=lambda _: live_credit(deps),
    )

    # THEN the balances are reported: right at their version (v6), but never caught up
    # with the v7 the first look saw
    assert {(d.read_model, d.actual.version if d.actual else None) for d in found} >= {
        (TOTAL_BALANCE, 6)
    }
