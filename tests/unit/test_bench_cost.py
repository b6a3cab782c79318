"""The bench prices each function by its architecture, and logs as deployed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cost import LogFilter, LogMeter, deployed_log_sample_rate
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


REQUEST = "0b6c3f0e-6a4e-4b8e-9d7e-2f1a5c3d4e5f"
INVOCATION = [
    f"START RequestId: {REQUEST} Version: $LATEST",
    '{"level":"DEBUG","message":"projected","service":"ledger-projectors"}',
    '{"level":"INFO","message":"recorded","service":"ledger-commands"}',
    '{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]},"CommandAccepted":[1.0]}',
    '{"level":"WARNING","message":"retrying","service":"ledger-commands"}',
    f"END RequestId: {REQUEST}",
    f"REPORT RequestId: {REQUEST}\tDuration: 38.86 ms",
]


def written(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "ledger-local-commands.log"
    with path.open("a", encoding="utf-8") as file:
        file.writelines(line + "\n" for line in lines)
    return path


def size(*lines: str) -> int:
    return sum(len(line.encode()) + 1 for line in lines)


def test_at_system_level_warn_lambda_sends_no_start_end_or_report_record(tmp_path: Path):
    # GIVEN an invocation's output, and Lambda's JSON format at INFO and system WARN
    meter = LogMeter(LogFilter("INFO", "WARN"))
    # WHEN the bench counts what Lambda would send of it
    sent = meter.sent_bytes(written(tmp_path, INVOCATION))
    # THEN the audit line, the metric record (no level: INFO) and the warning count,
    # and neither the platform records nor the DEBUG line do
    assert sent == size(*INVOCATION[2:5])


def test_at_system_level_info_the_platform_records_are_sent(tmp_path: Path):
    meter = LogMeter(LogFilter("INFO", "INFO"))
    sent = meter.sent_bytes(written(tmp_path, INVOCATION))
    assert sent == size(INVOCATION[0], *INVOCATION[2:])


def test_at_application_level_debug_the_debug_lines_are_sent(tmp_path: Path):
    meter = LogMeter(LogFilter("DEBUG", "WARN"))
    assert meter.sent_bytes(written(tmp_path, INVOCATION)) == size(*INVOCATION[1:5])


def test_above_info_the_metric_records_are_dropped_with_the_audit_lines(tmp_path: Path):
    # GIVEN application level WARN (powertools' WARNING in Lambda's name)
    meter = LogMeter(LogFilter("WARNING", "WARN"))
    # THEN only the warning is sent: a line without a level counts as INFO
    assert meter.sent_bytes(written(tmp_path, INVOCATION)) == size(INVOCATION[4])


def test_the_meter_counts_each_line_once_and_waits_for_a_line_s_end(tmp_path: Path):
    # GIVEN a file read once, then grown by a complete line and half of another
    meter = LogMeter(LogFilter("INFO", "WARN"))
    path = written(tmp_path, INVOCATION)
    first = meter.sent_bytes(path)
    with path.open("a", encoding="utf-8") as file:
        file.write(INVOCATION[2] + "\n" + INVOCATION[2][:10])
    # WHEN it is read again, and again once the half line is finished
    second = meter.sent_bytes(path)
    with path.open("a", encoding="utf-8") as file:
        file.write(INVOCATION[2][10:] + "\n")
    third = meter.sent_bytes(path)
    # THEN the running total grows by each complete line, once
    assert second == first + size(INVOCATION[2])
    assert third == second + size(INVOCATION[2])


def test_the_deployed_filter_is_the_ledger_module_s_defaults(tmp_path: Path):
    # GIVEN a module whose functions log at DEBUG with Lambda's records at INFO
    variables = tmp_path / "variables.tf"
    variables.write_text(
        'variable "log_level" {\n  type    = string\n  default = "DEBUG"\n}\n'
        'variable "system_log_level" {\n  type    = string\n  default = "INFO"\n}\n'
    )
    # THEN the bench's filter sends what that configuration sends
    path = written(tmp_path, INVOCATION)
    assert LogMeter(LogFilter.deployed(variables)).sent_bytes(path) == size(*INVOCATION)
    # AND the repository's module drops Lambda's records and the DEBUG lines
    deployed = LogMeter(LogFilter.deployed()).sent_bytes(path)
    assert deployed == size(*INVOCATION[2:5])
