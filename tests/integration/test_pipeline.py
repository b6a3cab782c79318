"""The asynchronous side end to end on moto, handler after handler: stream records into
the fanout, its envelopes into the dispatcher, the state-carried events into the
projectors. Each handler's own tests are in tests/lambdas/<name>/."""

from __future__ import annotations

from tests.support import credit, read_models, run_pipeline


def test_events_flow_to_the_read_models(pipeline, context, aws):
    credit(pipeline["commands"], context, "alice", "100.00")
    credit(pipeline["commands"], context, "alice", "30.00", kind="debits")
    carried = run_pipeline(pipeline, context, aws)
    # Alice's opening goes on the bus too, under its own type.
    assert sorted(e["detail-type"] for e in carried) == [
        "AccountOpened",
        "CreditEvent",
        "DebitEvent",
    ]
    assert {e["source"] for e in carried} == {"ledger.dispatcher"}
    assert read_models(aws, "alice") == {
        "TotalBalanceForProfile": ("70.00", 3),
        "CurrentMonthBalanceForProfile": ("70.00", 3),
    }
