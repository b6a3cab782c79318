"""The console's account page beside holds and reversals (scripts/console/reader.py on
moto's in-process AWS): total, held and available balances, the holds and what became
of them, an entry and its reversal pointing to each other, balances as of a moment,
and a pipeline page that reads a bounded slice of the events table per refresh."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from banking.adapters.dynamodb import DynamoDBEventStore, DynamoDBProjectionStore
from banking.application.commands import CommandDependencies, CommandSettings, record
from banking.application.holds import capture_hold, expire_hold, place_hold, void_hold
from banking.application.reversals import reverse_entry
from banking.domain.commands import RecordCredit, RecordDebit
from banking.domain.errors import AccountNotFound, InvalidRequest
from banking.domain.holds import CaptureHold, PlaceHold, VoidHold
from banking.domain.money import Money
from banking.domain.read_models import PROJECTIONS, StateCarriedEvent
from banking.domain.reversals import ReverseEntry
from banking.serialization import converter
from scripts.console import reader
from scripts.console.logs import LocalLogs
from scripts.console.reader import Console
from scripts.ops.aws import Ledger
from tests.conftest import REGION
from tests.support import open_accounts

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


class Clock:
    """The commands' clock, moved by the test (never past the real now: a past balance
    is asked of a moment that has been)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def ledger(aws: dict[str, Any]) -> Ledger:
    return Ledger("test", None, REGION)


@pytest.fixture
def console(ledger: Ledger, tmp_path: Path) -> Console:
    return Console(ledger, LocalLogs(tmp_path, ledger.prefix))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deps(aws: dict[str, Any], clock: Clock) -> CommandDependencies:
    store = DynamoDBEventStore(
        aws["dynamodb"],
        aws["tables"]["events"],
        aws["tables"]["idempotency"],
        transfers_table=aws["tables"]["transfers"],
        holds_table=aws["tables"]["holds"],
    )
    open_accounts(store, "alice", "bob")
    counter = iter(range(1, 10**6))
    return CommandDependencies(
        store=store,
        clock=clock,
        new_id=lambda: f"00000000-0000-4000-8000-{next(counter):012d}",
        settings=CommandSettings(max_attempts=5, backoff_base_seconds=0.001),
    )


def as_json(value: Any) -> Any:
    """What the page receives."""
    return json.loads(json.dumps(converter.unstructure(value)))


def hold(deps: CommandDependencies, hold_id: str, amount: str, expires_in: timedelta) -> None:
    command = PlaceHold("alice", hold_id, Money.of(amount), expires_in, f"hold {hold_id}")
    place_hold(command, deps, idempotency_key=hold_id, caller="bank")


def test_an_account_shows_its_total_held_and_available_balances(deps, console):
    # GIVEN 100.00 credited and 30.00 held
    record(RecordCredit("alice", Money.of("100.00")), deps, caller="bank")
    hold(deps, "h-1", "30.00", HOUR)
    # WHEN the console shows the account
    view = as_json(console.account("alice", after=0, limit=50))
    # THEN the held money is apart from the total, and available is what is left
    assert view["balances"] == {
        "version": 3,
        "currency": "EUR",
        "totalBalance": "100.00",
        "heldBalance": "30.00",
        "availableBalance": "70.00",
        "at": None,
    }


def test_pending_holds_come_first_soonest_to_expire_then_what_became_of_the_others(
    deps, clock, console
):
    # GIVEN five holds: one voided, one captured in part, one expired, two still pending
    record(RecordCredit("alice", Money.of("100.00")), deps, caller="bank")
    hold(deps, "voided", "1.00", HOUR)
    hold(deps, "captured", "2.00", HOUR)
    hold(deps, "expired", "3.00", timedelta(minutes=5))
    hold(deps, "later", "4.00", 3 * HOUR)
    hold(deps, "sooner", "5.00", 2 * HOUR)
    void_hold(VoidHold("voided"), deps, idempotency_key="v", caller="bank")
    capture_hold(
        CaptureHold("captured", Money.of("1.50")),
        deps,
        idempotency_key="c",
        caller="bank",
        transfer_id="t-1",
    )
    clock.now = T0 + timedelta(minutes=10)
    expired = deps.store.hold("expired")
    assert expired is not None
    expire_hold(expired, deps)
    # WHEN the console shows the account
    holds = as_json(console.account("alice", after=0, limit=50))["holds"]
    # THEN the pending ones first, soonest to expire first, with their expiry
    assert [(h["holdId"], h["expiresAt"]) for h in holds["pending"]] == [
        ("sooner", "2026-11-30T11:00:00.000000Z"),
        ("later", "2026-11-30T12:00:00.000000Z"),
    ]
    # AND what became of each other one, in the order they were placed
    resolved = {h["holdId"]: h for h in holds["resolved"]}
    assert [h["holdId"] for h in holds["resolved"]] == ["voided", "captured", "expired"]
    assert resolved["voided"]["status"] == "voided"
    assert resolved["captured"]["status"] == "captured"
    assert resolved["captured"]["capturedAmount"] == "1.50"
    assert resolved["expired"]["status"] == "expired"
    assert resolved["expired"]["resolvedAt"] == "2026-11-30T09:10:00.000000Z"
    assert holds["more"] is False


