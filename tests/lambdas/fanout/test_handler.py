"""The fanout handler on moto: stream records in, envelopes on the bus."""

from __future__ import annotations

from tests.conftest import published
from tests.support import credit, fixture_event, stream_records


def test_the_fanout_publishes_every_new_event_as_an_envelope(pipeline, context, aws):
    for amount in ("1.00", "2.00", "3.00"):
        credit(pipeline["commands"], context, "alice", amount)
    response = pipeline["fanout"].lambda_handler({"Records": stream_records(aws)}, context)
    assert response == {"batchItemFailures": []}
    envelopes = published(aws)
    assert [(e["source"], e["detail-type"]) for e in envelopes] == [
        ("ledger.events", "EventStored")
    ] * 4
    # Alice's opening, then her three credits, each with its request's correlation id.
    by_version = {e["detail"]["version"]: e["detail"] for e in envelopes}
    assert sorted(by_version) == [1, 2, 3, 4]
    assert by_version[1]["type"] == "AccountOpened"
    assert by_version[2]["correlationId"].startswith("req-alice")


def test_the_fanout_publishes_at_most_10_entries_per_call(pipeline, context, aws):
    # Alice's opening and 22 credits: 23 new events.
    for index in range(22):
        credit(pipeline["commands"], context, "alice", f"{index + 1}.00")
    sizes: list[int] = []
    pipeline["fanout"].bus._client.meta.events.register(
        "provide-client-params.events.PutEvents",
        lambda params, **_: sizes.append(len(params["Entries"])),
    )
    response = pipeline["fanout"].lambda_handler({"Records": stream_records(aws)}, context)
    assert response == {"batchItemFailures": []}
    assert sizes == [10, 10, 3]


def test_the_fanout_reports_exactly_the_records_whose_entries_failed(pipeline, context, aws):
    # GIVEN a batch whose second and fourth entries the bus rejects
    for amount in ("1.00", "2.00", "3.00", "4.00"):
        credit(pipeline["commands"], context, "alice", amount)
    records = stream_records(aws)

    def reject_some(parsed, **_):
        for index in (1, 3):
            parsed["Entries"][index] = {"ErrorCode": "InternalFailure", "ErrorMessage": "boom"}
        parsed["FailedEntryCount"] = 2

    pipeline["fanout"].bus._client.meta.events.register("after-call.events.PutEvents", reject_some)
    # WHEN the fanout handles it
    response = pipeline["fanout"].lambda_handler({"Records": records}, context)
    # THEN exactly those two records are reported
    failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    assert failed == [
        records[1]["dynamodb"]["SequenceNumber"],
        records[3]["dynamodb"]["SequenceNumber"],
    ]


def test_the_fanout_handles_the_recorded_fixture(pipeline, context, aws):
    response = pipeline["fanout"].lambda_handler(fixture_event("dynamodb_stream_insert"), context)
    assert response == {"batchItemFailures": []}
    assert published(aws)[0]["detail"]["payload"]["snapshot"]["monthEventCount"] == 1
