"""Terraform is formatted, every environment initialises offline and validates, and
checkov finds nothing (or an inline skip says why a check does not apply)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.terraform import (
    ENVIRONMENTS,
    LAMBDAS,
    ROOT,
    TERRAFORM_DIR,
    Terraform,
    copy_tree,
    planned,
    resources,
)

pytestmark = pytest.mark.infra

CHECKOV_VENV = ROOT / ".venv-checkov"
CHECKOV_REQUIREMENTS = ROOT / "requirements-checkov.txt"


def test_terraform_is_formatted(tmp_path):
    # GIVEN the repository's terraform/
    # WHEN terraform fmt checks it
    result = Terraform(TERRAFORM_DIR, tmp_path).run(
        "fmt", "-check", "-recursive", "-diff", "-no-color", check=False
    )
    # THEN nothing needs reformatting
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environment_initialises_offline_and_validates(environment, tmp_path):
    # GIVEN a copy of terraform/ and the offline provider mirror
    tree = copy_tree(tmp_path / "terraform")
    terraform = Terraform(tree / "environments" / environment, tmp_path / "work")
    # WHEN it is initialised without its backend and validated
    terraform.run("init", "-backend=false", "-no-color")
    result = terraform.run("validate", "-json", "-no-color", check=False)
    # THEN it is valid, without even a warning
    report = json.loads(result.stdout)
    assert report["valid"], report
    assert report["warning_count"] == 0, report


def checkov_executable() -> Path:
    """checkov from its own virtualenv (its pins clash with moto's boto3), created or
    updated when requirements-checkov.txt changed."""
    executable = CHECKOV_VENV / "bin" / "checkov"
    stamp = CHECKOV_VENV / ".installed"
    wanted = CHECKOV_REQUIREMENTS.read_text()
    if executable.exists() and stamp.exists() and stamp.read_text() == wanted:
        return executable
    if not (CHECKOV_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(CHECKOV_VENV)], check=True)
        (CHECKOV_VENV / ".gitignore").write_text("*\n")  # as Python 3.13's venv does
    pip = [str(CHECKOV_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run(
        [*pip, "--disable-pip-version-check", "-r", str(CHECKOV_REQUIREMENTS)], check=True
    )
    stamp.write_text(wanted)
    return executable


def test_checkov_finds_no_failed_check(tmp_path):
    # GIVEN a clean copy of terraform/ (no .terraform left by a local init)
    tree = copy_tree(tmp_path / "terraform")
    # WHEN checkov scans it
    scan = [str(checkov_executable()), "--directory", str(tree), "--framework", "terraform"]
    result = subprocess.run(
        [*scan, "--output", "json", "--quiet", "--compact", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,
    )
    # THEN no check failed (skips carry their reason inline)
    reports = json.loads(result.stdout or "[]")
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{check['check_id']} {check['resource']} {check['file_path']}:{check['file_line_range']}"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, "\n".join(failed)
    assert result.returncode == 0, result.stderr[-3000:]
    assert all(report["summary"]["parsing_errors"] == 0 for report in reports), reports


@pytest.mark.parametrize(
    ("environment", "protected", "retention"), [("dev", False, 30), ("prod", True, 365)]
)
def test_aws_environment_plans_with_its_protections(environment, protected, retention, tmp_path):
    # GIVEN dev or prod, WHEN planned from an empty state
    plan = planned(environment, tmp_path)
    # THEN it creates one function per Lambda directory, named for the environment
    functions = [r["values"] for r in resources(plan, "aws_lambda_function")]
    assert sorted(f["function_name"] for f in functions) == [
        f"ledger-{environment}-{name}" for name in LAMBDAS
    ]
    # AND Lambda sends none of its per-invocation records, and the functions' own level
    for function in functions:
        assert function["logging_config"] == [
            {
                "log_format": "JSON",
                "log_group": f"/aws/lambda/{function['function_name']}",
                "application_log_level": "INFO",
                "system_log_level": "WARN",
            }
        ], function["function_name"]
    # AND its tables are recoverable, and deletable only where that is meant
    tables = [r["values"] for r in resources(plan, "aws_dynamodb_table")]
    assert sorted(t["name"] for t in tables) == [
        f"ledger-{environment}-{name}"
        for name in ("events", "holds", "idempotency", "projections", "transfers")
    ]
    for table in tables:
        assert table["point_in_time_recovery"] == [{"enabled": True}], table["name"]
        assert table["deletion_protection_enabled"] is protected, table["name"]
        assert table["server_side_encryption"][0]["enabled"] is True, table["name"]
    for group in resources(plan, "aws_cloudwatch_log_group"):
        assert group["values"]["retention_in_days"] == retention, group["address"]
    # AND the functions EventBridge invokes retry, then set failures aside
    configs = {
        change["address"]: change["change"]
        for change in plan["resource_changes"]
        if change["type"] == "aws_lambda_function_event_invoke_config"
    }
    assert {address.split('"')[1] for address in configs} == {"dispatcher", "projectors"}
    for change in configs.values():
        assert 0 <= change["after"]["maximum_retry_attempts"] <= 2
        # the queue ARN is known after apply: the destination is set, to an unknown value
        assert change["after_unknown"]["destination_config"][0]["on_failure"][0]["destination"]
