"""The runtime's store of unpacked function code (scripts/local/code.py)."""

from __future__ import annotations

import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from scripts.local.code import CONTENT_DIR, CodeNotFoundError, CodeStore, code_sha256
from scripts.local.wiring import Function


def _zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def _function(name: str, zip_path: Path) -> Function:
    return Function(
        name=name,
        arn=f"arn:aws:lambda:eu-west-1:123456789012:function:{name}",
        handler="handler.lambda_handler",
        runtime="python3.11",
        timeout_s=3,
        memory_mb=128,
        environment={},
        code_sha256=code_sha256(zip_path),
    )


def test_code_unpacked_ahead_is_what_each_function_then_runs(tmp_path: Path) -> None:
    # GIVEN two zips in dist/, unpacked ahead (as while Terraform applies)
    dist = tmp_path / "dist"
    dist.mkdir()
    first = _zip(dist / "first.zip", {"handler.py": "FIRST = 1\n"})
    second = _zip(dist / "second.zip", {"handler.py": "SECOND = 2\n"})
    CodeStore(dist, tmp_path / "state").unpack_all()
    unpacked = sorted((tmp_path / "state" / "functions" / CONTENT_DIR).iterdir())
    for directory in unpacked:
        (directory / "unpacked-ahead").touch()

    # WHEN the runtime's own store (a new one, as at its start) asks for each function's code
    store = CodeStore(dist, tmp_path / "state")
    code = {
        name: store.code_dir(_function(name, path)) for name, path in (("a", first), ("b", second))
    }

    # THEN each gets its own zip's files, in the directories unpacked ahead, not again,
    # under a path naming the function (the soak tells workers apart by it)
    assert (code["a"] / "handler.py").read_text() == "FIRST = 1\n"
    assert (code["b"] / "handler.py").read_text() == "SECOND = 2\n"
    assert sorted(directory.resolve() for directory in code.values()) == unpacked
    assert all((directory / "unpacked-ahead").exists() for directory in code.values())
    assert [directory.parent.name for directory in code.values()] == ["a", "b"]


def test_a_function_whose_code_is_in_no_zip_is_refused_by_name(tmp_path: Path) -> None:
    # GIVEN dist/ rebuilt after the apply: the deployed code is in none of its zips
    dist = tmp_path / "dist"
    dist.mkdir()
    deployed = _zip(tmp_path / "deployed.zip", {"handler.py": "OLD = 1\n"})
    _zip(dist / "rebuilt.zip", {"handler.py": "NEW = 1\n"})
    store = CodeStore(dist, tmp_path / "state")

    # WHEN the runtime asks for the function's code
    # THEN it is refused, naming the function
    with pytest.raises(CodeNotFoundError, match="ledger-local-commands"):
        store.code_dir(_function("ledger-local-commands", deployed))


def test_stores_built_at_once_on_one_state_directory_all_succeed(tmp_path: Path) -> None:
    # GIVEN a zip, and eight stores on one state directory built and unpacking at once
    # (the launcher unpacks while the bench's cold-start probe reads the runtime's site)
    dist = tmp_path / "dist"
    dist.mkdir()
    files = {f"module_{n}.py": f"N = {n}\n" for n in range(200)}
    _zip(dist / "only.zip", {"handler.py": "ONLY = 1\n", **files})
    barrier = threading.Barrier(8)

    def build() -> None:
        barrier.wait()
        CodeStore(dist, tmp_path / "state").unpack_all()

    # WHEN they run
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [pool.submit(build) for _ in range(8)]
    errors = [future.exception() for future in results]

    # THEN none failed, and one whole copy of the zip is left, no partial one
    assert errors == [None] * 8
    content = tmp_path / "state" / "functions" / CONTENT_DIR
    (unpacked,) = list(content.iterdir())
    assert len(list(unpacked.iterdir())) == 201
