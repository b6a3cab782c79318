"""What a transaction logs on its way through the pipeline: the audit line of the write
at INFO, and each hop (published, dispatched, projected) only at DEBUG, which the
deployed sample rate turns on for a share of invocations (POWERTOOLS_LOGGER_SAMPLE_RATE)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import published
from tests.support import bus_event, credit, stream_records

HOPS = {"published", "dispatched", "projected"}


@pytest.fixture
def log_lines(pipeline: dict[str, Any]) -> Iterator[tuple[Any, io.StringIO]]:
    # Every function module logs through the one powertools Logger of observability.
    logger = pipeline["commands"].logger
    output = io.StringIO()
    previous = logger.log_level
    logger.registered_handler.setStream(output)
    yield logger, output
    logger.setLevel(previous)


def one_transaction(pipeline: dict[str, Any], context: Any, aws: Any) -> None:
    credit(pipeline["commands"], context, "alice", "1.00")
    pipeline["fanout"].lambda_handler({"Records": stream_records(aws)}, context)
    for envelope in published(aws):
        pipeline["dispatcher"].lambda_handler(bus_event(envelope), context)
    for event in published(aws):
        if event["detail-type"] != "EventStored":
            pipeline["projectors"].lambda_handler(bus_event(event), context)


def messages(output: io.StringIO) -> dict[str, str]:
    lines = [json.loads(line) for line in output.getvalue().splitlines() if line.startswith("{")]
    return {line["message"]: line["level"] for line in lines if "message" in line}


def test_at_info_a_transaction_logs_its_audit_line_and_no_line_per_hop(
    pipeline, context, aws, log_lines
):
    # GIVEN the functions logging at INFO, as deployed outside a sampled invocation
    logger, output = log_lines
    logger.setLevel("INFO")
    # WHEN a credit goes through every hop
    one_transaction(pipeline, context, aws)
    # THEN the write's audit line is there, and no hop logged a line
    logged = messages(output)
    assert logged.get("recorded") == "INFO"
    assert not HOPS & set(logged)


def test_a_sampled_invocation_logs_each_hop_at_debug(pipeline, context, aws, log_lines):
    # GIVEN the functions logging at DEBUG, as a sampled invocation does
    logger, output = log_lines
    logger.setLevel("DEBUG")
    # WHEN a credit goes through every hop
    one_transaction(pipeline, context, aws)
    # THEN every hop logged its line, at DEBUG, beside the audit line at INFO
    logged = messages(output)
    assert {hop: logged.get(hop) for hop in HOPS} == dict.fromkeys(HOPS, "DEBUG")
    assert logged.get("recorded") == "INFO"
