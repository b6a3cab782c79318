"""The cold-start proxy measures served first requests, never error paths."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from bench.coldstart import _check_answer, compare, compare_table, representative_invocations


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


def _dist(directory: Path, handler: str) -> Path:
    directory.mkdir()
    with zipfile.ZipFile(directory / "probe.zip", "w") as archive:
        archive.writestr("handler.py", handler)
    return directory


def test_two_builds_are_compared_function_by_function_against_boto3(tmp_path):
    # GIVEN two builds of one function, the second one's import doing more work
    before = _dist(tmp_path / "before", "VALUE = 1\n")
    after = _dist(tmp_path / "after", "VALUE = sum(range(3_000_000))\n")
    # WHEN the bench compares them, interleaved
    compared = compare({"before": before, "after": after}, tmp_path / "state", repetitions=1)
    # THEN each build of the function has its import's CPU beside boto3's, in the order given
    builds = compared["functions"]["probe"]
    assert list(builds) == ["before", "after"]
    assert builds["after"]["import_cpu_ms"] > builds["before"]["import_cpu_ms"]
    boto3_ms = compared["boto3_import_cpu_ms"]
    for figures in builds.values():
        assert figures["import_cpu_vs_boto3"] == pytest.approx(figures["import_cpu_ms"] / boto3_ms)
        # AND no SDK client was built, so none loaded the data a zip may ship
        assert figures["sdk_data_shipped"] is False
        assert figures["first_invocation_cpu_ms"] is None
    table = compare_table(compared)
    assert table.index("| probe | before |") < table.index("| probe | after |")
