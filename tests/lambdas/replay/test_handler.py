"""The replay handler on moto: one scan segment of the events table onto the bus, as
`ledger.replay` events, answering where it stopped."""

from __future__ import annotations

import pytest

from tests.conftest import published
from tests.support import credit, replay_segment

WHOLE_TABLE = {"segment": 0, "totalSegments": 1}


@pytest.fixture
def history(pipeline, context):
    """Alice has three credits this month, Bob one (each opened first, at version 1)."""
    for amount in ("1.00", "2.00", "3.00"):
        credit(pipeline["commands"], context, "alice", amount)
    credit(pipeline["commands"], context, "bob", "5.00")


def latest_versions(entries):
    versions: dict[str, int] = {}
    for entry in entries:
        account, version = entry["detail"]["accountId"], entry["detail"]["version"]
        versions[account] = max(version, versions.get(account, 0))
    return versions


def test_a_segment_is_published_as_the_last_event_of_each_account_month(
    load_handler, context, aws, history
):
    # GIVEN two accounts' history (the `history` fixture)
    replay = load_handler("replay")
    # WHEN the whole table is replayed in one invocation
    answer = replay.lambda_handler(WHOLE_TABLE, context)
    # THEN every event was read, one per account-month published, and the segment is done
    assert answer == {"read": 6, "published": 2, "failures": [], "lastEvaluatedKey": None}
    entries = published(aws)
    assert {entry["source"] for entry in entries} == {"ledger.replay"}
    assert latest_versions(entries) == {"alice": 4, "bob": 2}


def test_a_dry_run_counts_what_it_would_publish_and_publishes_nothing(
    load_handler, context, aws, history
):
    replay = load_handler("replay")
    answer = replay.lambda_handler({**WHOLE_TABLE, "dryRun": True}, context)
    assert answer["published"] == 2
    assert published(aws) == []


def test_near_its_timeout_it_stops_and_the_next_invocation_resumes_where_it_stopped(
    load_handler, context, aws, history, monkeypatch
):
    # GIVEN a function with less time left than the replay keeps back for its last batch
    replay = load_handler("replay")
    monkeypatch.setattr(context, "get_remaining_time_in_millis", lambda: 10_000)
    # WHEN it is invoked again from each answer's lastEvaluatedKey until that is null
    invocations = replay_segment(replay, context, WHOLE_TABLE)
    # THEN it took several invocations and still published every account's latest event
    assert invocations > 1
    assert latest_versions(published(aws)) == {"alice": 4, "bob": 2}
