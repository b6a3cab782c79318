"""Logging, metrics and tracing, configured once per function from its environment.

Logs are structured JSON (powertools Logger) carrying the correlation id that starts
at the HTTP request; metrics use the embedded metric format (powertools Metrics) in
the `Ledger` namespace; traces go to X-Ray (powertools Tracer; disabled off Lambda).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

NAMESPACE = "Ledger"

logger = Logger()
metrics = Metrics(namespace=NAMESPACE)
tracer = Tracer()


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
