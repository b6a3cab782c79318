"""The cold-start proxy measures served first requests, never error paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.coldstart import _check_answer, representative_invocations


@pytest.mark.parametrize(
    "answer",
    [
        {"statusCode": 400, "body": "{}"},
        {"batchItemFailures": [{"itemIdentifier": "1"}]},
        {"read": 1, "published": 0, "failures": [{"accountId": "alice"}]},
    ],
)
def test_a_first_invocation_answered_with_an_error_is_not_measured(answer):
    # GIVEN a probe whose first invocation was refused or failed an item
    figures = {"cpu_seconds": 0.5, "first_cpu_seconds": 0.6, "answer": answer}
    # WHEN the bench reads it
    # THEN it refuses the figure rather than report the cheaper error path
    with pytest.raises(RuntimeError, match="was not served"):
        _check_answer("commands", figures)


def test_a_served_first_invocation_is_measured():
    # GIVEN probes whose first invocation was served (HTTP 201, a clean batch, no answer)
    answers: list[dict[str, Any] | None] = [{"statusCode": 201}, {"batchItemFailures": []}, None]
    for answer in answers:
        # WHEN the bench reads them
        # THEN it accepts them
        _check_answer("commands", {"answer": answer})


def test_every_function_has_a_representative_event_with_what_its_reads_find():
    # GIVEN the bench's representative invocations
    invocations = representative_invocations()
    # THEN every Lambda of the repository has one, with the reads' answers
    lambdas = Path(__file__).resolve().parents[2] / "lambdas"
    assert set(invocations) == {d.name for d in lambdas.iterdir() if (d / "handler.py").is_file()}
    for invocation in invocations.values():
        assert set(invocation) == {"event", "item", "items"}
    # AND the HTTP ones carry a verified token's claims, as the authorizer hands them over
    credit = invocations["commands"]["event"]
    assert credit["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "alice"
    assert credit["headers"]["idempotency-key"]
