"""Applies terraform/environments/local to our moto server, keeping every file Terraform
writes (state, .terraform, plans) under the local state directory, not in the repo."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

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

    def _run(self, *args: str) -> str:
        command = ["terraform", f"-chdir={self._config_dir}", *args]
        with self._log_path.open("a", encoding="utf-8") as log:
            log.write(f"$ {' '.join(command)}\n")
            log.flush()
            result = subprocess.run(
                command, env=self._env, stdout=subprocess.PIPE, stderr=log, text=True, check=False
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
        # Most of an apply against moto is the provider waiting between polls; more at once.
        self._run(
            "apply", "-no-color", "-input=false", "-auto-approve", "-parallelism=30", *var_args
        )

    def outputs(self) -> dict[str, Any]:
        return output_values(self._run("output", "-json"))


def output_values(output_json: str) -> dict[str, Any]:
    """`terraform output -json` by name, with the ledger module's outputs (the root's
    `ledger` output) among them as if each were an output of its own."""
    raw: dict[str, Any] = json.loads(output_json)
    values = {name: value["value"] for name, value in raw.items()}
    return {**values.pop("ledger", {}), **values}
