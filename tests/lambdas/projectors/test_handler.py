"""The projectors handler on moto: state-carried events in, read models out."""

from __future__ import annotations

from tests.conftest import published
from tests.support import bus_event, credit, read_models, stream_records


def test_out_of_order_and_duplicate_deliveries_leave_the_newest_state(pipeline, context, aws):
    for amount in ("1.00", "2.00", "3.00"):
        credit(pipeline["commands"], context, "alice", amount)
    pipeline["fanout"].lambda_handler({"Records": stream_records(aws)}, context)
    for envelope in published(aws):
        pipeline["dispatcher"].lambda_handler(bus_event(envelope), context)
    # Alice's opening (version 1) and her three credits (2 to 4).
    carried = sorted(published(aws), key=lambda e: e["detail"]["version"])
    for event in [carried[3], carried[1], carried[3], carried[2], carried[0], carried[1]]:
        pipeline["projectors"].lambda_handler(bus_event(event), context)
    assert read_models(aws, "alice")["TotalBalanceForProfile"] == ("6.00", 4)
