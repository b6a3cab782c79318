"""The local runtime: the wiring read from moto, brought to life."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from scripts.local import scheduler as scheduler_module
from scripts.local import wiring as wiring_module
from scripts.local.async_invoke import AsyncInvoker
from scripts.local.aws import Moto
from scripts.local.bus import BusDelivery
from scripts.local.code import CodeStore, CodeWatcher
from scripts.local.destinations import Destinations
from scripts.local.faults import Faults
from scripts.local.http_api import HttpApiServer, source_arn
from scripts.local.invoke_api import InvokeApiServer
from scripts.local.logs import Logs
from scripts.local.stream_poller import StreamPollers
from scripts.local.wiring import Function, Wiring
from scripts.local.workers import DEFAULT_CONCURRENCY, FunctionPool, Outcome


class _Part(Protocol):
    def request_stop(self) -> None: ...  # stop taking work, without waiting
    def stop(self) -> None: ...  # and wait for the work under way


@dataclass(frozen=True)
class RetryDelays:
    """Waits between retries. AWS's are longer; these keep failures visible quickly."""

    stream_s: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0)
    async_s: tuple[float, ...] = (1.0, 2.0)


class Runtime:
    def __init__(
        self,
        moto: Moto,
        dist_dir: Path,
        state_dir: Path,
        port: int,
        logs: Logs,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        retry_delays: RetryDelays | None = None,
        faults: Faults | None = None,
    ) -> None:
        self._moto = moto
        # LEDGER_FAULTS switches fault injection on (docs/reliability.md).
        self.faults = faults or Faults.from_env(state_dir)
        self._dist_dir = dist_dir
        self._state_dir = state_dir
        self._port = port
        self._logs = logs
        self._max_concurrency = max_concurrency
        self._retry_delays = retry_delays or RetryDelays()
        self._pools: dict[str, FunctionPool] = {}
        self._parts: list[_Part] = []
        self.wiring: Wiring | None = None
        self.api_server: HttpApiServer | None = None
        self.invoke_api: InvokeApiServer | None = None

    def invoke(self, function_arn: str, event: Any) -> Outcome:
        assert self.wiring is not None
        return self._pools[self.wiring.function(function_arn).arn].invoke(event)

    def _invoke_for_api(self, function_arn: str, event: dict[str, Any]) -> Outcome:
        """Invoke for API Gateway, which needs the function's resource policy to allow it."""
        assert self.wiring is not None
        function = self.wiring.function(function_arn)
        source = source_arn(event, self._moto.region)
        if not function.allows("apigateway.amazonaws.com", source):
            message = f"no permission lets {source} invoke {function.name} (aws_lambda_permission)"
            self._logs.write("runtime", f"API Gateway: 500, {message}")
            return Outcome("", error={"errorMessage": message, "errorType": "AccessDenied"})
        return self.invoke(function_arn, event)

    def function_environment(self, function: Function) -> Mapping[str, str]:
        """Environment variables this runtime adds to a function's, beyond what Lambda
        sets (a subclass's hook: the bench names each function's SDK clients)."""
        return {}

    def start(self) -> None:
        self.wiring = wiring = wiring_module.load(self._moto)
        self._logs.write("runtime", "wiring read from moto:\n" + wiring_module.describe(wiring))
        if self.faults.enabled:
            self.faults.start_journal()
            self._logs.write("runtime", f"fault injection on: {self.faults.settings.to_json()}")
        code = CodeStore(self._dist_dir, self._state_dir)
        for function in wiring.functions.values():
            self._pools[function.arn] = FunctionPool(
                function,
                code.code_dir(function),
                code.runtime_dir,
                self._moto.endpoint_url,
                self._moto.region,
                self._logs,
                self._max_concurrency,
                self.faults,
                self.function_environment(function),
            )
        # A function deployed again (`make redeploy`) runs its new code from then on.
        lambda_ = self._moto.client("lambda")
        watcher = CodeWatcher(
            lambda: wiring_module.deployed_code(lambda_),
            self._pools,
            self._dist_dir,
            self._state_dir,
            self._logs,
        )
        watcher.start()
        self._parts.append(watcher)
        destinations = Destinations(self._moto, self._logs)
        invoker = AsyncInvoker(
            self.invoke,
            destinations,
            self._logs,
            self._retry_delays.async_s,
            self.faults,
            self._max_concurrency,
        )
        bus = BusDelivery(self._moto, wiring, invoker, destinations, self._logs, self.faults)
        pollers = StreamPollers(
            self._moto,
            wiring.stream_mappings,
            self.invoke,
            {m.function_arn: wiring.function(m.function_arn).name for m in wiring.stream_mappings},
            destinations,
            self._logs,
            self._retry_delays.stream_s,
            self.faults,
        )
        if len(wiring.apis) > 1:
            self._logs.write("runtime", f"{len(wiring.apis)} HTTP APIs; serving the first only")
        if wiring.apis:
            self.api_server = HttpApiServer(
                wiring.apis[0],
                self._port,
                self._invoke_for_api,
                log=lambda message: self._logs.write("runtime", message),
            )
            self.api_server.start()
            self._parts.append(self.api_server)
        # Synchronous invocations by operator tools (`ledger replay`).
        self.invoke_api = InvokeApiServer(self.invoke)
        self.invoke_api.start()
        self._parts.append(self.invoke_api)
        bus.start()
        pollers.start()
        self._parts += [pollers, bus, invoker]
        # The EventBridge Scheduler schedules (the holds' expirer), on their timers.
        scheduler = scheduler_module.Scheduler(
            scheduler_module.load(self._moto), self.invoke, self._logs
        )
        self._logs.write("runtime", "schedules:\n" + (scheduler.describe() or "  (none)"))
        scheduler.start()
        self._parts.append(scheduler)

    def stop(self) -> None:
        # Stop taking work first, then end the functions (which unblocks invokes in
        # flight), then wait for the pollers: none of them is left retrying meanwhile.
        for part in self._parts:
            part.request_stop()
        for pool in self._pools.values():
            pool.close()
        for part in self._parts:
            part.stop()
