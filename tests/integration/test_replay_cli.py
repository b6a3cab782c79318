"""`ledger replay`, `verify`, `rebuild` and `prune` on moto, run in-process, with
the projectors taking the replayed events from the bus."""

from __future__ import annotations

from typing import Any

import pytest

from banking.adapters.dynamodb import DynamoDBProjectionStore
from banking.application.replay import ReplayJob, ReplayResult
from banking.domain.money import Money
from banking.domain.read_models import TOTAL_BALANCE, TotalBalance
from scripts.ops import rebuild, verify
from scripts.ops.__main__ import main
from scripts.ops.replay import in_process_runner
from tests.conftest import published
from tests.integration.test_statements import write_history
from tests.support import bus_event

LEDGER = ["--environment", "test"]


@pytest.fixture
def projectors(load_handler):
    handler = load_handler("projectors")
    # As if the pointer wait had passed: the projectors see a new generation at once.
    handler.projections._ttl = 0
    return handler


@pytest.fixture
def delivering_runner(monkeypatch, projectors, context, aws):
    """The in-process runner, with the bus delivering each slice to the projectors."""

    def runner(ledger: Any, *, in_process: bool):
        run_here = in_process_runner(ledger)

        def run_and_deliver(job: ReplayJob) -> ReplayResult:
            result = run_here(job)
            for entry in published(aws):
                projectors.lambda_handler(bus_event(entry), context)
            return result

        return run_and_deliver

    for module in (verify, rebuild):
        monkeypatch.setattr(module, "runner", runner)
    monkeypatch.setattr("banking.application.verification.SETTLE_SECONDS", 0)


def test_replay_all_publishes_replay_events_and_prints_a_summary(aws, capsys):
    # GIVEN history of two accounts over four months
    write_history(aws, {"alice": 3, "bob": 1})
    # WHEN every account is replayed in 3 segments
    assert main([*LEDGER, "replay", "--all", "--segments", "3", "--in-process"]) == 0
    # THEN one event per account-month went out, from ledger.replay, and it says so
    entries = published(aws)
    assert len(entries) == 8
    assert {entry["source"] for entry in entries} == {"ledger.replay"}
    assert "read 26 events" in capsys.readouterr().out


def test_a_dry_run_publishes_nothing(aws, capsys):
    write_history(aws, {"alice": 1})
    assert main([*LEDGER, "replay", "--account", "alice", "--dry-run", "--in-process"]) == 0
    assert published(aws) == []
    assert "published 4" in capsys.readouterr().out


def test_verify_reports_missing_read_models_and_repair_fixes_them(aws, delivering_runner, capsys):
    # GIVEN history that no projector has seen
    write_history(aws, {"alice": 2})
    # WHEN verified
    # THEN every read model is reported missing
    assert main([*LEDGER, "verify"]) == 1
    assert "1 with differences, 6 read model(s) differ" in capsys.readouterr().out
    # WHEN repaired
    assert main([*LEDGER, "verify", "--repair", "--in-process"]) == 0
    # THEN nothing differs any more
    assert "after repair: 1 account(s) verified, 0 with differences" in capsys.readouterr().out
    assert main([*LEDGER, "verify", "--account", "alice"]) == 0


def test_verify_repair_fixes_a_read_model_ahead_of_the_events_table(aws, delivering_runner, capsys):
    # GIVEN read models built, then a forged event that put bob's total balance at a
    # version never stored, where the version guard refuses every true write
    write_history(aws, {"alice": 1, "bob": 1})
    assert main([*LEDGER, "verify", "--repair", "--in-process"]) == 0
    store = DynamoDBProjectionStore(aws["dynamodb"], aws["tables"]["projections"])
    store.save("bob", TotalBalance(Money(99_999_999), 999))
    assert store.save("bob", TotalBalance(Money(1), 10)) is False
    capsys.readouterr()
    # WHEN verified and repaired
    assert main([*LEDGER, "verify", "--repair", "--in-process"]) == 0
    # THEN the read model is the fold's again, and the next true write lands
    assert "overwrote 1 read model(s)" in capsys.readouterr().out
    assert main([*LEDGER, "verify"]) == 0
    assert [m for m in store.load("bob") if isinstance(m, TotalBalance)] == [
        TotalBalance(Money(1000 * 4 - 250 * 4), 9)
    ]
    assert store.save("bob", TotalBalance(Money(1), 10)) is True


