"""Replayed events reach the projections and nothing else: the bus rules Terraform
declares, matched with moto's EventBridge pattern matcher."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from banking.adapters.memory import InMemoryEventStore, InMemoryPublisher
from banking.application.commands import CommandDependencies, record
from banking.application.dispatch import bus_entry
from banking.application.replay import ReplayJob, run_job
from banking.domain.account import RecordCredit
from banking.domain.money import Money
from banking.domain.read_models import StateCarriedEvent
from banking.entrypoints.bootstrap import new_event_id, utc_now
from tests.support import open_accounts

LEDGER_TF = Path(__file__).resolve().parents[2] / "terraform" / "modules" / "ledger" / "main.tf"
# What a consumer with side effects (a notifier) subscribes to: live events only.
NOTIFIER_PATTERN = {"source": ["ledger.dispatcher"], "detail-type": ["CreditEvent", "DebitEvent"]}


def terraform_pattern(rule: str) -> dict[str, Any]:
    """The event pattern of a rule of the ledger module, from its `jsonencode({...})`."""
    block = LEDGER_TF.read_text().split(f"    {rule} = {{", 1)[1]
    hcl = re.search(r"event_pattern\s*=\s*jsonencode\((\{.*?\})\)\n", block)
    assert hcl is not None, f"no event_pattern in rule {rule}"
    pattern: dict[str, Any] = json.loads(re.sub(r"([\w-]+)\s*=", r'"\1":', hcl.group(1)))
    return pattern


def on_the_bus(source: str, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "1",
        "source": source,
        "detail-type": detail_type,
        "account": "123456789012",
        "time": "2026-11-26T07:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": detail,
    }


@pytest.fixture
def live_and_replayed() -> tuple[dict[str, Any], dict[str, Any]]:
    store = open_accounts(InMemoryEventStore(), "alice")
    deps = CommandDependencies(store=store, clock=utc_now, new_id=new_event_id)
    record(RecordCredit("alice", Money(100)), deps)
    stored = store.get("alice", 2)
    live = bus_entry(
        StateCarriedEvent.of(stored.event, stored.state), correlation_id=None, replay=False
    )
    publisher = InMemoryPublisher()
    run_job(ReplayJob(), store, publisher)
    replayed = publisher.published[0]
    return (
        on_the_bus(live.source, live.detail_type, live.detail),
        on_the_bus(replayed.source, replayed.detail_type, replayed.detail),
    )


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    matcher: Any = EventPattern.load(json.dumps(pattern))
    return bool(matcher.matches_event(event))


def test_the_projectors_rule_takes_live_and_replayed_events(live_and_replayed):
    live, replayed = live_and_replayed
    pattern = terraform_pattern("balance_changed")
    assert matches(pattern, live)
    assert matches(pattern, replayed)


def test_a_side_effect_consumer_never_sees_a_replayed_event(live_and_replayed):
    live, replayed = live_and_replayed
    assert matches(NOTIFIER_PATTERN, live)
    assert not matches(NOTIFIER_PATTERN, replayed)


def test_the_dispatcher_rule_ignores_replayed_events(live_and_replayed):
    _, replayed = live_and_replayed
    assert not matches(terraform_pattern("event_stored"), replayed)


def test_replayed_events_say_so_in_their_detail_too(live_and_replayed):
    live, replayed = live_and_replayed
    assert (live["source"], live["detail"]["replay"]) == ("ledger.dispatcher", False)
    assert (replayed["source"], replayed["detail"]["replay"]) == ("ledger.replay", True)
