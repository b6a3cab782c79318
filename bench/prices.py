"""On-demand list prices and what a transaction's work costs at them.

List prices for us-east-1 as the author knew them in mid-2025 (no internet on the
machine that wrote this, so not re-checked; AWS changes prices: check the pricing
pages before quoting these). DynamoDB is the standard table class after the 50%
on-demand price cut of 1 November 2024; Lambda is the first tier, x86 or arm64 (Graviton,
20% less per GB-second) as each function is deployed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from attrs import field, frozen

PRICES_AS_OF = "2025-06 (list prices, us-east-1, from the author's knowledge; not re-checked)"


@frozen
class Prices:
    dynamodb_write_request_unit: float = 0.625 / 1e6
    dynamodb_read_request_unit: float = 0.125 / 1e6
    # GetRecords by a Lambda event source mapping on a DynamoDB stream is free.
    dynamodb_stream_read_request: float = 0.0
    lambda_request: float = 0.20 / 1e6
    lambda_gb_second: float = 0.0000166667
    lambda_gb_second_arm64: float = 0.0000133334
    # Each 64 KB chunk of a PutEvents entry is one event; rule matching and delivery
    # to targets are included.
    eventbridge_custom_event: float = 1.00 / 1e6
    # Metered per 512 KB of request/response; our requests are far smaller.
    http_api_request: float = 1.00 / 1e6
    cloudwatch_logs_ingested_gb: float = 0.50

    def table(self) -> list[tuple[str, str]]:
        return [
            ("DynamoDB on-demand write request unit", "$0.625 per million"),
            ("DynamoDB on-demand read request unit", "$0.125 per million"),
            ("DynamoDB Streams reads by a Lambda trigger", "free"),
            ("Lambda requests", "$0.20 per million"),
            ("Lambda duration (x86)", "$0.0000166667 per GB-second"),
            ("Lambda duration (arm64)", "$0.0000133334 per GB-second"),
            ("EventBridge custom events (PutEvents entries, per 64 KB)", "$1.00 per million"),
            ("API Gateway HTTP API requests (first 300 million)", "$1.00 per million"),
            ("CloudWatch Logs ingestion", "$0.50 per GB"),
        ]


@frozen
class Work:
    """What one transaction caused, summed over the whole pipeline."""

    http_requests: float
    invocations: Mapping[str, float]  # function -> invocations per transaction
    billed_ms: Mapping[str, float]  # function -> median duration of one invocation
    memory_mb: Mapping[str, int]  # function -> configured memory
    read_units: float
    write_units: float
    bus_entries: float
    log_bytes: float = 0.0
    # function -> "x86_64" or "arm64", as deployed; x86_64 when not named
    architectures: Mapping[str, str] = field(factory=dict)


LIST_PRICES = Prices()


def billed_gb_seconds(duration_ms: float, memory_mb: int) -> float:
    # Lambda bills duration in 1 ms increments, rounded up.
    return math.ceil(duration_ms) / 1000 * memory_mb / 1024


def gb_second_price(architecture: str | None, prices: Prices = LIST_PRICES) -> float:
    return prices.lambda_gb_second_arm64 if architecture == "arm64" else prices.lambda_gb_second


def cost_breakdown(work: Work, prices: Prices = LIST_PRICES) -> dict[str, float]:
    """Dollars per transaction, by line item."""
    duration = sum(
        count
        * billed_gb_seconds(work.billed_ms.get(name, 0.0), work.memory_mb.get(name, 128))
        * gb_second_price(work.architectures.get(name), prices)
        for name, count in work.invocations.items()
    )
    return {
        "api_gateway": work.http_requests * prices.http_api_request,
        "lambda_requests": sum(work.invocations.values()) * prices.lambda_request,
        "lambda_duration": duration,
        "dynamodb_reads": work.read_units * prices.dynamodb_read_request_unit,
        "dynamodb_writes": work.write_units * prices.dynamodb_write_request_unit,
        "eventbridge": work.bus_entries * prices.eventbridge_custom_event,
        "cloudwatch_logs": work.log_bytes / 1e9 * prices.cloudwatch_logs_ingested_gb,
    }


def cost_per_million(work: Work, prices: Prices = LIST_PRICES) -> float:
    return sum(cost_breakdown(work, prices).values()) * 1e6
