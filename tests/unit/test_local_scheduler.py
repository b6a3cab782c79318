"""The local runtime's EventBridge Scheduler: rate expressions, the interval override
the end-to-end tests use, and a schedule's target run on its timer."""

from __future__ import annotations

import threading

import pytest

from scripts.local.logs import Logs
from scripts.local.scheduler import Schedule, Scheduler, interval_of
from scripts.local.workers import Outcome


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(2 hours)", 7200)],
)
def test_a_rate_expression_is_its_interval(expression, seconds):
    assert interval_of(expression) == seconds


def test_the_override_replaces_the_rate():
    assert interval_of("rate(1 minute)", "0.5") == 0.5


def test_a_cron_expression_is_refused_locally():
    with pytest.raises(ValueError, match="rate"):
        interval_of("cron(0 * * * ? *)")


def test_a_schedule_invokes_its_target_with_its_input_every_interval(tmp_path):
    # GIVEN a schedule every 10 ms
    calls: list[tuple[str, object]] = []
    three = threading.Event()

    def invoke(arn: str, event: object) -> Outcome:
        calls.append((arn, event))
        if len(calls) == 3:
            three.set()
        return Outcome("r")

    arn = "arn:aws:lambda:eu-west-1:123456789012:function:ledger-local-expirer"
    scheduler = Scheduler([Schedule("expirer", arn, {"k": 1}, 0.01)], invoke, Logs(tmp_path, None))
    # WHEN it runs a while
    scheduler.start()
    try:
        assert three.wait(5)
    finally:
        scheduler.stop()
    # THEN its target was invoked with its input, again and again
    assert calls[:3] == [(arn, {"k": 1})] * 3
    assert "every 0.01s -> ledger-local-expirer" in scheduler.describe()
