"""EventBridge → Lambda targets, which moto does not deliver.

On each bus Terraform declared the runtime adds a "tap": a rule matching every event (not
in Terraform, so ``terraform plan`` stays clean), whose events our moto server keeps in
a log the runtime reads with a cursor (scripts.local.moto_patches' BusEventLog, served at
/_local/bus-events; an SQS queue in between cost moto a send, a receive and a delete per
event). For each tapped event it evaluates every Terraform rule of that bus with moto's
own pattern matcher and hands the event to the rule's Lambda targets, each
independently, asynchronously, at least once and in no particular order, as
EventBridge does.

EventBridge invokes a Lambda target asynchronously: its RetryPolicy and DeadLetterConfig
cover failing to hand the event over (e.g. the function is gone); once Lambda accepted
it, the function's own async settings govern retries (see async_invoke).
"""

from __future__ import annotations

import functools
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import requests
from moto.events.models import EventPattern
from moto.events.utils import EventTemplateParser

from scripts.local.async_invoke import AsyncInvoker
from scripts.local.aws import Moto
from scripts.local.destinations import Destinations
from scripts.local.faults import DUPLICATE, Faults
from scripts.local.logs import Logs
from scripts.local.moto_patches import TAP_RULE
from scripts.local.threads import Workers
from scripts.local.wiring import Rule, Target, Wiring

MATCH_EVERYTHING = json.dumps({"source": [{"prefix": ""}]})
# The longest one read of a bus's events waits for one (how soon a stop is noticed), and
# the most events one read takes (as an SQS receive did).
TAP_WAIT_S = 1.0
TAP_BATCH = 10


@functools.lru_cache(maxsize=256)
def _pattern(text: str) -> EventPattern:
    """A rule's pattern, parsed once rather than for every event it is matched against."""
    return EventPattern.load(text)


def rule_matches(rule: Rule, event: dict[str, Any]) -> bool:
    return bool(_pattern(rule.event_pattern).matches_event(cast(Any, event)))


def target_input(target: Target, event: dict[str, Any]) -> Any:
    """What the target receives: the event, or what its Input* settings make of it."""
    if target.input is not None:
        return json.loads(target.input)
    if target.input_transformer:
        return EventTemplateParser.parse(
            input_template=str(target.input_transformer.get("InputTemplate", "")),
            input_paths_map=target.input_transformer.get("InputPathsMap", {}),
            event=cast(Any, event),
        )
    if target.input_path:
        value: Any = event
        for key in target.input_path.removeprefix("$").strip(".").split("."):
            value = value.get(key) if key and isinstance(value, dict) else value
        return value
    return event