def test_the_holds_shown_are_bounded_and_say_when_there_are_more(deps, console, monkeypatch):
    # GIVEN three pending holds and a page of two
    record(RecordCredit("alice", Money.of("100.00")), deps, caller="bank")
    for hold_id in ("a", "b", "c"):
        hold(deps, hold_id, "1.00", HOUR)
    monkeypatch.setattr(reader, "HOLDS_SHOWN", 2)
    # WHEN the console shows the account
    holds = as_json(console.account("alice", after=0, limit=50))["holds"]
    # THEN two are shown, and the page says there are more
    assert len(holds["pending"]) == 2
    assert holds["more"] is True


def test_an_entry_and_its_reversal_point_to_each_other(deps, console):
    # GIVEN a debit of alice (version 3) reversed (version 4)
    record(RecordCredit("alice", Money.of("100.00")), deps, caller="bank")
    record(RecordDebit("alice", Money.of("40.00")), deps, caller="bank")
    reverse_entry(ReverseEntry("alice", 3), deps, idempotency_key="r", caller="bank")
    # WHEN the console shows the history
    events = as_json(console.account("alice", after=0, limit=50))["events"]
    by_version = {event["version"]: event for event in events}
    # THEN the reversal names the entry, and the entry names its reversal
    assert by_version[4]["reverses"] == {"accountId": "alice", "version": 3}
    assert by_version[3]["reversedBy"] == {"accountId": "alice", "version": 4}
    # AND an entry never reversed names none
    assert "reversedBy" not in by_version[2]
    assert by_version[4]["balanceAfter"] == "100.00"


def test_the_balance_as_of_a_moment_is_the_one_then(deps, clock, console):
    # GIVEN a credit at 09:00, a hold at 10:00 and a debit at 11:00
    record(RecordCredit("alice", Money.of("100.00")), deps, caller="bank")
    clock.now = T0 + HOUR
    hold(deps, "h-1", "25.00", 4 * HOUR)
    clock.now = T0 + 2 * HOUR
    record(RecordDebit("alice", Money.of("10.00")), deps, caller="bank")
    # WHEN the balances are asked as of 10:30
    then = as_json(console.balance_at("alice", T0 + 90 * timedelta(minutes=1)))
    # THEN they are those after the hold, before the debit
    assert then == {
        "version": 3,
        "currency": "EUR",
        "totalBalance": "100.00",
        "heldBalance": "25.00",
        "availableBalance": "75.00",
        "at": "2026-11-30T10:30:00.000000Z",
    }


def test_a_balance_before_the_account_or_in_the_future_is_refused(deps, console):
    # GIVEN alice, opened on 2026-01-01
    # WHEN the balances are asked before she was opened  THEN there was no account yet
    with pytest.raises(AccountNotFound):
        console.balance_at("alice", datetime(2025, 12, 31, tzinfo=UTC))
    # AND a moment still to come is refused, as the API refuses it
    with pytest.raises(InvalidRequest):
        console.balance_at("alice", datetime.now(UTC) + HOUR)


class Scanned:
    """The keys the console's scans of DynamoDB read."""

    def __init__(self, client: Any) -> None:
        self.items = 0
        client.meta.events.register("after-call.dynamodb.Scan", self._scanned)

    def _scanned(self, parsed: dict[str, Any], **_: Any) -> None:
        self.items += len(parsed.get("Items", []))


