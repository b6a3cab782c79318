"""The local system's start-up (scripts.local.terraform): one AWS provider process for a
whole `terraform apply`, which Terraform attaches to instead of starting its own per walk."""

from __future__ import annotations

import json
import os
import shlex
import stat
from pathlib import Path

import pytest

from scripts.local.terraform import running_provider

pytestmark = pytest.mark.runtime

REATTACH = {"registry.terraform.io/hashicorp/aws": {"Protocol": "grpc", "Pid": 1, "Test": True}}


def fake_provider(data_dir: Path, body: str) -> Path:
    """A stand-in for the provider `terraform init` installs, where it installs it."""
    folder = data_dir / "providers/registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64"
    folder.mkdir(parents=True)
    binary = folder / "terraform-provider-aws_v5.100.0_x5"
    binary.write_text(f"#!/bin/sh\n{body}\n")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return binary


def serving(tmp_path: Path) -> str:
    """A provider that says how to attach to it, as the real one does with -debug, notes
    its arguments and environment, and serves until stopped."""
    line = f"\tTF_REATTACH_PROVIDERS='{json.dumps(REATTACH)}'"
    return (
        f'echo "$@" > {tmp_path}/args; env > {tmp_path}/env; echo $$ > {tmp_path}/pid\n'
        "echo 'Provider started. To attach Terraform CLI, set ...'\n"
        f"printf '%s\\n' {shlex.quote(line)}\n"
        "while true; do echo working; sleep 0.1; done"
    )


def test_terraform_is_told_to_attach_to_the_one_provider_process(tmp_path: Path) -> None:
    # GIVEN an initialised data dir whose provider serves in debug mode
    fake_provider(tmp_path / "data", serving(tmp_path))
    env = {"PATH": os.environ["PATH"], "AWS_CA_BUNDLE": "/ca.pem", "AWS_REGION": "eu-west-1"}

    # WHEN the apply's provider runs
    with running_provider(tmp_path / "data", tmp_path / "provider.log", env) as attach:
        pid = int((tmp_path / "pid").read_text())
        os.kill(pid, 0)  # THEN it serves for the whole block ...

        # ... Terraform gets the provider's own reattach configuration
        assert json.loads(attach["TF_REATTACH_PROVIDERS"]) == REATTACH
    # ... the provider ran in debug mode with Terraform's environment, minus the CA bundle
    # it cannot configure twice, and logging errors only
    assert (tmp_path / "args").read_text().split() == ["-debug"]
    provider_env = (tmp_path / "env").read_text().splitlines()
    assert "AWS_REGION=eu-west-1" in provider_env
    assert {"TF_LOG=ERROR", "TF_LOG_SDK_PROTO=ERROR", "TF_LOG_PROVIDER_AWS=ERROR"} <= set(
        provider_env
    )
    assert not [line for line in provider_env if line.startswith("AWS_CA_BUNDLE=")]
    # ... and it is stopped afterwards, its output kept in the log
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert "Provider started" in (tmp_path / "provider.log").read_text()


def test_terraform_starts_its_own_provider_when_none_can_be_attached(tmp_path: Path) -> None:
    # GIVEN a data dir with no provider, and one whose provider exits without serving
    fake_provider(tmp_path / "broken", "echo 'flag provided but not defined: -debug'; exit 2")

    # WHEN the apply's provider runs, THEN Terraform is left to start its own
    for data_dir in (tmp_path / "empty", tmp_path / "broken"):
        with running_provider(data_dir, tmp_path / "provider.log", dict(os.environ)) as attach:
            assert attach == {}
