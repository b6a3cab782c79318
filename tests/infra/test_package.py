"""scripts/package.sh: byte-identical zips from two fresh clones, and what a zip holds."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scripts.build_zip import SDK_DATA_DIR, SDK_SERVICES, bytecode_name, compiled
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
            if "__pycache__" in parts:  # bytecode only, checked below
                assert parts[-2] == "__pycache__", info.filename
                assert info.filename.endswith(".cpython-311.pyc"), info.filename
            assert not info.filename.endswith((".pyo", "/RECORD", "/INSTALLER")), info.filename
            assert not info.filename.endswith("/direct_url.json"), info.filename
            assert parts[0] not in RUNTIME_PROVIDED, f"{name}: {parts[0]} is the runtime's"


def test_every_module_ships_bytecode_the_runtime_uses_without_checking_or_writing(builds, tmp_path):
    # GIVEN each zip as built
    first, _ = builds
    for name, content in first.items():
        path = tmp_path / name
        path.write_bytes(content)
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            pycs = {n: archive.read(n) for n in names if n.endswith(".pyc")}
        # THEN every module has its pyc where Python 3.11 looks for it, and nothing else
        # is bytecode
        sources = {n for n in names if n.endswith(".py")}
        expected = {bytecode_name(n) for n in sources}
        assert set(pycs) == expected, name
        for pyc, data in pycs.items():
            # AND each is for Python 3.11 (the build's interpreter is the runtime's), and
            # hash-based without a source check (flags 0b01): used as it is, never
            # rewritten in Lambda's read-only code directory, with no file time in it
            assert data[:4] == importlib.util.MAGIC_NUMBER, pyc
            assert int.from_bytes(data[4:8], "little") == 0b01, pyc


def test_the_shipped_bytecode_is_what_the_handler_runs(builds, tmp_path):
    # GIVEN a zip unpacked where writing bytecode is refused, with its sources emptied
    # (a module loaded from source would now be empty)
    first, _ = builds
    name = sorted(first)[0]
    code = tmp_path / "code"
    path = tmp_path / name
    path.write_bytes(first[name])
    with zipfile.ZipFile(path) as archive:
        archive.extractall(code)
    (code / "banking" / "domain" / "money.py").write_text("")
    # WHEN the banking domain is imported from it
    result = subprocess.run(
        [sys.executable, "-B", "-c", "import banking.domain.money as m; print(m.__dict__.keys())"],
        cwd=code,
        env={**os.environ, "PYTHONPATH": str(code)},
        capture_output=True,
        text=True,
        check=False,
    )
    # THEN it came from the shipped bytecode, with its content
    assert result.returncode == 0, result.stderr
    assert "Money" in result.stdout


def test_a_build_by_another_python_than_the_runtime_s_is_refused(tmp_path):
    # GIVEN an interpreter that is not Python 3.11
    other = tmp_path / "python3.12"
    other.write_text("#!/bin/sh\necho 3.12\n")
    other.chmod(0o755)
    # WHEN its bytecode would go into a zip  THEN the build stops, saying why
    with pytest.raises(SystemExit, match=r"must be compiled by Python 3\.11"):
        compiled({"handler.py": tmp_path / "handler.py"}, str(other), tmp_path)


def unpacked(builds: tuple[dict[str, bytes], dict[str, bytes]], tmp_path: Path) -> dict[str, Path]:
    first, _ = builds
    directories = {}
    for name, content in first.items():
        path = tmp_path / name
        path.write_bytes(content)
        directories[path.stem] = tmp_path / path.stem
        with zipfile.ZipFile(path) as archive:
            archive.extractall(directories[path.stem])
    return directories


def test_every_handler_imports_from_its_zip_and_the_runtime_s_packages_alone(builds, tmp_path):
    # GIVEN each zip unpacked, beside only the packages the Lambda runtime provides
    from bench.coldstart import import_seconds
    from scripts.local.code import CodeStore

    runtime = CodeStore(tmp_path / "no-dist", tmp_path / "state").runtime_dir
    for name, code in unpacked(builds, tmp_path).items():
        for xray in (False, True):
            # WHEN its handler is imported as on Lambda, with and without the X-Ray SDK
            # THEN every module it needs is in its zip (import_seconds raises otherwise)
            sample = import_seconds("handler", [code, runtime], service=name, xray=xray)
            assert sample.seconds > 0


def test_a_zip_carries_only_what_its_handler_imports(builds, tmp_path):
    # GIVEN the zips of the HTTP commands and of the stream's reader
    code = unpacked(builds, tmp_path)
    if not {"commands", "fanout"} <= set(code):
        pytest.skip("this checkout has no commands or fanout Lambda")
    batch = Path("aws_lambda_powertools/utilities/batch/__init__.py")
    # THEN powertools' batch processing, which only the fanout imports, is in its zip alone
    assert (code["fanout"] / batch).is_file()
    assert not (code["commands"] / batch).exists()
    # AND a module no function imports ships nowhere (powertools' idempotency utility)
    for directory in code.values():
        assert not (directory / "aws_lambda_powertools/utilities/idempotency").exists()
        # AND the X-Ray SDK, which powertools loads by name, ships whole with its patchers
        assert (directory / "aws_xray_sdk/ext/botocore/patch.py").is_file()
        assert (directory / "wrapt/__init__.py").is_file()


def test_every_handler_serves_its_representative_first_request_from_its_zip(builds, tmp_path):
    # GIVEN each zip unpacked, beside only the packages the Lambda runtime provides
    from bench.coldstart import import_seconds, representative_invocations
    from scripts.local.code import CodeStore

    runtime = CodeStore(tmp_path / "no-dist", tmp_path / "state").runtime_dir
    invocations = representative_invocations()
    for name, code in unpacked(builds, tmp_path).items():
        # WHEN its handler is imported and called once with its function's usual event,
        # its AWS calls answered by the bench's stub
        sample = import_seconds(
            "handler", [code, runtime], service=name, invocation=invocations[name]
        )
        # THEN it served it (import_seconds raises on an error answer), and the first
        # invocation's CPU is counted on top of the import's
        assert sample.first_invocation_cpu_seconds is not None
        assert sample.first_invocation_cpu_seconds > sample.cpu_seconds


def test_every_handler_s_clients_load_the_botocore_data_its_zip_ships(builds, tmp_path):
    # GIVEN each zip unpacked, beside only the packages the Lambda runtime provides (the
    # pinned botocore, the one the build copied the data from)
    from bench.coldstart import import_seconds
    from scripts.local.code import CodeStore

    runtime = CodeStore(tmp_path / "no-dist", tmp_path / "state").runtime_dir
    for name, code in unpacked(builds, tmp_path).items():
        # THEN the zip holds the copy: the models of the services the functions use, and
        # the endpoint data with only those services
        data = code / SDK_DATA_DIR
        assert sorted(p.name for p in data.iterdir() if p.is_dir()) == sorted(SDK_SERVICES)
        assert (data / "endpoints.json").is_file()
        # WHEN its handler is imported as on Lambda
        sample = import_seconds("handler", [code, runtime], service=name)
        # THEN the clients it built at import loaded from that copy
        assert sample.sdk_data == str(data), name


FAULTED_SESSION_PROBE = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("ledger_local_faults", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["ledger_local_faults"] = module
spec.loader.exec_module(module)
module.install_in_worker()
import boto3, handler
print(boto3.DEFAULT_SESSION._session.get_component("data_loader").BUILTIN_DATA_PATH)
"""


