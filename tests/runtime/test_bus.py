"""Bus events delivered to Lambda targets, matched with EventBridge's pattern semantics."""

from __future__ import annotations

import json

import pytest

from scripts.local.bus import rule_matches
from scripts.local.wiring import Rule
from tests.runtime.conftest import Bench, bodies, observing_handler

pytestmark = pytest.mark.runtime

RECORD = observing_handler("observe(event)\n")
FAIL_ONCE = observing_handler(
    "global calls\n"
    "calls = globals().get('calls', 0) + 1\n"
    "if calls == 1:\n"
    "    raise RuntimeError('first call fails')\n"
    "observe(event['detail'])\n"
)
POISON = observing_handler(
    "if event['detail'].get('poison'):\n"
    "    raise ValueError('poison event')\n"
    "observe(event['detail'])\n"
)


def _rule(pattern: dict[str, object]) -> Rule:
    return Rule("r", "arn", "bus", json.dumps(pattern), True, ())


def test_patterns_match_with_eventbridge_semantics() -> None:
    event = {
        "source": "ledger.dispatcher",
        "detail-type": "CreditEvent",
        "detail": {"amount": 12, "accountId": "acc-1"},
    }

    assert rule_matches(_rule({"detail-type": ["CreditEvent", "DebitEvent"]}), event)
    assert rule_matches(_rule({"source": [{"prefix": "ledger."}]}), event)
    assert rule_matches(_rule({"detail": {"amount": [{"numeric": [">", 10]}]}}), event)
    assert not rule_matches(_rule({"detail-type": ["EventStored"]}), event)
    assert not rule_matches(_rule({"detail": {"missing": [{"exists": True}]}}), event)


def _bus_with_target(
    bench: Bench,
    handler: str,
    pattern: dict[str, object],
    on_failure: str | None = None,
    *,
    allowed: bool = True,
    dead_letter_arn: str | None = None,
) -> str:
    """A bus rule with the function as target, wired as the Terraform modules wire it."""
    observed_url, _ = bench.queue("observed")
    arn = bench.function(
        "consumer", {"handler.py": handler}, environment={"OBSERVED_QUEUE_URL": observed_url}
    )
    if on_failure:
        bench.moto.client("lambda").put_function_event_invoke_config(
            FunctionName="consumer",
            MaximumRetryAttempts=1,
            DestinationConfig={"OnFailure": {"Destination": on_failure}},
        )
    events = bench.moto.client("events")
    events.create_event_bus(Name="ledger")
    rule_arn = events.put_rule(
        Name="balance-changed", EventBusName="ledger", EventPattern=json.dumps(pattern)
    )["RuleArn"]
    if allowed:
        bench.allow("consumer", "events.amazonaws.com", rule_arn)
    target: dict[str, object] = {
        "Id": "consumer",
        "Arn": arn,
        "RetryPolicy": {"MaximumRetryAttempts": 2},
    }
    if dead_letter_arn:
        target["DeadLetterConfig"] = {"Arn": dead_letter_arn}
    events.put_targets(Rule="balance-changed", EventBusName="ledger", Targets=[target])
    return observed_url


def _publish(bench: Bench, detail_type: str, detail: dict[str, object]) -> None:
    entries = bench.moto.client("events").put_events(
        Entries=[
            {
                "EventBusName": "ledger",
                "Source": "ledger.test",
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
            }
        ]
    )
    assert entries["FailedEntryCount"] == 0


def test_a_matching_event_reaches_the_lambda_target_and_others_do_not(bench: Bench) -> None:
    # GIVEN a rule for CreditEvent with a Lambda target
    observed_url = _bus_with_target(bench, RECORD, {"detail-type": ["CreditEvent"]})
    bench.start()

    # WHEN a matching and a non-matching event are published
    _publish(bench, "DebitEvent", {"n": 1})
    _publish(bench, "CreditEvent", {"n": 2})

    # THEN only the matching one arrives, shaped as EventBridge shapes it
    [event] = bodies(bench.messages(observed_url, 2, timeout_s=5))
    assert event["detail"] == {"n": 2}
    assert event["detail-type"] == "CreditEvent"
    assert event["source"] == "ledger.test"
    assert {"version", "id", "account", "time", "region", "resources"} <= set(event)
    assert "ingestion-time" not in event


def test_a_target_function_that_fails_once_is_retried(bench: Bench) -> None:
    observed_url = _bus_with_target(bench, FAIL_ONCE, {"source": ["ledger.test"]})
    bench.start()

    _publish(bench, "CreditEvent", {"n": 1})

    assert bodies(bench.messages(observed_url, 1)) == [{"n": 1}]


def test_a_poison_event_lands_in_the_dead_letter_destination_and_others_are_delivered(
    bench: Bench,
) -> None:
    # GIVEN a target function whose failures go to an on-failure queue after one retry
    failure_url, failure_arn = bench.queue("bus-failures")
    observed_url = _bus_with_target(bench, POISON, {"source": ["ledger.test"]}, failure_arn)
    bench.start()

    # WHEN a poison event is published between two good ones
    _publish(bench, "CreditEvent", {"n": 1})
    _publish(bench, "CreditEvent", {"n": 2, "poison": True})
    _publish(bench, "CreditEvent", {"n": 3})

    # THEN the good ones are delivered and the poison one is set aside with its error
    delivered = bodies(bench.messages(observed_url, 2))
    assert sorted(d["n"] for d in delivered) == [1, 3]
    [failure] = bodies(bench.messages(failure_url, 1))
    assert failure["requestPayload"]["detail"] == {"n": 2, "poison": True}
    assert failure["requestContext"]["condition"] == "RetriesExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    assert failure["responsePayload"]["errorType"] == "ValueError"


def test_an_event_for_a_function_that_does_not_allow_the_rule_goes_to_the_target_dlq(
    bench: Bench,
) -> None:
    # GIVEN a target function lacking the aws_lambda_permission for the rule
    dlq_url, dlq_arn = bench.queue("target-dlq")
    observed_url = _bus_with_target(
        bench, RECORD, {"source": ["ledger.test"]}, allowed=False, dead_letter_arn=dlq_arn
    )
    bench.start()

    # WHEN a matching event is published
    _publish(bench, "CreditEvent", {"n": 1})

    # THEN EventBridge cannot invoke it and the event lands in the target's DLQ
    [message] = bench.messages(dlq_url, 1)
    assert json.loads(message["Body"])["detail"] == {"n": 1}
    assert message["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "NO_PERMISSIONS"
    assert message["MessageAttributes"]["RULE_ARN"]["StringValue"].endswith("balance-changed")
    assert bench.messages(observed_url, 1, timeout_s=1) == []