def test_rebuild_replaces_a_wrong_read_model_without_readers_seeing_it_half_built(
    aws, delivering_runner, capsys
):
    # GIVEN read models built, then one total balance wrong at its right version
    write_history(aws, {"alice": 2, "bob": 1})
    assert main([*LEDGER, "verify", "--repair", "--in-process"]) == 0
    store = DynamoDBProjectionStore(aws["dynamodb"], aws["tables"]["projections"], pointer_ttl=0)
    aws["dynamodb"].update_item(
        TableName=aws["tables"]["projections"],
        Key={"accountId": {"S": "bob"}, "readModel": {"S": TOTAL_BALANCE}},
        UpdateExpression="SET amount = :wrong",
        ExpressionAttributeValues={":wrong": {"S": "999.99"}},
    )
    assert main([*LEDGER, "verify", "--account", "bob"]) == 1
    # WHEN the read model is rebuilt
    code = main(
        [
            *LEDGER,
            "rebuild",
            "--projection",
            TOTAL_BALANCE,
            "--pointer-wait",
            "0",
            "--verify",
            "--segments",
            "2",
            "--in-process",
        ]
    )
    # THEN readers read a new, complete generation, equal to the fold
    assert code == 0
    assert store.generations(TOTAL_BALANCE).active == 1
    assert [m for m in store.load("bob") if isinstance(m, TotalBalance)] == [
        TotalBalance(Money(1000 * 4 - 250 * 4), 9)
    ]
    assert main([*LEDGER, "verify"]) == 0
    assert "readers now read generation 1" in capsys.readouterr().out


def test_prune_deletes_the_replaced_generation_once_nobody_reads_it(
    aws, delivering_runner, monkeypatch, capsys
):
    # GIVEN read models rebuilt into generation 1
    write_history(aws, {"alice": 2, "bob": 1})
    assert main([*LEDGER, "verify", "--repair", "--in-process"]) == 0
    rebuild_args = ["rebuild", "--projection", TOTAL_BALANCE, "--pointer-wait", "0"]
    assert main([*LEDGER, *rebuild_args, "--in-process"]) == 0
    old = {"accountId": {"S": "bob"}, "readModel": {"S": TOTAL_BALANCE}}
    table = aws["tables"]["projections"]
    # WHEN pruned during the grace period, THEN the old generation is kept
    assert main([*LEDGER, "prune", "--projection", TOTAL_BALANCE]) == 0
    assert "deleted 0 item(s) in 0 generation(s)" in capsys.readouterr().out
    assert "Item" in aws["dynamodb"].get_item(TableName=table, Key=old)

    # WHEN the grace period is over: a dry run counts, a prune deletes
    monkeypatch.setattr(
        "banking.application.ports.Generations.written",
        lambda generations, now: [generations.active],
    )
    assert main([*LEDGER, "prune", "--projection", TOTAL_BALANCE, "--dry-run"]) == 0
    assert "generation 0: would delete 2 item(s)" in capsys.readouterr().out
    assert "Item" in aws["dynamodb"].get_item(TableName=table, Key=old)
    assert main([*LEDGER, "prune", "--projection", TOTAL_BALANCE]) == 0
    assert "generation 0: deleted 2 item(s)" in capsys.readouterr().out

    # THEN the old items are gone, and readers still read every balance
    assert "Item" not in aws["dynamodb"].get_item(TableName=table, Key=old)
    assert main([*LEDGER, "verify"]) == 0
