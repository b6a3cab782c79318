"""Where a keyed credit's write units go, item by item, metered as the bench meters them
(bench.moto_server, bench.capacity) over moto in this process: docs/benchmarks.md,
"Session 5 (issue 16, item 2: cost)"."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from moto.dynamodb.responses import DynamoHandler

from bench.capacity import WRITE_UNIT_BYTES
from bench.moto_server import _stored_size, _writes
from tests.conftest import published
from tests.support import bus_event, credit, run_pipeline, stream_records


@pytest.fixture
def metered_writes(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every item each DynamoDB write request touches: its table, key, size before and
    after, and the units DynamoDB bills for it."""
    items: list[dict[str, Any]] = []
    handle = DynamoHandler.call_action

    def metered(self: DynamoHandler) -> Any:
        operation = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
        writes = _writes(self.region, operation, json.loads(self.body or "{}"))
        answer = handle(self)
        for write in writes:
            after = write.new_size
            if after is None:
                after = _stored_size(write.region, write.table, write.key)
            items.append(
                {
                    "operation": operation,
                    "table": write.table.removeprefix("ledger-test-"),
                    "read_model": write.key.get("readModel", {}).get("S", "").split("#")[0],
                    "bytes": max(write.before, after),
                    "units": write.units(operation == "TransactWriteItems"),
                }
            )
        return answer

    monkeypatch.setattr(DynamoHandler, "call_action", metered)
    return items


def test_a_keyed_credit_writes_eight_units_on_six_items_none_over_1_kb(
    pipeline, context, aws, metered_writes
):
    # GIVEN an account that has been opened and credited once, all of it projected
    credit(pipeline["commands"], context, "alice", "100.00")
    run_pipeline(pipeline, context, aws)
    metered_writes.clear()
    # WHEN a keyed credit is stored and its stream record carried to the read models
    credit(pipeline["commands"], context, "alice", "1.00")
    pipeline["fanout"].lambda_handler({"Records": stream_records(aws)[-1:]}, context)
    (envelope,) = published(aws)
    pipeline["dispatcher"].lambda_handler(bus_event(envelope), context)
    (carried,) = published(aws)
    pipeline["projectors"].lambda_handler(bus_event(carried), context)
    # THEN the event and its idempotency record cost 2 units each (one transaction),
    # and each read model 1: four read models, one UpdateItem each
    units = Counter[tuple[str, str, str]]()
    for item in metered_writes:
        units[(item["operation"], item["table"], item["read_model"])] += item["units"]
    assert units == {
        ("TransactWriteItems", "events", ""): 2,
        ("TransactWriteItems", "idempotency", ""): 2,
        ("UpdateItem", "projections", "TotalBalanceForProfile"): 1,
        ("UpdateItem", "projections", "CurrentMonthBalanceForProfile"): 1,
        ("UpdateItem", "projections", "MonthlyStatementForProfile"): 1,
        ("UpdateItem", "projections", "AccountsByOwner"): 1,
    }
    # AND no item is near the 1 KB where its writes would cost double
    assert max(item["bytes"] for item in metered_writes) < WRITE_UNIT_BYTES / 2
