"""Fault injection (LEDGER_FAULTS): each fault happens where it says, and is journalled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.local.faults import (
    CRASH_AFTER_WRITE,
    DUPLICATE,
    DYNAMODB_THROTTLE,
    INVOKE_ERROR,
    INVOKE_TIMEOUT,
    JOURNAL_NAME,
    FaultSettings,
    FaultSettingsError,
    summary,
    totals,
)
from tests.runtime.conftest import Bench, bodies, observing_handler, table_streaming_to

pytestmark = pytest.mark.runtime

PUT_ITEM = (
    "import boto3\n"
    "from botocore.config import Config\n"
    "client = boto3.client('dynamodb', config=Config(retries={'mode': 'standard',"
    " 'max_attempts': 3}))\n"
    "def lambda_handler(event, context):\n"
    "    client.put_item(TableName='items', Item={'id': {'S': event['id']}})\n"
    "    return 'stored'\n"
)


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch):
    def switch_on(**settings: object) -> None:
        monkeypatch.setenv("LEDGER_FAULTS", json.dumps(settings))

    return switch_on


def _table(bench: Bench) -> None:
    bench.moto.client("dynamodb").create_table(
        TableName="items",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _writer(bench: Bench) -> str:
    # Room for a cold start on a busy machine, and for standard mode's backoff (up to 1,
    # 2, then 4 s between attempts): only the injected faults may fail an invocation.
    return bench.function("writer", {"handler.py": PUT_ITEM}, timeout=15)


def _stored(bench: Bench) -> list[str]:
    items = bench.moto.client("dynamodb").scan(TableName="items")["Items"]
    return sorted(item["id"]["S"] for item in items)


def _journal(bench: Bench) -> dict[str, int]:
    return dict(totals(summary(bench.state / JOURNAL_NAME).items()))


def test_settings_come_from_json_or_a_file_and_reject_what_they_do_not_know(tmp_path: Path):
    # GIVEN settings as JSON, as a file, and two wrong ones
    path = tmp_path / "faults.json"
    path.write_text('{"duplicate_rate": 0.5}')

    # THEN both forms parse, and the wrong ones are refused with the reason
    assert FaultSettings.parse('{"invoke_error_rate": 0.1}').invoke_error_rate == 0.1
    assert FaultSettings.parse(str(path)).duplicate_rate == 0.5
    with pytest.raises(FaultSettingsError, match="unknown setting"):
        FaultSettings.parse('{"invoke_eror_rate": 0.1}')
    with pytest.raises(FaultSettingsError, match="between 0 and 1"):
        FaultSettings.parse('{"delay_rate": 2}')
    assert not FaultSettings.parse('{"max_delay_s": 1}').enabled
    with pytest.raises(FaultSettingsError, match="between 0 and 1"):
        FaultSettings.parse('{"functions": {"fanout": {"invoke_error_rate": -1}}}')


def test_a_function_can_fail_more_often_than_the_others():
    settings = FaultSettings.parse(
        '{"invoke_error_rate": 0.1, "functions": {"projectors": {"invoke_error_rate": 0.5}}}'
    )

    assert settings.for_function("ledger-local-projectors").invoke_error_rate == 0.5
    assert settings.for_function("projectors").invoke_error_rate == 0.5
    assert settings.for_function("ledger-local-commands").invoke_error_rate == 0.1
    assert FaultSettings.parse(settings.to_json()) == settings


def test_an_injected_invoke_error_fails_the_invocation_before_the_handler_runs(
    bench: Bench, faults
) -> None:
    # GIVEN every invocation fails
    faults(invoke_error_rate=1)
    _table(bench)
    arn = _writer(bench)

    # WHEN the function is invoked
    outcome = bench.start().invoke(arn, {"id": "a"})

    # THEN it fails, nothing was written, and the fault is journalled
    assert outcome.error is not None
    assert outcome.error["errorType"] == "Injected.InvokeError"
    assert _stored(bench) == []
    assert _journal(bench) == {INVOKE_ERROR: 1}


def test_an_injected_timeout_loses_the_answer_of_work_that_was_done(bench: Bench, faults) -> None:
    faults(invoke_timeout_rate=1)
    _table(bench)
    arn = _writer(bench)

    outcome = bench.start().invoke(arn, {"id": "a"})

    assert outcome.error is not None
    assert outcome.error["errorType"] == "Sandbox.Timedout"
    assert _stored(bench) == ["a"]
    assert _journal(bench) == {INVOKE_TIMEOUT: 1}


def test_dynamodb_throttling_is_retried_by_the_client_then_surfaces_as_the_error(
    bench: Bench, faults
) -> None:
    # GIVEN every DynamoDB call of the functions is throttled
    faults(dynamodb_throttle_rate=1)
    _table(bench)
    arn = _writer(bench)

    # WHEN the function writes, with a client retrying 3 times (the dict's max_attempts
    # counts retries)
    outcome = bench.start().invoke(arn, {"id": "a"})

    # THEN each attempt was throttled before reaching the table, and the last one fails
    assert outcome.error is not None
    assert "ProvisionedThroughputExceededException" in outcome.error["errorMessage"]
    assert _stored(bench) == []
    assert _journal(bench) == {DYNAMODB_THROTTLE: 4}


def test_a_crash_after_the_write_leaves_the_write_stored_and_the_caller_without_an_answer(
    bench: Bench, faults
) -> None:
    faults(crash_after_write_rate=1)
    _table(bench)
    arn = _writer(bench)
    runtime = bench.start()

    outcome = runtime.invoke(arn, {"id": "a"})

    assert outcome.error is not None
    assert outcome.error["errorType"] == "Runtime.ExitError"
    assert _stored(bench) == ["a"]
    assert _journal(bench) == {CRASH_AFTER_WRITE: 1}
    # AND the next invoke gets a fresh worker (which crashes again, after its write)
    again = runtime.invoke(arn, {"id": "b"})
    assert again.error is not None
    assert again.error["errorType"] == "Runtime.ExitError"
    assert _stored(bench) == ["a", "b"]


def test_a_duplicated_stream_batch_is_delivered_twice(bench: Bench, faults) -> None:
    # GIVEN every stream batch is delivered twice
    faults(duplicate_rate=1)
    observed_url, _ = table_streaming_to(
        bench, observing_handler("observe([r['eventID'] for r in event['Records']])"), BatchSize=10
    )
    bench.moto.client("dynamodb").put_item(TableName="events", Item={"id": {"S": "a"}})

    # WHEN the runtime feeds the stream to the function
    bench.start()

    # THEN the same batch arrives twice
    first, second = bodies(bench.messages(observed_url, 2))
    assert first == second
    assert _journal(bench) == {DUPLICATE: 1}
