from banking.adapters.memory import InMemoryPublisher
from banking.application.fanout import StreamChange, fan_out


def item(version):
    return {
        "accountId": "alice",
        "version": version,
        "type": "CreditEvent",
        "schemaVersion": 1,
        "eventId": f"e{version}",
        "amount": "1.00",
        "recordedAt": "2026-11-26T00:00:00.000000Z",
        "correlationId": f"req-{version}",
    }


def test_every_insert_is_published_as_a_generic_envelope():
    publisher = InMemoryPublisher()
    changes = [StreamChange(str(v), "INSERT", item(v)) for v in range(1, 4)]
    assert fan_out(changes, publisher) == {}
    assert [e.detail["version"] for e in publisher.published] == [1, 2, 3]
    entry = publisher.published[0]
    assert (entry.source, entry.detail_type) == ("ledger.events", "EventStored")
    assert entry.detail["type"] == "CreditEvent"
    assert entry.detail["correlationId"] == "req-1"
    assert entry.detail["payload"]["amount"] == "1.00"


def test_only_the_records_whose_entries_failed_are_reported():
    publisher = InMemoryPublisher()
    publisher.fail_indexes = {1, 3}
    changes = [StreamChange(f"seq-{v}", "INSERT", item(v)) for v in range(1, 6)]
    failures = fan_out(changes, publisher)
    assert set(failures) == {"seq-2", "seq-4"}


def test_a_modify_or_remove_is_set_aside_not_dropped():
    publisher = InMemoryPublisher()
    changes = [
        StreamChange("a", "MODIFY", item(1)),
        StreamChange("b", "REMOVE", None),
        StreamChange("c", "INSERT", item(2)),
        StreamChange("d", "INSERT", {"no": "keys"}),
    ]
    assert set(fan_out(changes, publisher)) == {"a", "b", "d"}
    assert len(publisher.published) == 1
