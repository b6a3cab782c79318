"""`make redeploy` on a running system (scripts/local/redeploy.py): the rebuilt zips are
applied with Terraform, Lambda's UpdateFunctionCode changes the functions whose code
changed, and the runtime serves their next requests from the new code, without a
restart and without touching the others.

This module starts a system of its own: it changes a function's code."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from scripts.local.aws import Moto
from scripts.local.code import read_code_in_use
from scripts.local.redeploy import redeploy
from scripts.local.system import REPO, Settings
from scripts.local.wiring import deployed_code
from tests.e2e.conftest import (
    BACK_OFFICE,
    MANAGE_SCOPE,
    READ_ANY_SCOPE,
    WRITE_SCOPE,
    Api,
    eventually,
    new_account_id,
)
from tests.local_system import System, local_system

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

# The queries function's handler, wrapped: every answer says it came from the new code.
WRAPPER = """

_first_handler = lambda_handler


def lambda_handler(event, context):
    response = _first_handler(event, context)
    response.setdefault("headers", {})["x-redeployed"] = "yes"
    return response
"""


@pytest.fixture(scope="module")
def own_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with local_system(tmp_path_factory.mktemp("redeploy-system")) as started:
        yield started


def rebuilt_dist(target: Path) -> Path:
    """dist/'s zips, the queries function's changed: its handler wrapped (and its
    bytecode left out, which the interpreter would otherwise run unchecked)."""
    target.mkdir()
    for path in sorted((REPO / "dist").glob("*.zip")):
        shutil.copyfile(path, target / path.name)
    source, rebuilt = REPO / "dist" / "queries.zip", target / "queries.zip"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as new:
        for entry in old.infolist():
            if entry.filename == "__pycache__/handler.cpython-311.pyc":
                continue
            content = old.read(entry)
            if entry.filename == "handler.py":
                content += WRAPPER.encode()
            new.writestr(entry, content)
    return target


def test_a_redeployed_function_serves_its_next_requests_from_the_new_code(
    own_system: System, tmp_path: Path
) -> None:
    # GIVEN a running system, and an account read through the queries function
    api = Api(
        own_system.api_url, own_system.token(BACK_OFFICE, WRITE_SCOPE, READ_ANY_SCOPE, MANAGE_SCOPE)
    )
    account = api.opened(new_account_id())
    assert api.credit(account, "10.00").status_code == 201
    before = eventually(lambda: settled(api, account, "10.00"), "the credit in the balance")
    assert "x-redeployed" not in before.headers
    in_use = read_code_in_use(own_system.state_dir)

    # WHEN the queries function's code is rebuilt and redeployed
    changed = redeploy(
        Settings(state_dir=own_system.state_dir, dist_dir=rebuilt_dist(tmp_path / "dist"))
    )

    # THEN only it changed; its next request runs the new code, the others' code is the same
    assert list(changed) == ["ledger-local-queries"]
    after = api.get(f"/accounts/{account}")
    assert after.status_code == 200, after.text
    assert after.headers["x-redeployed"] == "yes"
    assert after.json() == before.json()
    now_in_use = read_code_in_use(own_system.state_dir)
    assert now_in_use["ledger-local-queries"] == changed["ledger-local-queries"]
    assert {n: s for n, s in now_in_use.items() if n != "ledger-local-queries"} == {
        n: s for n, s in in_use.items() if n != "ledger-local-queries"
    }
    # The commands function, untouched, still records
    assert api.credit(account, "5.00").status_code == 201


def test_redeploying_the_zips_already_running_changes_nothing(own_system: System) -> None:
    # GIVEN the system running dist/'s zips (deployed again, whatever ran before)
    settings = Settings(state_dir=own_system.state_dir)
    redeploy(settings)

    # WHEN they are deployed again
    changed = redeploy(settings)

    # THEN no function changed, and each runs the code moto says is deployed
    assert changed == {}
    moto = Moto(pointer(own_system, "moto-url"), pointer(own_system, "region"))
    assert read_code_in_use(own_system.state_dir) == {
        arn.rsplit(":", 1)[-1]: sha for arn, sha in deployed_code(moto.client("lambda")).items()
    }


def settled(api: Api, account: str, balance: str) -> requests.Response | None:
    response = api.get(f"/accounts/{account}")
    assert response.status_code == 200, response.text
    return response if response.json()["balances"]["availableBalance"] == balance else None


def pointer(system: System, name: str) -> str:
    return (system.state_dir / name).read_text().strip()