def read_models_read(console: Console, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The accounts whose read models the console reads, in order."""
    accounts: list[str] = []
    load = console._projections.load

    def spied(account_id: str) -> Any:
        accounts.append(account_id)
        return load(account_id)

    monkeypatch.setattr(console._projections, "load", spied)
    return accounts


def test_the_pipeline_reads_a_bounded_slice_of_the_events_table_per_refresh(
    deps, console, monkeypatch
):
    # GIVEN four accounts of three events each (12 items), and slices of five keys
    for account in ("carol", "dave"):
        open_accounts(deps.store, account)
    for account in ("alice", "bob", "carol", "dave"):
        record(RecordCredit(account, Money.of("1.00")), deps, caller="bank")
        record(RecordCredit(account, Money.of("2.00")), deps, caller="bank")
    monkeypatch.setattr(reader, "SWEEP_ITEMS", 5)
    scanned = Scanned(console._dynamodb)
    # WHEN the pipeline is refreshed once
    first = as_json(console.pipeline())
    # THEN it read five keys of the events table, and says its counts are partial
    assert scanned.items == 5
    assert first["sweep"] == {"complete": False, "itemsRead": 5}
    # WHEN it is refreshed until the sweep has been round the table
    views = [as_json(console.pipeline()) for _ in range(2)]
    # THEN no refresh read more than five keys, and the counts are whole
    assert [view["sweep"]["itemsRead"] for view in views] == [5, 2]
    assert views[-1]["sweep"]["complete"] is True
    assert (views[-1]["accounts"], views[-1]["events"]) == (4, 12)
    # AND nothing being projected in this test, every account's balances are behind by all
    # its events, while no account has a statement to be behind with (as `ledger status`)
    behind = {
        model["name"]: (model["accountsBehind"], model["eventsBehind"])
        for model in views[-1]["readModels"]
    }
    assert behind == {
        "TotalBalanceForProfile": (4, 12),
        "CurrentMonthBalanceForProfile": (4, 12),
        "MonthlyStatementForProfile": (0, 0),
    }


def test_a_refresh_looks_again_only_at_accounts_that_moved_or_are_behind(
    aws, deps, console, monkeypatch
):
    # GIVEN two accounts the sweep has seen, whose read models are caught up
    record(RecordCredit("alice", Money.of("1.00")), deps, caller="bank")
    projections = DynamoDBProjectionStore(aws["dynamodb"], aws["tables"]["projections"])

    def project(account: str) -> None:
        for scanned in deps.store.scan_account(account):
            carried = StateCarriedEvent.of(scanned.event, scanned.state)
            for projection in PROJECTIONS.values():
                model = projection(carried)
                if model is not None:
                    projections.save(account, model)

    project("alice")
    project("bob")
    console.pipeline()
    accounts = read_models_read(console, monkeypatch)
    # WHEN nothing changes and the page refreshes
    quiet = as_json(console.pipeline())
    # THEN no read model is read again
    assert accounts == []
    assert all(model["accountsBehind"] == 0 for model in quiet["readModels"])
    # WHEN alice gets a credit not yet projected
    record(RecordCredit("alice", Money.of("2.00")), deps, caller="bank")
    moved = as_json(console.pipeline())
    # THEN only alice's read models are read, and she is shown one event behind
    assert accounts == ["alice"]
    for model in moved["readModels"]:
        assert (model["accountsBehind"], model["eventsBehind"]) == (1, 1)
        assert model["mostBehind"] == [["alice", 3, 2]]
    # WHEN her read models catch up
    project("alice")
    caught_up = as_json(console.pipeline())
    # THEN the next refresh (which looks again at the accounts behind) says so
    assert all(model["accountsBehind"] == 0 for model in caught_up["readModels"])


def test_the_oldest_unprojected_event_is_looked_for_among_the_most_behind_only(
    deps, console, monkeypatch
):
    # GIVEN nothing projected: carol (opened long before) one posting behind, alice three
    open_accounts(deps.store, "carol", at=datetime(2025, 6, 1, tzinfo=UTC))
    record(RecordCredit("carol", Money.of("1.00")), deps, caller="bank")
    for amount in ("1.00", "2.00", "3.00"):
        record(RecordCredit("alice", Money.of(amount)), deps, caller="bank")
    # AND the console looks at one account behind per refresh
    monkeypatch.setattr(reader, "RECHECKED", 1)
    # WHEN the pipeline is shown
    view = as_json(console.pipeline())
    # THEN every account behind is counted, but the oldest event is alice's, the most
    # behind, not carol's older one: one read, however many accounts are behind
    total = next(m for m in view["readModels"] if m["name"] == "TotalBalanceForProfile")
    assert total["accountsBehind"] == 3
    assert total["oldestUnprojected"]["accountId"] == "alice"
