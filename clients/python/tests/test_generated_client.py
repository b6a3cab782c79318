"""`Ledger` is generated from `AsyncLedger` (clients/python/scripts/generate_sync.py): the
checked-in file must be what the generator makes, and the two APIs must stay twins."""

from __future__ import annotations

import inspect
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from ledger_client import AsyncLedger, Ledger

CLIENT = Path(__file__).resolve().parents[1]
GENERATOR = CLIENT / "scripts" / "generate_sync.py"
PACKAGE = CLIENT / "src" / "ledger_client"


def generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GENERATOR), *args], capture_output=True, text=True, check=False
    )


def copy_of_the_clients(folder: Path) -> Path:
    for name in ("_async.py", "_client.py"):
        shutil.copyfile(PACKAGE / name, folder / name)
    return folder


def test_the_checked_in_sync_client_is_what_the_async_one_generates() -> None:
    # GIVEN the clients as committed
    # WHEN the generator checks the sync one against a fresh generation
    result = generate("--check")

    # THEN they are the same to the byte
    assert result.returncode == 0, result.stderr


def test_a_hand_edit_of_the_sync_client_is_reported_as_stale(tmp_path: Path) -> None:
    # GIVEN a sync client edited by hand
    package = copy_of_the_clients(tmp_path)
    stale = package / "_client.py"
    stale.write_text(stale.read_text() + "\nEDITED = True\n")

    # WHEN the generator checks it
    result = generate("--check", "--package", str(package))

    # THEN it fails, says how to fix it, and changes nothing
    assert result.returncode == 1
    assert "make client-sync" in result.stderr
    assert stale.read_text().endswith("EDITED = True\n")


def test_regenerating_turns_a_change_of_the_async_client_into_the_sync_one(
    tmp_path: Path,
) -> None:
    # GIVEN a new docstring written in the async client only
    package = copy_of_the_clients(tmp_path)
    source = package / "_async.py"
    source.write_text(
        source.read_text().replace(
            '"""The hold once it is captured', '"""Wait for it. The hold once it is captured'
        )
    )

    # WHEN the sync client is regenerated
    result = generate("--package", str(package))

    # THEN the sync method carries it, without async, and the rest is as committed
    assert result.returncode == 0, result.stderr
    fresh = (package / "_client.py").read_text()
    committed = (PACKAGE / "_client.py").read_text()
    assert "    def wait_for_hold(" in fresh
    assert "async def" not in fresh
    assert fresh.replace("Wait for it. ", "") == committed


def test_every_method_of_the_sync_client_has_an_async_twin_with_the_same_signature() -> None:
    # GIVEN the public methods of both clients
    def public(cls: type) -> dict[str, Callable[..., object]]:
        return {
            name: member
            for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_")
        }

    sync, asynchronous = public(Ledger), public(AsyncLedger)

    # WHEN their names, parameters and docstrings are compared (close ~ aclose)
    asynchronous["close"] = asynchronous.pop("aclose")

    # THEN they are the same, and only the async ones are coroutines or async iterators
    assert sync.keys() == asynchronous.keys()
    for name, method in sync.items():
        twin = asynchronous[name]
        assert inspect.signature(method).parameters == inspect.signature(twin).parameters, name
        assert inspect.getdoc(method) == inspect.getdoc(twin), name
        assert not inspect.iscoroutinefunction(method), name
        assert inspect.iscoroutinefunction(twin) or inspect.isasyncgenfunction(twin), name