class BusDelivery:
    def __init__(
        self,
        moto: Moto,
        wiring: Wiring,
        invoker: AsyncInvoker,
        destinations: Destinations,
        logs: Logs,
        faults: Faults | None = None,
    ) -> None:
        self._moto = moto
        self._wiring = wiring
        self._faults = faults or Faults.off()
        self._invoker = invoker
        self._destinations = destinations
        self._logs = logs
        self._workers = Workers()
        self._stopped = self._workers.stopped
        self._handovers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="bus-handover")

    def start(self) -> None:
        for bus_name in self._wiring.bus_names:
            self._moto.client("events").put_rule(
                Name=TAP_RULE, EventBusName=bus_name, EventPattern=MATCH_EVERYTHING
            )
            self._workers.start(self._poll, bus_name, name=f"bus-{bus_name}")

    def request_stop(self) -> None:
        self._workers.request_stop()

    def stop(self) -> None:
        self._workers.stop()
        self._handovers.shutdown(wait=False, cancel_futures=True)

    def _poll(self, bus_name: str) -> None:
        """Read the bus's tapped events in order and route each; a read after the last
        one routed acknowledges it, so an event is lost only with the moto server."""
        session = requests.Session()
        url = f"{self._moto.endpoint_url}/_local/bus-events"
        after = 0
        while not self._stopped.is_set():
            query: dict[str, str | float] = {
                "bus": bus_name,
                "after": after,
                "timeout": TAP_WAIT_S,
                "limit": TAP_BATCH,
            }
            try:
                answer = session.get(url, params=query, timeout=TAP_WAIT_S + 30)
                answer.raise_for_status()
                page = answer.json()
            except (requests.RequestException, ValueError) as exc:
                # Keep polling through moto hiccups, from the same cursor.
                self._logs.write("runtime", f"bus {bus_name}: polling failed: {exc}")
                self._stopped.wait(1)
                continue
            for tapped in page["events"]:
                self._route(bus_name, self._as_eventbridge_event(tapped))
            after = int(page["last"])

    def _as_eventbridge_event(self, tapped: dict[str, Any]) -> dict[str, Any]:
        """The event as EventBridge gives it to a target: AWS's fields in AWS's order
        (moto's copy has an `ingestion-time` of its own), the account and region filled
        in should moto's copy lack them."""
        account = next(iter(self._wiring.rules)).arn.split(":")[4]
        return {
            "version": tapped.get("version", "0"),
            "id": tapped["id"],
            "detail-type": tapped["detail-type"],
            "source": tapped["source"],
            "account": tapped.get("account", account),
            "time": tapped["time"],
            "region": tapped.get("region", self._moto.region),
            "resources": tapped.get("resources", []),
            "detail": tapped.get("detail", {}),
        }

    def _route(self, bus_name: str, event: dict[str, Any]) -> None:
        for rule in self._wiring.rules:
            if rule.bus_name != bus_name or not rule.enabled or not rule_matches(rule, event):
                continue
            for target in rule.targets:
                if target.is_lambda:
                    self._deliver(rule, target, event)

    def _deliver(self, rule: Rule, target: Target, event: dict[str, Any]) -> None:
        """Hand over now, or (with faults on) late, twice, or both."""
        function = target.arn.rsplit(":", 1)[-1]
        copies = 2 if self._faults.inject(DUPLICATE, function) else 1
        for _ in range(copies):
            delay = self._faults.delay_s(function)
            if delay:
                timer = threading.Timer(
                    delay, lambda: self._handovers.submit(self._hand_over, rule, target, event)
                )
                timer.daemon = True
                timer.start()
            else:
                # Handing over only queues the invocation (async_invoke): done here,
                # without a thread hop of its own.
                self._hand_over(rule, target, event)

    def _hand_over(self, rule: Rule, target: Target, event: dict[str, Any]) -> None:
        """Hand the event to Lambda's async invocation, as EventBridge does.

        A missing function or a resource policy that does not let the rule invoke it are
        non-retriable errors: EventBridge sends the event to the target's dead-letter
        queue at once. (Its RetryPolicy covers retriable errors such as throttling, which
        the runtime never produces: it queues invocations instead.)
        """
        try:
            function = self._wiring.function(target.arn)
        except KeyError as exc:
            self._dead_letter(rule, target, event, "RESOURCE_NOT_FOUND", str(exc))
            return
        if not function.allows("events.amazonaws.com", rule.arn):
            message = f"no permission lets {rule.arn} invoke {function.name}"
            self._dead_letter(rule, target, event, "NO_PERMISSIONS", message)
            return
        self._invoker.submit(function, target_input(target, event))

    def _dead_letter(
        self, rule: Rule, target: Target, event: dict[str, Any], code: str, message: str
    ) -> None:
        self._logs.write("runtime", f"rule {rule.name}: not delivered to {target.arn}: {message}")
        if target.dead_letter_arn:
            self._destinations.send(
                target.dead_letter_arn,
                event,
                {
                    "RULE_ARN": rule.arn,
                    "TARGET_ARN": target.arn,
                    "ERROR_CODE": code,
                    "ERROR_MESSAGE": message,
                },
            )
