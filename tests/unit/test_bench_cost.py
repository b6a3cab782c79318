"""The bench prices each function by its architecture, and logs as deployed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cost import deployed_log_sample_rate
from bench.prices import LIST_PRICES, Work, cost_breakdown


def one_function(architecture: str | None) -> Work:
    return Work(
        http_requests=0,
        invocations={"projectors": 1},
        billed_ms={"projectors": 1000},
        memory_mb={"projectors": 1024},
        read_units=0,
        write_units=0,
        bus_entries=0,
        architectures={} if architecture is None else {"projectors": architecture},
    )


def test_an_arm64_function_s_second_costs_a_fifth_less_than_an_x86_one():
    # GIVEN one GB-second of the same function on each architecture
    arm = cost_breakdown(one_function("arm64"))["lambda_duration"]
    x86 = cost_breakdown(one_function("x86_64"))["lambda_duration"]
    # THEN each is billed at its own list price, and x86 when none is named
    assert x86 == pytest.approx(LIST_PRICES.lambda_gb_second)
    assert arm == pytest.approx(LIST_PRICES.lambda_gb_second_arm64)
    assert arm == pytest.approx(0.8 * x86, rel=1e-4)
    assert cost_breakdown(one_function(None))["lambda_duration"] == x86


def test_the_deployed_log_sample_rate_is_the_ledger_module_s_default():
    # THEN the rate the bench runs the functions at is read from the Terraform module
    assert 0 < float(deployed_log_sample_rate()) < 1


def test_a_module_without_a_default_sample_rate_is_refused(tmp_path: Path):
    variables = tmp_path / "variables.tf"
    variables.write_text('variable "log_sample_rate" {\n  type = number\n}\n')
    with pytest.raises(ValueError, match="no default log_sample_rate"):
        deployed_log_sample_rate(variables)
