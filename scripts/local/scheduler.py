"""EventBridge Scheduler, locally: every schedule Terraform applied to moto (moto stores
schedules but never runs them) invokes its Lambda target on a timer, with the input the
schedule gives. As on AWS, a run is not retried: the next one comes an interval later.

`rate(N minute(s)|second(s)|hour(s))` gives the interval; LEDGER_EXPIRER_INTERVAL
(seconds) overrides it, so the end-to-end tests see holds expire in about a second.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from scripts.local.aws import Moto
from scripts.local.logs import Logs
from scripts.local.threads import Workers
from scripts.local.workers import Outcome

INTERVAL_VARIABLE = "LEDGER_EXPIRER_INTERVAL"
_RATE = re.compile(r"\Arate\((\d+) (second|minute|hour|day)s?\)\Z")
_UNIT_S = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Schedule:
    name: str
    function_arn: str
    input: Any
    interval_s: float


def interval_of(expression: str, override: str | None = None) -> float:
    """The seconds between runs: the override when given, else the rate expression's."""
    if override:
        return float(override)
    match = _RATE.match(expression)
    if match is None:
        raise ValueError(f"only rate() schedules run locally, not {expression!r}")
    return int(match.group(1)) * _UNIT_S[match.group(2)]


def load(moto: Moto, override: str | None = None) -> list[Schedule]:
    """Every enabled schedule with a Lambda target; `override` defaults to the
    environment's LEDGER_EXPIRER_INTERVAL."""
    return list(_schedules(moto, override or os.environ.get(INTERVAL_VARIABLE)))


def _schedules(moto: Moto, override: str | None) -> Iterator[Schedule]:
    scheduler = moto.client("scheduler")
    for summary in scheduler.list_schedules().get("Schedules", []):
        found = scheduler.get_schedule(
            Name=summary["Name"], GroupName=summary.get("GroupName", "default")
        )
        target = found["Target"]
        if found.get("State", "ENABLED") != "ENABLED" or ":lambda:" not in target["Arn"]:
            continue
        yield Schedule(
            name=found["Name"],
            function_arn=target["Arn"],
            input=json.loads(target.get("Input") or "{}"),
            interval_s=interval_of(found["ScheduleExpression"], override),
        )


class Scheduler:
    """Runs each schedule's target every interval until stopped."""

    def __init__(
        self, schedules: list[Schedule], invoke: Callable[[str, Any], Outcome], logs: Logs
    ) -> None:
        self._schedules = schedules
        self._invoke = invoke
        self._logs = logs
        self._workers = Workers()

    def describe(self) -> str:
        return "\n".join(
            f"  schedule {s.name} every {s.interval_s:g}s -> {s.function_arn.split(':')[6]}"
            for s in self._schedules
        )

    def start(self) -> None:
        for schedule in self._schedules:
            self._workers.start(self._run, schedule, name=f"schedule-{schedule.name}")

    def request_stop(self) -> None:
        self._workers.request_stop()

    def stop(self) -> None:
        self._workers.stop()

    def _run(self, schedule: Schedule) -> None:
        while not self._workers.stopped.wait(schedule.interval_s):
            try:
                outcome = self._invoke(schedule.function_arn, schedule.input)
            except Exception as exc:  # noqa: BLE001 - a failed run waits for the next one
                self._logs.write("runtime", f"schedule {schedule.name}: invoke failed: {exc}")
                continue
            if outcome.failed:
                self._logs.write("runtime", f"schedule {schedule.name}: {outcome.error}")
