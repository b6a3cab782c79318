"""Running Terraform in tests: offline provider mirror, a throwaway copy of terraform/,
and every file Terraform writes (data dir, lock file, state, plans) under a temp dir,
so tests never touch the repository and can run in parallel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = ROOT / "terraform"
ENVIRONMENTS = ("local", "dev", "prod")
# Every directory under lambdas/ is one function (docs/architecture.md).
LAMBDAS = sorted(p.parent.name for p in (ROOT / "lambdas").glob("*/handler.py"))
PLUGIN_DIRS = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)
# The AWS provider is ~700 MB: long operations against moto take a while.
TIMEOUT_S = 600


def plugin_dir() -> Path | None:
    """An offline mirror holding the AWS provider (TF_PLUGIN_DIR first), or None to let
    Terraform download it from the registry."""
    for candidate in filter(None, (os.environ.get("TF_PLUGIN_DIR"), *PLUGIN_DIRS)):
        path = Path(candidate).expanduser()
        if any(path.glob("registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws*")):
            return path
    return None


def cli_config(directory: Path) -> Path:
    """A Terraform CLI config installing the AWS provider from the offline mirror. Unlike
    `init -plugin-dir`, which copies the 700 MB binary into every data dir, a
    filesystem_mirror is symlinked."""
    path = directory / "terraform.tfrc"
    mirror = plugin_dir()
    if mirror is None:
        path.write_text("")
    else:
        path.write_text(
            f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n'
        )
    return path


def copy_tree(destination: Path) -> Path:
    """terraform/ without anything a local `terraform init` or apply left in it."""
    ignore = shutil.ignore_patterns(
        ".terraform", ".terraform.lock.hcl", "terraform.tfstate*", "backend.hcl", "*.tfvars"
    )
    shutil.copytree(TERRAFORM_DIR, destination, ignore=ignore)
    return destination


class Terraform:
    """terraform -chdir=<one root of a copied tree>, with its own data dir."""

    def __init__(self, root: Path, work_dir: Path, extra_env: dict[str, str] | None = None):
        self.root = root
        self.variables: list[str] = []  # -var arguments a test applied with
        work_dir.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(cli_config(work_dir)),
            "TF_DATA_DIR": str(work_dir / "data"),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            **(extra_env or {}),
        }

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["terraform", f"-chdir={self.root}", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"terraform {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
            )
        return result

    def show_json(self, *args: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.run("show", "-json", *args).stdout)
        return document


def resources(document: dict[str, Any], kind: str | None = None) -> list[dict[str, Any]]:
    """Every resource of `terraform show -json` (state or plan values), in every module."""

    def walk(module: dict[str, Any]) -> list[dict[str, Any]]:
        found = list(module.get("resources", []))
        for child in module.get("child_modules", []):
            found.extend(walk(child))
        return found

    values = document.get("values") or document.get("planned_values") or {}
    everything = walk(values.get("root_module", {}))
    return [r for r in everything if kind is None or r["type"] == kind]


# dev and prod planned offline: the backend swapped for a local one and the provider
# given dummy credentials; a first plan of an empty state calls no AWS API.
OFFLINE_PLAN_OVERRIDE = """
terraform {
  backend "local" {}
}

provider "aws" {
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
}
"""


# What prod refuses to plan without: someone its alarms notify, its users' app.
PROD_VARIABLES = (
    '-var=alarm_actions=["arn:aws:sns:eu-west-1:123456789012:ops-pager"]',
    '-var=cognito_callback_urls=["https://app.example-bank.com/callback"]',
)
REQUIRED_VARIABLES = {"dev": (), "prod": PROD_VARIABLES}


def planned(environment: str, tmp_path: Path, *variables: str) -> dict[str, Any]:
    terraform, dist = prepared(environment, tmp_path)
    terraform.run(
        "plan",
        "-no-color",
        f"-out={tmp_path / 'plan'}",
        f"-var=dist_dir={dist}",
        *(variables or REQUIRED_VARIABLES[environment]),
    )
    return terraform.show_json(str(tmp_path / "plan"))


def prepared(environment: str, tmp_path: Path) -> tuple[Terraform, Path]:
    """dev or prod, initialised offline, and stand-in zips."""
    tree = copy_tree(tmp_path / "terraform")
    root = tree / "environments" / environment
    (root / "zz_offline_plan_override.tf").write_text(OFFLINE_PLAN_OVERRIDE)
    dist = tmp_path / "dist"  # only their hashes matter to a plan
    dist.mkdir()
    for name in LAMBDAS:
        with zipfile.ZipFile(dist / f"{name}.zip", "w") as archive:
            archive.writestr("handler.py", "")
    terraform = Terraform(root, tmp_path / "work")
    terraform.run("init", "-no-color", f"-backend-config=path={tmp_path / 'state'}")
    return terraform, dist