def test_with_faults_on_the_clients_still_load_the_botocore_data_the_zip_ships(builds, tmp_path):
    # GIVEN the commands zip unpacked beside the runtime's packages, and the local
    # runtime's faults switched on (they hook boto3's default session before the
    # handler is imported, as scripts/local/worker_main.py does)
    from scripts.local.code import CodeStore

    runtime = CodeStore(tmp_path / "no-dist", tmp_path / "state").runtime_dir
    code = unpacked(builds, tmp_path)["commands"]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(code), str(runtime)]),
        "LEDGER_FAULTS": '{"dynamodb_throttle_rate": 0.5}',
        "LEDGER_FAULTS_JOURNAL": str(tmp_path / "faults.jsonl"),
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_LAMBDA_FUNCTION_NAME": "ledger-test-commands",
        "EVENTS_TABLE_NAME": "ledger-test-events",
        "PROJECTIONS_TABLE_NAME": "ledger-test-projections",
        "IDEMPOTENCY_TABLE_NAME": "ledger-test-idempotency",
        "TRANSFERS_TABLE_NAME": "ledger-test-transfers",
        "HOLDS_TABLE_NAME": "ledger-test-holds",
        "POWERTOOLS_SERVICE_NAME": "ledger",
    }

    # WHEN its handler is imported after the faults are installed
    faults = ROOT / "scripts" / "local" / "faults.py"
    probe = subprocess.run(
        [sys.executable, "-S", "-c", FAULTED_SESSION_PROBE, str(faults)],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    # THEN the session the faults hook, which its clients are built on, reads the zip's copy
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert probe.stdout.strip().splitlines()[-1] == str(code / SDK_DATA_DIR)
