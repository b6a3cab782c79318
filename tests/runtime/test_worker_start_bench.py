"""The worker-start bench (bench/worker_start.py) on a throwaway zip."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from bench import worker_start

# Imports boto3 and builds a client at init, as the ledger's functions do.
HANDLER = """
import boto3

client = boto3.client("dynamodb")

def lambda_handler(event, context):
    return {}
"""


def test_the_bench_measures_forked_starts_cheaper_than_interpreter_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a dist directory holding one function's zip
    dist = tmp_path / "dist"
    dist.mkdir()
    with zipfile.ZipFile(dist / "probe.zip", "w") as archive:
        archive.writestr("handler.py", HANDLER)

    # WHEN the bench runs two starts of each kind
    code = worker_start.main([str(dist), "--starts", "2"])

    # THEN it reports them, and a forked start costs less CPU than an interpreter's
    assert code == 0
    output = capsys.readouterr().out
    figures = json.loads(output[output.index("{") :])["probe"]
    assert figures["forked"]["starts"] == figures["interpreter"]["starts"] == 2
    assert figures["template_init"]["cpu_ms"] > 0
    assert figures["forked"]["cpu_ms_median"] < figures["interpreter"]["cpu_ms_median"]
