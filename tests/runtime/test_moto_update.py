"""Our moto server's UpdateItem (scripts.local.moto_patches): each update expression
parsed once, with the answers, errors, items and stream records moto's own gives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
from moto.dynamodb.parsing.tokens import ExpressionTokenizer

from scripts.local.moto_patches import _update_expression_remembered
from tests.runtime.test_moto_transactions import EVENTS, in_process, seen

__all__ = ["in_process"]  # the fixture, shared with the transactions' tests

pytestmark = pytest.mark.runtime

ALICE_1 = {"accountId": {"S": "alice"}, "version": {"N": "1"}}
# The projectors' shape: every field set, guarded by the read model's version.
PROJECT: dict[str, Any] = {
    "UpdateExpression": "SET #f0 = :f0, #f1 = :f1, #version = :version",
    "ConditionExpression": "attribute_not_exists(#version) OR #version < :version",
    "ExpressionAttributeNames": {"#f0": "balance", "#f1": "month", "#version": "seen"},
}


def projected(balance: str, seen_version: int, **extra: Any) -> dict[str, Any]:
    values = {
        ":f0": {"N": balance},
        ":f1": {"S": "2026-12"},
        ":version": {"N": str(seen_version)},
    }
    return {**PROJECT, "ExpressionAttributeValues": values, **extra}


SCENARIOS: dict[str, list[dict[str, Any]]] = {
    "a read model created, moved forward, and an older version refused": [
        projected("10.00", 1),
        projected("25.50", 3, ReturnValues="ALL_OLD"),
        projected("12.00", 2, ReturnValuesOnConditionCheckFailure="ALL_OLD"),
        projected("12.00", 3),
        projected("40.00", 4, ReturnValues="UPDATED_NEW"),
    ],
    "the same text with spaces of its own, and other clauses": [
        {
            "UpdateExpression": "SET  note=:n ,  total = :t",
            "ExpressionAttributeValues": {":n": {"S": "a"}, ":t": {"N": "1"}},
        },
        {
            "UpdateExpression": "SET total = total + :t REMOVE note ADD tags :s",
            "ExpressionAttributeValues": {":t": {"N": "2"}, ":s": {"SS": ["x", "y"]}},
            "ReturnValues": "ALL_NEW",
        },
        {
            "UpdateExpression": "SET total = total + :t REMOVE note ADD tags :s",
            "ExpressionAttributeValues": {":t": {"N": "5"}, ":s": {"SS": ["z"]}},
            "ReturnValues": "UPDATED_OLD",
        },
        {"UpdateExpression": "DELETE tags :s", "ExpressionAttributeValues": {":s": {"SS": ["x"]}}},
    ],
    "refusals: syntax (twice), unused and missing values, a key attribute": [
        {"UpdateExpression": "SET note = = :n", "ExpressionAttributeValues": {":n": {"S": "a"}}},
        {"UpdateExpression": "SET note = = :n", "ExpressionAttributeValues": {":n": {"S": "a"}}},
        {
            "UpdateExpression": "SET note = :n",
            "ExpressionAttributeValues": {":n": {"S": "a"}, ":unused": {"S": "b"}},
        },
        {"UpdateExpression": "SET note = :missing", "ExpressionAttributeValues": {}},
        {"UpdateExpression": "SET version = :v", "ExpressionAttributeValues": {":v": {"N": "2"}}},
        {"UpdateExpression": "SET note = :n", "ExpressionAttributeValues": {":n": {"S": "a"}}},
    ],
}


def play(dynamodb: Any, updates: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything a client can see of the updates: each answer, then the table and its
    stream."""
    answers: list[Any] = []
    for update in updates:
        try:
            answer = dynamodb.update_item(TableName=EVENTS, Key=ALICE_1, **update)
            answers.append(answer.get("Attributes"))
        except ClientError as error:
            answers.append(
                (
                    error.response["Error"]["Code"],
                    error.response["Error"].get("Message"),
                    error.response.get("Item"),
                )
            )
    return {"answers": answers, EVENTS: seen(dynamodb, EVENTS)}


@pytest.mark.parametrize("name", SCENARIOS)
def test_updates_answer_and_leave_what_moto_s_own_do(
    in_process: Callable[[], Any], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # GIVEN what moto's own UpdateItem answers and leaves for these updates
    theirs = play(in_process(), SCENARIOS[name])

    # WHEN ours plays them on a fresh table
    monkeypatch.setattr(
        UpdateExpressionParser, "make", _update_expression_remembered(UpdateExpressionParser.make)
    )
    ours = play(in_process(), SCENARIOS[name])

    # THEN a client sees the same answers (errors and old items included), items and
    # stream records
    assert ours == theirs


def test_the_scenarios_cover_success_condition_failure_and_refusal(
    in_process: Callable[[], Any],
) -> None:
    answers = [a for s in SCENARIOS.values() for a in play(in_process(), s)["answers"]]
    codes = {a[0] for a in answers if isinstance(a, tuple)}
    assert codes == {"ConditionalCheckFailedException", "ValidationException"}
    assert any(isinstance(a, tuple) and a[2] for a in answers)  # the old item, asked for
    assert any(isinstance(a, dict) for a in answers)


def test_an_update_expression_sent_again_is_not_parsed_again(
    in_process: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN our UpdateItem, counting the update expressions moto tokenizes
    monkeypatch.setattr(
        UpdateExpressionParser, "make", _update_expression_remembered(UpdateExpressionParser.make)
    )
    tokenized: list[str] = []
    tokenize = ExpressionTokenizer.make_list

    def counted(text: str) -> Any:
        tokenized.append(text)
        return tokenize(text)

    monkeypatch.setattr(ExpressionTokenizer, "make_list", staticmethod(counted))
    dynamodb = in_process()

    # WHEN a projector's update is sent for ten versions
    for version in range(1, 11):
        dynamodb.update_item(TableName=EVENTS, Key=ALICE_1, **projected("1.00", version))

    # THEN its expression was tokenized once (moto's own: twice per request), and the
    # last version landed
    assert tokenized.count(PROJECT["UpdateExpression"]) == 1
    item = dynamodb.get_item(TableName=EVENTS, Key=ALICE_1)["Item"]
    assert item["seen"] == {"N": "10"}
