"""scripts/package.sh: byte-identical zips from two fresh clones, and what a zip holds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.infra.terraform import ROOT

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("package")]

RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "urllib3", "dateutil", "jmespath")


def fresh_clone(destination: Path, mtime: int) -> Path:
    """The files package.sh reads, as a new checkout would lay them: new mtimes and no
    build/ cache or dist/."""
    for relative in ("scripts/package.sh", "scripts/build_zip.py"):
        (destination / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relative, destination / relative)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "lambdas", destination / "lambdas", ignore=ignore)
    shutil.copytree(
        ROOT / "libs/banking/src/banking", destination / "libs/banking/src/banking", ignore=ignore
    )
    if not any((destination / "lambdas").glob("*/handler.py")):  # a repository still empty
        probe = destination / "lambdas" / "probe"
        probe.mkdir(parents=True)
        (probe / "handler.py").write_text("def lambda_handler(event, context):\n    return 1\n")
        (probe / "requirements.txt").write_text("attrs==25.4.0\n")
    for path in destination.rglob("*"):
        os.utime(path, (mtime, mtime))
    return destination


def package(clone: Path, umask: int) -> dict[str, bytes]:
    previous = os.umask(umask)
    try:
        result = subprocess.run(
            [str(clone / "scripts" / "package.sh")],
            env={**os.environ, "PYTHON": sys.executable},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        os.umask(previous)
    assert result.returncode == 0, result.stdout + result.stderr[-5000:]
    zips = sorted((clone / "dist").glob("*.zip"))
    for path in zips:  # it says how big each one is
        assert f"{path.name}  " in result.stdout
    return {path.name: path.read_bytes() for path in zips}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], dict[str, bytes]]:
    # GIVEN two fresh clones, checked out at different times under different umasks
    first = fresh_clone(tmp_path_factory.mktemp("clone-a"), mtime=1_700_000_000)
    second = fresh_clone(tmp_path_factory.mktemp("clone-b"), mtime=1_800_000_000)
    for path in second.rglob("*.py"):
        path.chmod(0o664)
    # WHEN each packages every Lambda from scratch (its own pip install)
    return package(first, umask=0o022), package(second, umask=0o002)


def test_two_fresh_builds_are_byte_identical(builds):
    # THEN every zip is the same, byte for byte
    first, second = builds
    assert first
    assert sorted(first) == sorted(second)
    for name in first:
        assert first[name] == second[name], f"{name} differs between two builds"


def test_a_zip_holds_the_handler_the_domain_library_and_only_reproducible_files(builds, tmp_path):
    first, _ = builds
    for name, content in first.items():
        path = tmp_path / name
        path.write_bytes(content)
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
        names = [info.filename for info in infos]
        assert names == sorted(names), name
        assert "handler.py" in names, name
        assert any(n.startswith("banking/") for n in names), name
        for info in infos:
            assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
            assert (info.external_attr >> 16) & 0o777 in (0o644, 0o755), info.filename
            parts = info.filename.split("/")
            assert "__pycache__" not in parts, info.filename
            assert not info.filename.endswith((".pyc", "/RECORD", "/INSTALLER")), info.filename
            assert not info.filename.endswith("/direct_url.json"), info.filename
            assert parts[0] not in RUNTIME_PROVIDED, f"{name}: {parts[0]} is the runtime's"
