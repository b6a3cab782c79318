"""The console's read side (scripts/console/reader.py) on moto's in-process AWS: what
an operator sees of accounts, the pipeline and an event's journey, and that looking
changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from banking.adapters.dynamodb import DynamoDBEventStore, DynamoDBProjectionStore
from banking.application.ports import StoredEvent
from banking.domain.account import Account, evolve
from banking.domain.commands import OpenAccount, RecordCredit, RecordDebit
from banking.domain.currency import Currency
from banking.domain.decisions import decide
from banking.domain.money import Money
from banking.domain.read_models import PROJECTIONS, StateCarriedEvent
from banking.serialization import converter
from scripts.console.logs import CloudWatchLogs, LocalLogs, hops
from scripts.console.reader import AccountNotFound, Console
from scripts.ops.aws import Ledger
from tests.conftest import REGION

UTC_ZONE = ZoneInfo("UTC")
START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def ledger(aws: dict[str, Any]) -> Ledger:
    # The `aws` fixture's tables are named `ledger-test-…`: the prefix of environment "test".
    return Ledger("test", None, REGION)


@pytest.fixture
def logs_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "logs"
    directory.mkdir()
    return directory


@pytest.fixture
def console(ledger: Ledger, logs_dir: Path) -> Console:
    return Console(ledger, LocalLogs(logs_dir, ledger.prefix))


def record(
    aws: dict[str, Any], account: str, *commands: RecordCredit | RecordDebit, project: bool = True
) -> Account:
    """Append the commands' events as the commands function does, one minute apart, and
    project them as the projectors would (unless `project` is false)."""
    store = DynamoDBEventStore(aws["dynamodb"], aws["tables"]["events"])
    projections = DynamoDBProjectionStore(aws["dynamodb"], aws["tables"]["projections"])
    state = store.load(account)
    opening = [OpenAccount(account, Currency("EUR"), owners={account})] if not state.opened else []
    for command in [*opening, *commands]:
        now = START + timedelta(minutes=state.version)
        event = decide(state, command, event_id=f"{account}-{state.version + 1}", now=now)
        state = evolve(state, event, UTC_ZONE)
        # Postings are numbered from 1 after the opening: corr-alice-1 is alice's first.
        opens = isinstance(command, OpenAccount)
        correlation = f"corr-{account}-open" if opens else f"corr-{account}-{event.version - 1}"
        store.append(StoredEvent(event, state, correlation_id=correlation))
        if project:
            carried = StateCarriedEvent.of(event, state)
            for projection in PROJECTIONS.values():
                model = projection(carried)
                if model is not None:
                    projections.save(account, model)
    return state


def credit(account: str, amount: str, description: str | None = None) -> RecordCredit:
    return RecordCredit(account, Money.of(amount), description)


def debit(account: str, amount: str) -> RecordDebit:
    return RecordDebit(account, Money.of(amount))


def as_json(value: Any) -> Any:
    """What the page receives."""
    return json.loads(json.dumps(converter.unstructure(value)))


def test_an_accounts_page_shows_every_field_of_every_event_with_its_correlation_id(aws, console):
    # GIVEN an account with a credit (with a description) and a debit
    record(aws, "alice", credit("alice", "100.00", "salary"), debit("alice", "30.50"))
    # WHEN the console shows it
    view = as_json(console.account("alice", after=0, limit=50))
    # THEN the history holds each event's stored fields, its correlation id and the balance after it
    opened, first, second = view["events"]
    assert opened["type"] == "AccountOpened"
    assert first["type"] == "CreditEvent"
    assert first["amount"] == "100.00"
    assert first["description"] == "salary"
    assert first["version"] == 2
    assert first["eventId"] == "alice-2"
    assert first["recordedAt"] == "2026-11-30T09:01:00.000000Z"
    assert first["correlationId"] == "corr-alice-1"
    assert first["schemaVersion"] == 2
    assert second["type"] == "DebitEvent"
    assert second["balanceAfter"] == "69.50"
    # AND the state stored with the newest event, and the read models with their versions
    assert view["version"] == 3
    assert view["state"]["balance"] == "69.50"
    models = {model["name"]: model for model in view["readModels"]}
    assert models["TotalBalanceForProfile"] == {
        "name": "TotalBalanceForProfile",
        "version": 3,
        "fields": {"amount": "69.50"},
    }
    assert models["CurrentMonthBalanceForProfile"]["version"] == 3


def test_an_account_history_is_paginated_by_version(aws, console):
    # GIVEN an account with five events after its opening
    record(aws, "bob", *[credit("bob", "1.00") for _ in range(5)])
    # WHEN the console shows two at a time
    first = console.account("bob", after=0, limit=2)
    last = console.account("bob", after=5, limit=2)
    # THEN each page says where the next starts, the last page says there is none
    assert [event["version"] for event in first.events] == [1, 2]
    assert first.next_after == 2
    assert [event["version"] for event in last.events] == [6]
    assert last.next_after is None


def test_the_balance_chart_is_drawn_from_every_event_whatever_the_page(aws, console):
    # GIVEN an account whose balance goes up then down
    record(aws, "carol", credit("carol", "10.00"), credit("carol", "5.00"), debit("carol", "12.00"))
    # WHEN its first page of one event is shown
    chart = console.account("carol", after=0, limit=1).chart
    # THEN the chart still covers the opening and the three postings, and names the range in words
    assert chart.startswith("<svg")
    assert chart.count("<circle") == 4
    assert "balance from 0.00 to 3.00, lowest 0.00, highest 15.00" in chart


def test_an_account_without_events_is_not_found(console):
    # GIVEN no event of "nobody"  WHEN the console looks  THEN it says so
    with pytest.raises(AccountNotFound):
        console.account("nobody", after=0, limit=10)


def test_the_accounts_list_is_paginated_and_names_each_account_once(aws, console):
    # GIVEN three accounts, one with several events
    for account in ("a1", "a2", "a3"):
        record(aws, account, credit(account, "1.00"), credit(account, "2.00"))
    # WHEN the list is read two at a time
    first = console.accounts(after=None, limit=2)
    assert first.next_after is not None
    second = console.accounts(after=first.next_after, limit=2)
    # THEN every account appears exactly once, and the last page has no next
    assert sorted(first.accounts + second.accounts) == ["a1", "a2", "a3"]
    assert second.next_after is None


def test_the_pipeline_names_the_oldest_event_a_read_model_has_not_reflected(aws, console):
    # GIVEN one account fully projected, and one whose last two events are not
    record(aws, "done", credit("done", "1.00"))
    record(aws, "late", credit("late", "1.00"))
    record(aws, "late", credit("late", "2.00"), credit("late", "3.00"), project=False)
    # WHEN the pipeline is shown
    view = as_json(console.pipeline())
    # THEN each read model says how far behind it is, and from which event
    assert view["accounts"] == 2
    assert view["events"] == 6
    for model in view["readModels"]:
        assert model["accountsBehind"] == 1
        assert model["eventsBehind"] == 2
        assert model["oldestUnprojected"]["accountId"] == "late"
        assert model["oldestUnprojected"]["version"] == 3
        assert model["mostBehind"] == [["late", 4, 2]]
    assert view["rebuilds"] == []


def test_the_pipeline_shows_parked_messages_and_leaves_them_parked(aws, ledger, console):
    # GIVEN a dead-letter queue of the ledger with one parked event
    sqs = aws["sqs"]
    url = sqs.create_queue(QueueName=f"{ledger.prefix}-balance-changed-dlq")["QueueUrl"]
    parked = {
        "source": "ledger.dispatcher",
        "detail-type": "CreditEvent",
        "detail": {"accountId": "alice", "version": 7},
    }
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(parked))
    # WHEN the pipeline is shown twice
    console.pipeline()
    view = as_json(console.pipeline())
    # THEN the queue's depth and its oldest message are shown
    (queue,) = view["deadLetters"]
    assert queue["name"] == "ledger-test-balance-changed-dlq"
    assert queue["depth"] == 1
    assert queue["oldest"] == "CreditEvent from ledger.dispatcher: alice v7"
    # AND the message is still there, visible, for `ledger redrive`
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(again) == 1


def test_the_pipeline_shows_a_rebuild_in_progress(aws, ledger, console):
    # GIVEN a projected account and a rebuild of the total balance just started
    record(aws, "alice", credit("alice", "1.00"))
    projections = DynamoDBProjectionStore(aws["dynamodb"], ledger.projections_table)
    generation = projections.start_building("TotalBalanceForProfile")
    # WHEN the pipeline is shown
    view = as_json(console.pipeline())
    # THEN the rebuild is listed with what it has still to catch up
    assert view["rebuilds"] == [
        {
            "readModel": "TotalBalanceForProfile",
            "active": 0,
            "building": generation,
            "itemsBehind": 1,
        }
    ]


def log_line(logs_dir: Path, function: str, **record: Any) -> None:
    with (logs_dir / f"ledger-test-{function}.log").open("a") as file:
        file.write(json.dumps(record) + "\n")


def test_a_journey_lists_each_hop_from_the_logs_and_what_the_tables_hold(aws, logs_dir, console):
    # GIVEN an event stored and projected, and the functions' log lines of its request
    record(aws, "alice", credit("alice", "5.00"))
    hops = [
        ("commands", "recorded", "2026-11-30 09:00:00,010+0000"),
        ("fanout", "published", "2026-11-30 09:00:00,300+0000"),
        ("dispatcher", "dispatched", "2026-11-30 09:00:00,450+0000"),
        ("projectors", "projected", "2026-11-30 09:00:00,600+0000"),
    ]
    for function, message, at in reversed(hops):
        log_line(
            logs_dir,
            function,
            message=message,
            timestamp=at,
            level="INFO",
            correlation_id="corr-alice-1",
            accountId="alice",
            version=2,
        )
    # AND a line of another request whose id starts the same
    log_line(logs_dir, "commands", message="recorded", correlation_id="corr-alice-10")
    # WHEN its journey is shown
    view = as_json(console.journey("corr-alice-1"))
    # THEN every hop, in time order, then the stored event and the read models reflecting it
    assert [(hop["hop"], hop["function"]) for hop in view["hops"]] == [
        ("stored", "ledger-test-commands"),
        ("fanned out", "ledger-test-fanout"),
        ("dispatched", "ledger-test-dispatcher"),
        ("projected", "ledger-test-projectors"),
    ]
    assert view["hops"][0]["at"] == "2026-11-30T09:00:00.010000Z"
    assert view["stored"]["amount"] == "5.00"
    assert {model["name"] for model in view["projected"]} == set(PROJECTIONS)


def test_a_journey_whose_logs_are_gone_still_finds_the_stored_event(aws, console):
    # GIVEN an event stored, not yet projected, and no log line at all
    record(aws, "bob", credit("bob", "5.00"), project=False)
    # WHEN its journey is shown
    view = as_json(console.journey("corr-bob-1"))
    # THEN the event is found in the events table, and no read model reflects it yet
    assert view["hops"] == []
    assert view["stored"]["accountId"] == "bob"
    assert view["projected"] == []


def test_the_lag_distribution_comes_from_the_projectors_metrics(logs_dir, console):
    # GIVEN the projectors' embedded-metric lines of four events, among other lines
    for lag in (40.0, 120.0, 900.0, 12000.0):
        log_line(logs_dir, "projectors", _aws={"Timestamp": 0}, ProjectionLag=[lag])
    log_line(logs_dir, "projectors", message="projected")
    with (logs_dir / "ledger-test-projectors.log").open("a") as file:
        file.write("START RequestId: 1 Version: $LATEST\n")
    # WHEN the pipeline's lag is read
    lag = as_json(console.pipeline())["lag"]
    # THEN it counts them in their buckets, with nearest-rank percentiles
    assert lag["count"] == 4
    assert (lag["p50Ms"], lag["p90Ms"], lag["maxMs"]) == (120.0, 12000.0, 12000.0)
    counts = {bucket["upToMs"]: bucket["count"] for bucket in lag["buckets"]}
    assert counts == {100: 1, 250: 1, 500: 0, 1000: 1, 2500: 0, 5000: 0, 10000: 0, None: 1}


def test_in_aws_the_hops_and_the_lag_come_from_cloudwatch_logs(aws, ledger):
    # GIVEN the functions' log groups in CloudWatch Logs, with lines of two requests
    logs = ledger.client("logs")
    now = int(datetime.now(UTC).timestamp() * 1000)
    lines = {
        "commands": {
            "message": "recorded",
            "correlation_id": "c-1",
            "accountId": "a",
            "version": 1,
        },
        "projectors": {"message": "projected", "correlation_id": "c-1", "accountId": "a"},
        "dispatcher": {"message": "dispatched", "correlation_id": "c-2"},
    }
    for function, line in lines.items():
        group = f"/aws/lambda/{ledger.prefix}-{function}"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        events = [{"timestamp": now, "message": "START RequestId: 1"}]
        events.append({"timestamp": now, "message": json.dumps(line)})
        if function == "projectors":
            metric = {"_aws": {"Timestamp": now}, "ProjectionLag": [250.0]}
            events.append({"timestamp": now, "message": json.dumps(metric)})
        logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)
    source = CloudWatchLogs(logs, ledger.prefix)
    # WHEN the console reads the hops of one request, and the lag
    found = hops(source.matching("c-1"), "c-1")
    # THEN only that request's lines, from the functions' groups; and the projectors' lag
    assert {(hop.function, hop.hop) for hop in found} == {
        ("ledger-test-commands", "stored"),
        ("ledger-test-projectors", "projected"),
    }
    assert source.lag_samples() == [250.0]
