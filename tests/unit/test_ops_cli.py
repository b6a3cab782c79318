"""`scripts/ledger` as a new operator meets it: help for operators, and one line saying
what to set when a region, credentials or the local system are missing."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from scripts.ops import aws
from scripts.ops.__main__ import explain, main

AWS_VARIABLES = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "LEDGER_ENDPOINT_URL",
)


@pytest.fixture
def unconfigured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A machine with no AWS configuration at all, and no local system running."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    # Off EC2 the instance metadata lookup only waits, then finds nothing.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(aws, "LOCAL_DIR", tmp_path / "no-local-system")
    # boto3.client() reuses the process's default session, and with it whatever
    # credentials an earlier test in the same process resolved.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    return tmp_path


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ledger: error: ")
    return lines[0]


def test_a_missing_region_is_one_line_naming_aws_region(unconfigured, capsys):
    # GIVEN no region anywhere  WHEN an operator asks for the status of dev
    status = main(["--environment", "dev", "status"])
    # THEN one line says what to set, and the exit status says it could not run
    assert status == 2
    assert "AWS_REGION" in one_error_line(capsys)


def test_missing_credentials_are_one_line_naming_aws_profile(unconfigured, monkeypatch, capsys):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    status = main(["--environment", "dev", "status"])
    assert status == 2
    line = one_error_line(capsys)
    assert "AWS_PROFILE" in line
    assert "AWS_ACCESS_KEY_ID" in line


def test_a_local_system_not_running_is_one_line_naming_make_up(unconfigured, capsys):
    status = main(["--environment", "local", "status"])
    assert status == 2
    assert "`make up`" in one_error_line(capsys)


def test_a_table_that_does_not_exist_asks_whether_the_environment_is_deployed():
    error = ClientError(
        {"Error": {"Code": "ResourceNotFoundException", "Message": "Requested resource not found"}},
        "Scan",
    )
    line = explain(error, "dev")
    assert line is not None
    assert "is the dev environment deployed?" in line
    assert "terraform/environments/dev" in line


def test_an_error_that_is_not_a_matter_of_setup_is_not_explained_away():
    error = ClientError({"Error": {"Code": "ValidationException", "Message": "bad"}}, "Query")
    assert explain(error, "dev") is None
    assert explain(KeyError("bug"), "dev") is None


def test_the_help_speaks_to_operators(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    help_text = capsys.readouterr().out
    assert "Entry point" not in help_text
    assert "Operate a deployed ledger" in help_text
    for setting in ("AWS_PROFILE", "AWS_REGION", "make up", "status"):
        assert setting in help_text
