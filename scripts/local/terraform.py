"""Applies terraform/environments/local to our moto server, keeping every file Terraform
writes (state, .terraform, plans) under the local state directory, not in the repo."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from scripts.local.aws import FAKE_CREDENTIALS

PLUGIN_MIRRORS = ("/opt/tf-plugins", "/usr/share/terraform/plugins", "~/.terraform.d/plugins")


def plugin_dir() -> Path | None:
    """An offline provider mirror if the machine has one (TF_PLUGIN_DIR first); None means
    a plain ``terraform init`` downloads the providers."""
    candidates = [os.environ.get("TF_PLUGIN_DIR", ""), *PLUGIN_MIRRORS]
    for candidate in filter(None, candidates):
        path = Path(candidate).expanduser()
        if any(path.glob("registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws*")):
            return path
    return None


class Terraform:
    def __init__(self, config_dir: Path, state_dir: Path, log_path: Path) -> None:
        self._config_dir = config_dir
        self._state_file = state_dir / "terraform.tfstate"
        self._log_path = log_path
        self._env = {
            **os.environ,
            **FAKE_CREDENTIALS,
            "TF_DATA_DIR": str(state_dir / "terraform-data"),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }

    def _run(self, *args: str, env: dict[str, str] | None = None) -> str:
        command = ["terraform", f"-chdir={self._config_dir}", *args]
        with self._log_path.open("a", encoding="utf-8") as log:
            log.write(f"$ {' '.join(command)}\n")
            log.flush()
            result = subprocess.run(
                command,
                env={**self._env, **(env or {})},
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                check=False,
            )
            log.write(result.stdout)
        if result.returncode != 0:
            raise RuntimeError(
                f"terraform {args[0]} failed (exit {result.returncode}); see {self._log_path}"
            )
        return result.stdout

    def init(self) -> None:
        mirror = plugin_dir()
        self._run(
            "init",
            "-no-color",
            "-input=false",
            f"-backend-config=path={self._state_file}",
            *([f"-plugin-dir={mirror}"] if mirror else []),
        )

    def apply(self, variables: dict[str, str]) -> None:
        var_args = [f"-var={name}={value}" for name, value in variables.items()]
        data_dir = Path(self._env["TF_DATA_DIR"])
        provider_log = self._log_path.with_name("terraform-provider.log")
        with running_provider(data_dir, provider_log, self._env) as env:
            # Most of an apply against moto is the provider waiting between polls; more at once.
            self._run(
                "apply",
                "-no-color",
                "-input=false",
                "-auto-approve",
                "-parallelism=30",
                *var_args,
                env=env,
            )

    def outputs(self) -> dict[str, Any]:
        return output_values(self._run("output", "-json"))


def provider_binary(data_dir: Path) -> Path | None:
    """The AWS provider ``terraform init`` installed in ``data_dir``, None if none."""
    found = sorted(
        data_dir.glob("providers/registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws*")
    )
    return found[-1] if found else None


REATTACH = "TF_REATTACH_PROVIDERS="
# A provider in debug mode logs every call at TRACE whatever TF_LOG says, unless each of
# its loggers is told otherwise (the SDK's, and the provider's own "aws" one, which logs
# every AWS request's body at DEBUG: each function's zip, base64): 25 MB per apply.
PROVIDER_LOG_LEVELS = {
    name: "ERROR"
    for name in (
        "TF_LOG",
        "TF_LOG_PROVIDER",
        "TF_LOG_PROVIDER_AWS",
        "TF_LOG_SDK",
        "TF_LOG_SDK_PROTO",
        "TF_LOG_SDK_MUX",
        "TF_LOG_SDK_HELPER_SCHEMA",
        "TF_LOG_SDK_FRAMEWORK",
    )
}


@contextlib.contextmanager
def running_provider(
    data_dir: Path, log_path: Path, env: dict[str, str]
) -> Iterator[dict[str, str]]:
    """The AWS provider run once for a whole ``terraform apply``: the environment that
    tells Terraform to attach to it (``TF_REATTACH_PROVIDERS``, as the provider's own
    acceptance tests do), or an empty one, for Terraform to start its own, if it cannot.

    An apply starts the provider for each of its walks (validate, plan, apply), and each
    start of this 675 MB binary built its schema of some 1,500 resources again: 15 s of
    a 35 s ``terraform validate`` on the loaded machine. Attached, Terraform reuses the
    one process (it neither starts nor stops it); what it deploys is the same.

    The provider gets Terraform's environment (``env``) but two things: its log levels
    (``PROVIDER_LOG_LEVELS``), and
    AWS_CA_BUNDLE, which moto's plain-HTTP endpoint never uses and which the provider
    cannot apply twice in one process (the second walk's configure fails with "unable
    to add custom RootCAs HTTPClient").
    """
    binary = provider_binary(data_dir)
    if binary is None:
        yield {}
        return
    with log_path.open("a", encoding="utf-8") as log:
        process = subprocess.Popen(
            [str(binary), "-debug"],
            env={**{k: v for k, v in env.items() if k != "AWS_CA_BUNDLE"}, **PROVIDER_LOG_LEVELS},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        drain: threading.Thread | None = None
        try:
            assert process.stdout is not None
            reattach = _reattach_value(process.stdout, log)
            # The provider logs to its stdout as it works: keep the pipe from filling.
            drain = threading.Thread(target=log.writelines, args=(process.stdout,), daemon=True)
            drain.start()
            yield {"TF_REATTACH_PROVIDERS": reattach} if reattach else {}
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if drain is not None:
                drain.join(timeout=10)


def _reattach_value(output: IO[str], log: IO[str]) -> str | None:
    """The provider's ``TF_REATTACH_PROVIDERS='<json>'`` line's value (None if it exits
    without one), every line up to it copied to ``log``."""
    for line in output:
        log.write(line)
        stripped = line.strip()
        if stripped.startswith(REATTACH):
            return stripped.removeprefix(REATTACH).strip("'")
    return None


def output_values(output_json: str) -> dict[str, Any]:
    """`terraform output -json` by name, with the ledger module's outputs (the root's
    `ledger` output) among them as if each were an output of its own."""
    raw: dict[str, Any] = json.loads(output_json)
    values = {name: value["value"] for name, value in raw.items()}
    return {**values.pop("ledger", {}), **values}
