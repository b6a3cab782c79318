"""The bench prints each function's import and its import with the first request."""

from __future__ import annotations

from typing import Any

from bench.report import _cold


def _entry(first: float | None) -> dict[str, Any]:
    return {
        "zip_bytes": 2_200_000,
        "import_ms": 400.0,
        "import_vs_boto3": 2.0,
        "import_cpu_vs_boto3": 1.8,
        "first_invocation_cpu_vs_boto3": first,
        "import_ms_with_xray_sdk": 480.0,
        "import_with_xray_sdk_vs_boto3": 2.4,
        "peak_rss_mb": 52.0,
    }


def test_the_cold_start_table_shows_the_first_request_beside_the_import() -> None:
    # GIVEN a function measured with its first request, and one without an event for it
    results = {
        "cold_start": {
            "repetitions": 3,
            "boto3_import_ms": 200.0,
            "boto3_peak_rss_mb": 38.0,
            "functions": {"commands": _entry(2.3), "expirer": _entry(None)},
        }
    }

    # WHEN the table is printed
    lines = _cold(results).splitlines()

    # THEN the column is there, filled for the one and empty for the other
    assert "+ first request, CPU" in lines[0]
    commands = next(line for line in lines if line.lstrip("| ").startswith("commands"))
    expirer = next(line for line in lines if line.lstrip("| ").startswith("expirer"))
    assert "2.3x" in commands
    assert "2.3x" not in expirer
