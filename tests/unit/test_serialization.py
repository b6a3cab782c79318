"""The JSON shapes the ledger publishes and passes between functions, pinned: they
come from the one cattrs converter, and a change to them is a change of contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from attrs import frozen
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn

from banking import serialization
from banking.application.envelope import EventStored
from banking.application.ports import Cursor
from banking.application.replay import (
    ReplayJob,
    ReplayOptions,
    ReplayResult,
    result_from_payload,
    result_to_payload,
)
from banking.domain.account import Account, evolve
from banking.domain.events import Credited, Debited, EventRef
from banking.domain.money import Money
from banking.domain.read_models import StateCarriedEvent
from banking.serialization import event_from_dict, event_to_dict, state_carried_to_dict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"


def test_the_recorded_event_stored_detail_reads_and_is_published_again_unchanged():
    # GIVEN an EventStored detail as the fanout publishes it
    detail = json.loads((FIXTURES / "eventbridge_event_stored.json").read_text())["detail"]
    # WHEN it is read and written again
    envelope = EventStored.from_detail(detail)
    # THEN nothing of it changed, key order included
    assert json.dumps(envelope.to_detail()) == json.dumps(detail)
    assert (envelope.account_id, envelope.version, envelope.schema_version) == ("alice", 1, 1)


def test_a_replay_job_payload_has_its_options_beside_its_segment_and_cursor():
    # GIVEN a job of one account, resuming after version 3, for one read model
    job = ReplayJob(
        account_id="alice",
        start=Cursor("alice", 3),
        options=ReplayOptions(read_models=("TotalBalanceForProfile",), rate_limit=50.0),
    )
    # WHEN it becomes the replay function's payload
    payload = job.to_payload()
    # THEN it has the shape the function reads, and reads back as the same job
    assert payload == {
        "segment": 0,
        "totalSegments": 1,
        "accountId": "alice",
        "startKey": {"accountId": "alice", "version": 3},
        "target": ["TotalBalanceForProfile"],
        "everyEvent": False,
        "dryRun": False,
        "rateLimit": 50.0,
    }
    assert ReplayJob.from_payload(json.loads(json.dumps(payload))) == job


def test_a_scan_job_payload_has_no_account_and_empty_options_mean_none():
    # GIVEN a payload of segment 2 of 4 with empty and zero options
    payload = {"segment": 2, "totalSegments": 4, "target": [], "rateLimit": 0}
    # WHEN it is read
    job = ReplayJob.from_payload(payload)
    # THEN it is that segment, of every read model, unthrottled; and it has no accountId
    assert (job.segment, job.total_segments, job.account_id) == (2, 4, None)
    assert job.options == ReplayOptions(read_models=None, rate_limit=None)
    assert "accountId" not in job.to_payload()


@pytest.mark.parametrize("segments", [(4, 4), (-1, 4), (0, 0)])
def test_a_replay_job_outside_the_parallel_scan_is_refused(segments):
    segment, total = segments
    with pytest.raises(ValueError, match="parallel scan segment"):
        ReplayJob.from_payload({"segment": segment, "totalSegments": total})


def test_a_replay_result_answers_where_to_continue():
    result = ReplayResult(read=7, published=5, failures=["bob v2: bad"], cursor=Cursor("bob", 2))
    payload = result_to_payload(result)
    assert payload == {
        "read": 7,
        "published": 5,
        "failures": ["bob v2: bad"],
        "lastEvaluatedKey": {"accountId": "bob", "version": 2},
    }
    assert result_from_payload(payload) == result
    assert result_from_payload({"read": 0, "published": 0}).cursor is None


def test_a_reversal_names_its_original_in_camel_case_stored_and_on_the_bus():
    # GIVEN alice's credit, and its reversal
    zone = ZoneInfo("UTC")
    moment = datetime(2026, 11, 26, tzinfo=UTC)
    credit = Credited("alice", 1, "e1", Money(500), moment)
    reversal = Debited("alice", 2, "e2", Money(500), moment, reverses=EventRef("alice", 1))
    # WHEN they are written as stored and as published
    stored = event_to_dict(reversal)
    published = state_carried_to_dict(
        StateCarriedEvent.of(
            reversal, evolve(evolve(Account("alice"), credit, zone), reversal, zone)
        )
    )
    # THEN the reversal names its original; the credit, reversing nothing, reads back
    # without it, and both read back equal
    assert stored["reverses"] == {"accountId": "alice", "version": 1}
    assert published["reverses"] == {"accountId": "alice", "version": 1}
    assert event_from_dict(stored) == reversal
    assert "reverses" not in {k for k, v in event_to_dict(credit).items() if v is not None}
    assert event_from_dict(event_to_dict(credit)) == credit


def test_a_camel_case_class_s_hooks_are_built_on_its_first_use_and_only_once(monkeypatch):
    # GIVEN a class registered on the converter, with the hook generators counted
    built: list[str] = []

    def counted(kind: str, generate: Any) -> Any:
        def generator(*args: Any, **kwargs: Any) -> Any:
            built.append(kind)
            return generate(*args, **kwargs)

        return generator

    monkeypatch.setattr(
        serialization,
        "make_dict_unstructure_fn",
        counted("unstructure", make_dict_unstructure_fn),
    )
    monkeypatch.setattr(
        serialization,
        "make_dict_structure_fn",
        counted("structure", make_dict_structure_fn),
    )

    @frozen
    class LateArrival:
        account_id: str
        arrived_at: datetime

    serialization.register_camel_case(LateArrival)
    # WHEN nothing has used it yet
    # THEN no hook was generated (import costs nothing per class)
    assert built == []
    # WHEN it is written and read, twice, with cattrs generating a hook of its own in
    # between (a mapping's, which it registers, forgetting the hooks it was given)
    arrival = LateArrival("alice", datetime(2026, 3, 1, 12, tzinfo=UTC))
    for counts in ({"a": "1"}, {"b": "2"}):
        data = serialization.converter.unstructure(arrival)
        again = serialization.converter.structure(data, LateArrival)
        serialization.converter.structure(counts, dict[str, int])
        serialization.converter.unstructure(counts, dict[str, int])
    # THEN it has its camelCase form, reads back equal, and each hook was built once
    assert data == {"accountId": "alice", "arrivedAt": "2026-03-01T12:00:00.000000Z"}
    assert again == arrival
    assert sorted(built) == ["structure", "unstructure"]
