"""The hot-account case's counts, from the metered moto's rows."""

from __future__ import annotations

from bench.__main__ import _commands_requests, _conflicts
from bench.report import hot_table

METER = [
    {"caller": "commands", "service": "dynamodb", "operation": "Query", "requests": 10.0},
    {
        "caller": "commands",
        "service": "dynamodb",
        "operation": "TransactWriteItems",
        "requests": 12.0,
        "errors": 2.0,
    },
    {"caller": "commands", "service": "events", "operation": "PutEvents", "requests": 5.0},
    {"caller": "dispatcher", "service": "dynamodb", "operation": "GetItem", "requests": 9.0},
]


def test_the_commands_dynamodb_requests_and_refused_writes_are_counted_apart_from_others():
    # GIVEN the meter's rows: the commands function's reads and writes, another
    # service of it, and another function's reads
    # WHEN the hot-account case counts them
    # THEN only the commands function's DynamoDB requests count, and its refused writes
    assert _commands_requests(METER) == 22.0
    assert _conflicts(METER) == 2.0


def test_the_hot_table_shows_requests_per_accepted_and_reads_runs_without_it():
    # GIVEN one case with the count and one from a run before it was kept
    case = {
        "writers": 8,
        "accepted": 40,
        "accepted_per_s": 20.0,
        "retries_per_accepted": 0.5,
        "dynamodb_requests_per_accepted": 3.0,
        "answers_409": 0,
        "latency_p50_s": 0.1,
        "latency_p99_s": 0.9,
        "statuses": {"201": 40},
    }
    old = {key: value for key, value in case.items() if key != "dynamodb_requests_per_accepted"}
    # WHEN the table is rendered
    table = hot_table({"8": case, "1": old | {"writers": 1}})
    # THEN the new column holds the count, or nan for the older run
    assert "DynamoDB requests/accepted" in table
    assert "3.00" in table
    assert "nan" in table
