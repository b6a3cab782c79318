from __future__ import annotations

from datetime import UTC, datetime

from banking.adapters.dynamodb import DynamoDBEventStore, DynamoDBProjectionStore
from banking.application.commands import CommandDependencies, record
from banking.domain.account import RecordCredit
from banking.domain.money import Money
from banking.domain.read_models import CurrentMonthBalance, MonthlyStatement, TotalBalance
from banking.entrypoints.bootstrap import new_event_id, utc_now
from scripts.ops.__main__ import main
from tests.support import open_accounts


def test_status_shows_unprojected_events_and_parked_dead_letters(aws, capsys):
    # GIVEN alice opened with 3 credits of which the read models reflect 2, bob with
    # one reflected, and a parked letter
    store = open_accounts(
        DynamoDBEventStore(aws["dynamodb"], aws["tables"]["events"]), "alice", "bob"
    )
    deps = CommandDependencies(store=store, clock=utc_now, new_id=new_event_id)
    for _ in range(3):
        record(RecordCredit("alice", Money(100)), deps)
    record(RecordCredit("bob", Money(100)), deps)
    projections = DynamoDBProjectionStore(aws["dynamodb"], aws["tables"]["projections"])
    month = datetime.now(UTC).strftime("%Y-%m")
    projections.save("alice", TotalBalance(Money(200), 3))
    projections.save("alice", CurrentMonthBalance(month, Money(200), 3))
    projections.save("alice", MonthlyStatement(month, Money(200), Money(0), Money(200), 2, 3))
    projections.save("bob", TotalBalance(Money(100), 2))
    projections.save("bob", CurrentMonthBalance(month, Money(100), 2))
    projections.save("bob", MonthlyStatement(month, Money(100), Money(0), Money(100), 1, 2))
    dlq = aws["sqs"].create_queue(QueueName="ledger-test-balance-changed-dlq")["QueueUrl"]
    aws["sqs"].send_message(QueueUrl=dlq, MessageBody="{}")

    # WHEN an operator asks
    exit_code = main(["--environment", "test", "status"])

    # THEN the lag, the oldest unprojected event and the parked letter are shown
    out = capsys.readouterr().out
    assert exit_code == 1
    assert "2 account(s), 6 event(s)" in out
    assert "oldest unprojected event: alice v4" in out
    assert "ledger-test-balance-changed-dlq" in out
    assert out.splitlines()[-1].split()[-1] == "1"


def test_status_of_a_healthy_account_exits_zero(aws, capsys):
    store = open_accounts(DynamoDBEventStore(aws["dynamodb"], aws["tables"]["events"]), "carol")
    deps = CommandDependencies(store=store, clock=utc_now, new_id=new_event_id)
    record(RecordCredit("carol", Money(100)), deps)
    projections = DynamoDBProjectionStore(aws["dynamodb"], aws["tables"]["projections"])
    projections.save("carol", TotalBalance(Money(100), 2))
    projections.save("carol", CurrentMonthBalance("2026-11", Money(100), 2))
    projections.save("carol", MonthlyStatement("2026-11", Money(100), Money(0), Money(100), 1, 2))
    assert main(["--environment", "test", "status", "--account", "carol"]) == 0
    assert "every stored event is reflected" in capsys.readouterr().out
