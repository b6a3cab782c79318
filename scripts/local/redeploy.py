"""``make redeploy``: the Lambda zips of ``dist/`` deployed to the running local system,
as a deployment to AWS would (docs/local-runtime.md, "Changing the code of a running
system").

Terraform applies the local environment again, with the running system's variables, on
copies of the new zips in the system's own ``dist`` (the snapshot its apply reads): the
functions whose code changed get it through Lambda's UpdateFunctionCode, and the
runtime, which watches each function's CodeSha256 (``code.CodeWatcher``), serves their
next invokes from it. It returns once the runtime runs every function's deployed code.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from scripts.local import wiring
from scripts.local.aws import Moto
from scripts.local.code import read_code_in_use
from scripts.local.system import APPLY_VARIABLES, Settings
from scripts.local.terraform import Terraform

SWITCH_TIMEOUT_S = 60.0


class NotUpError(RuntimeError):
    pass


def redeploy(settings: Settings, timeout_s: float = SWITCH_TIMEOUT_S) -> dict[str, str]:
    """Deploy ``settings.dist_dir``'s zips to the system running in ``settings.state_dir``;
    the functions whose code changed, with their new CodeSha256."""
    state_dir = settings.state_dir
    try:
        variables: dict[str, str] = json.loads((state_dir / APPLY_VARIABLES).read_text())
        region = (state_dir / "region").read_text().strip()
    except FileNotFoundError:
        raise NotUpError(f"no local system is up in {state_dir}: `make up` first") from None
    zips = sorted(settings.dist_dir.glob("*.zip"))
    if not zips:
        raise RuntimeError(f"no Lambda zips in {settings.dist_dir}: run `make package` first")
    lambda_ = Moto(variables["endpoint_url"], region).client("lambda")
    before = wiring.deployed_code(lambda_)
    snapshot = Path(variables["dist_dir"])
    for path in zips:
        # Whole or not at all: the runtime may be reading the snapshot meanwhile.
        partial = snapshot / f".{path.name}.partial"
        shutil.copyfile(path, partial)
        partial.replace(snapshot / path.name)
    Terraform(settings.terraform_dir, state_dir, state_dir / "logs" / "terraform.log").apply(
        variables
    )
    after = wiring.deployed_code(lambda_)
    _wait_for_runtime(state_dir, {_name(arn): sha for arn, sha in after.items()}, timeout_s)
    return {_name(arn): sha for arn, sha in after.items() if before.get(arn) != sha}


def _name(function_arn: str) -> str:
    return function_arn.rsplit(":", 1)[-1]  # arn:aws:lambda:<region>:<account>:function:<name>


def _wait_for_runtime(state_dir: Path, deployed: dict[str, str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        in_use = read_code_in_use(state_dir)
        behind = sorted(name for name, sha in deployed.items() if in_use.get(name) != sha)
        if not behind:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the runtime does not run the deployed code of {', '.join(behind)} after "
                f"{timeout_s:.0f} s; see {state_dir / 'logs'}"
            )
        time.sleep(0.2)
