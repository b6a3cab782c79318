"""Logging, metrics and tracing, configured once per function from its environment.

Logs are structured JSON (powertools Logger) carrying the correlation id that starts
at the HTTP request; metrics use the embedded metric format (powertools Metrics) in
the `Ledger` namespace; traces go to X-Ray (powertools Tracer).

What is logged is what an operator needs: errors, the audit line of every write, and
each hop of an event's journey at DEBUG, which `POWERTOOLS_LOGGER_SAMPLE_RATE` turns on
for that fraction of invocations (docs/infrastructure.md, "Logs and their cost").

The X-Ray SDK is imported only where it will trace: it is a third of a function's
import time (docs/benchmarks.md, "Cold-start proxies"), and powertools' Tracer loads it
even when disabled. Lambda's Active tracing records every invocation without it; the
SDK adds a subsegment per AWS call, when `POWERTOOLS_TRACE_DISABLED` is false.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit, single_metric
from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

NAMESPACE = "Ledger"

logger = Logger()
metrics = Metrics(namespace=NAMESPACE)

Handler = TypeVar("Handler", bound=Callable[..., Any])


def tracing_enabled(environment: Mapping[str, str] | None = None) -> bool:
    """powertools' own rule: on Lambda (its task root is set), unless
    POWERTOOLS_TRACE_DISABLED says otherwise."""
    env = os.environ if environment is None else environment
    disabled = resolve_truthy_env_var_choice(env=env.get(constants.TRACER_DISABLED_ENV, "false"))
    return bool(env.get(constants.LAMBDA_TASK_ROOT_ENV)) and not disabled


def traced(handler: Handler) -> Handler:
    """The handler under powertools' Tracer when tracing is enabled, else as it is."""
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools.tracing import Tracer

    traced_handler: Handler = Tracer().capture_lambda_handler(capture_response=False)(handler)
    return traced_handler


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """A metric with its own dimensions, flushed at once (e.g. rejections by code),
    alongside the `service` dimension every other metric of the function has."""
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=value,
        namespace=NAMESPACE,
        default_dimensions={"service": str(metrics.service)},
    ) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)
