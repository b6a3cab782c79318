"""Build one reproducible deployment zip per Lambda: ``dist/<lambda>.zip``.

Each zip holds, at its root, the Lambda directory's own files and, of the ``banking``
package (``libs/banking/src``) and the third-party packages pinned in
``lambdas/requirements.txt`` (installed once for every Lambda, for the Lambda runtime:
CPython 3.11, manylinux2014 x86_64, wheels only), only what its handler imports:

- the modules its ``import`` statements reach from ``handler.py``, found by the standard
  library's ``modulefinder`` run by the build's Python 3.11 (every import statement,
  module-level or inside a function, so a lazy import still ships);
- of every distribution one of them belongs to, its data files and metadata;
- whole, a distribution that one of them loads by name, where no import statement shows
  it (``LOADED_BY_NAME``), with what that distribution's own modules import.

So a function ships only its share of powertools and of ``banking``, and a new Lambda
directory gets its own zip with nothing to declare. boto3, botocore and s3transfer are
left to the Lambda runtime, which ships them.

The same sources give byte-identical zips, whatever the checkout's file times,
umask or the order the file system lists entries in: entries are sorted, every
timestamp is 1980-01-01, modes are normalised to 0644/0755, and caches and the
files pip writes differently on every install (RECORD, INSTALLER,
direct_url.json, console-script launchers) are left out. That is what lets
``terraform plan`` show no change when no code changed.

Each zip also carries the bytecode of every module it holds (``__pycache__/*.cpython-311.pyc``),
compiled by the build's Python 3.11 as unchecked hash-based pycs: Lambda's code directory
is read-only, so without them every cold start compiles every module it imports (90 to
340 ms per function in docs/benchmarks.md), and an unchecked pyc is used as it is, with no
source timestamp in it to differ between two checkouts. The compiler runs in a fresh
interpreter with a fixed hash seed, over the files in a fixed order, so the same sources
give the same bytes.

Each zip also carries a copy of botocore's data (``banking/entrypoints/botocore_data``),
taken from the build's botocore (the one requirements-dev.txt pins, the local runtime's;
its version is in the copy, and the copy changes with it):
the models of the services the functions build clients for (``SDK_SERVICES``), and of
``endpoints.json`` every partition with only those services. The SDK's first client loads
from it without listing botocore's ~400 service directories or parsing all its
endpoints (banking.entrypoints.sdk; docs/infrastructure.md). Every file is copied as it is
or, for ``endpoints.json``, written from it in a fixed order: identical sources and the
same botocore give identical bytes.

Only what lambdas/requirements.txt pins is installed (``--no-deps``), so a new release of a
transitive dependency can never change a zip: the build fails, naming what is
missing, when a pinned package needs something neither pinned nor in the runtime.
The pip install is cached per requirements hash under ``build/site-packages``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent

TARGET_PLATFORM = "manylinux2014_x86_64"
TARGET_IMPLEMENTATION = "cp"
TARGET_PYTHON = "3.11"
# Shipped by the Lambda Python runtime and kept up to date by AWS; bundling our
# own copy would add ~20 MB per zip, pin an SDK older than the runtime's, and shadow
# the urllib3 the runtime's botocore was tested with.
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)

# Distributions a module loads by name (importlib), which a scan of import statements
# cannot see: {the module that loads it: the distribution, shipped whole}. powertools'
# Tracer loads the X-Ray SDK lazily, which loads its patchers (aws_xray_sdk.ext.*) by name.
LOADED_BY_NAME = {"aws_lambda_powertools.tracing.tracer": "aws-xray-sdk"}

# Every service banking.entrypoints.bootstrap builds a client for (a client of another
# service fails at import: the shipped data knows no other; tests/unit/test_sdk_data.py).
SDK_SERVICES = ("dynamodb", "events")
# Where banking.entrypoints.sdk looks for the copy, and the file naming its botocore.
SDK_DATA_DIR = "banking/entrypoints/botocore_data"
SDK_DATA_VERSION_FILE = "botocore-version"
# Read only to write the SDK's documentation, never by a client.
SDK_DOCUMENTATION_MODELS = frozenset({"examples-1"})

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
EXCLUDED_DIR_NAMES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache"})
# Bytecode is compiled by the build; type stubs and C sources are never read at run time.
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".pyi", ".c")
# Written by pip per install (hashes of the pyc files, the installer, the source URL).
EXCLUDED_DIST_INFO_FILES = frozenset({"RECORD", "INSTALLER", "direct_url.json", "REQUESTED"})


def third_party_requirements(requirements: Path) -> list[str]:
    """The requirement lines to install: everything but what the runtime ships."""
    if not requirements.exists():
        return []
    lines = []
    for raw in requirements.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if canonicalize_name(Requirement(line).name) in RUNTIME_PROVIDED:
            print(f"  skipping {line}: provided by the Lambda runtime", file=sys.stderr)
            continue
        lines.append(line)
    return sorted(lines)


def pip_arguments() -> list[str]:
    return [
        "--platform",
        TARGET_PLATFORM,
        "--implementation",
        TARGET_IMPLEMENTATION,
        "--python-version",
        TARGET_PYTHON,
        "--only-binary=:all:",
        "--no-deps",
        "--no-compile",
        "--disable-pip-version-check",
        "--quiet",
    ]


def pip_version(python: str) -> str:
    result = subprocess.run(
        [python, "-m", "pip", "--version"], check=True, capture_output=True, text=True
    )
    return result.stdout.split(" from ", 1)[0].strip()


def installed_packages(requirements: list[str], python: str, cache_root: Path) -> Path | None:
    """Install the requirements once per content hash; return the cached directory."""
    if not requirements:
        return None
    key_source = "\n".join([pip_version(python), *pip_arguments(), *requirements])
    key = hashlib.sha256(key_source.encode()).hexdigest()[:20]
    cached = cache_root / key
    if cached.is_dir():
        return cached
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=cache_root))
    try:
        requirements_file = staging / "requirements.txt"
        requirements_file.write_text("\n".join(requirements) + "\n")
        target = staging / "site-packages"
        command = [python, "-m", "pip", "install", *pip_arguments(), "--target", str(target)]
        subprocess.run([*command, "-r", str(requirements_file)], check=True)
        check_closure(requirements, target)
        try:
            target.rename(cached)
        except OSError:
            if not cached.is_dir():  # a concurrent build did not win the race either
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return cached


def check_closure(requirements: list[str], target: Path) -> None:
    """Fail unless every dependency of what was installed is installed or runtime-provided."""
    environment: dict[str, str] = {
        **{str(key): str(value) for key, value in default_environment().items()},
        "python_version": TARGET_PYTHON,
        "python_full_version": f"{TARGET_PYTHON}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    extras: dict[str, set[str]] = {}
    for line in requirements:
        requirement = Requirement(line)
        extras.setdefault(canonicalize_name(requirement.name), set()).update(requirement.extras)
    installed = {
        canonicalize_name(d.metadata["Name"]): d for d in metadata.distributions(path=[str(target)])
    }
    missing = []
    for name, distribution in sorted(installed.items()):
        for raw in distribution.requires or []:
            needed = Requirement(raw)
            wanted = ["", *sorted(extras.get(name, set()))]
            if needed.marker is not None and not any(
                needed.marker.evaluate({**environment, "extra": extra}) for extra in wanted
            ):
                continue
            needed_name = canonicalize_name(needed.name)
            if needed_name not in installed and needed_name not in RUNTIME_PROVIDED:
                missing.append(f"{name} needs {raw}")
    if missing:
        raise SystemExit(
            "requirements.txt must pin every dependency the Lambda runtime lacks:\n  "
            + "\n  ".join(missing)
        )


def is_excluded(relative: Path) -> bool:
    parts = relative.parts
    if any(part in EXCLUDED_DIR_NAMES for part in parts[:-1]):
        return True
    if relative.name.endswith(EXCLUDED_SUFFIXES) or relative.name == ".DS_Store":
        return True
    if len(parts) >= 2 and parts[-2].endswith(".dist-info"):
        return relative.name in EXCLUDED_DIST_INFO_FILES
    return False


def files_under(directory: Path, prefix: str = "") -> Iterator[tuple[str, Path]]:
    """(name in the zip, file on disk) for every file kept under directory."""
    for path in directory.rglob("*"):
        if not path.is_file():
            continue
        relative = path.relative_to(directory)
        if is_excluded(relative):
            continue
        yield (prefix + relative.as_posix(), path)


def lambda_entries(lambda_dir: Path, packages: Path | None) -> dict[str, Path]:
    entries: dict[str, Path] = {}
    sources: list[Iterator[tuple[str, Path]]] = []
    if packages is not None:
        # Console-script launchers carry the build machine's interpreter path.
        sources.append(
            (name, path) for name, path in files_under(packages) if not name.startswith("bin/")
        )
    sources.append(files_under(ROOT / "libs" / "banking" / "src" / "banking", "banking/"))
    sources.append(files_under(lambda_dir))
    for source in sources:
        for name, path in source:
            if name in entries:
                raise SystemExit(f"{lambda_dir.name}: {name} is provided twice")
            entries[name] = path
    return entries


# Runs in the build's interpreter: the files of the modules a handler's imports reach,
# from the search path given (no standard library and no runtime packages on it, so those
# are neither scanned nor shipped), then from each module that loads others by name.
_FINDER = """
import json, modulefinder, sys

class Finder(modulefinder.ModuleFinder):
    def _safe_import_hook(self, name, caller, fromlist, level=-1):
        # The stock one skips any import whose bare name once failed, even a relative one
        # naming another module: cattrs' `from ..types import` after `import types`.
        failed = self.badmodules.pop(name, None) if level > 0 else None
        super()._safe_import_hook(name, caller, fromlist, level)
        if failed:
            self.badmodules.setdefault(name, {}).update(failed)

job = json.load(sys.stdin)
finder = Finder(path=job["path"])
finder.run_script(job["script"])
loaded = set()
while pending := sorted(set(job["loaded_by_name"]) & set(finder.modules) - loaded):
    for loader in pending:
        loaded.add(loader)
        for module in job["loaded_by_name"][loader]:
            try:
                finder.import_hook(module)
            except ImportError:
                pass
print(json.dumps(sorted(m.__file__ for m in finder.modules.values() if m.__file__)))
"""


def distribution_files(packages: Path) -> dict[str, tuple[str, list[str]]]:
    """{file under packages (posix): (its distribution, its distribution's files)}."""
    owners: dict[str, tuple[str, list[str]]] = {}
    for distribution in metadata.distributions(path=[str(packages)]):
        name = canonicalize_name(distribution.metadata["Name"])
        files = [
            Path(str(f)).as_posix()
            for f in distribution.files or []
            if not Path(str(f)).as_posix().startswith("../")
        ]
        for file in files:
            owners[file] = (name, files)
    return owners


def module_name(file: str) -> str | None:
    """a/b/__init__.py -> a.b; a/c.py -> a.c; anything else -> None."""
    if not file.endswith(".py"):
        return None
    parts = file.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or None


def imported_files(
    lambda_dir: Path, packages: Path | None, python: str, owners: dict[str, tuple[str, list[str]]]
) -> set[Path]:
    """The files of every module the handler's imports reach (run by `python`)."""
    search = [str(lambda_dir), str(ROOT / "libs" / "banking" / "src")]
    if packages is not None:
        search.append(str(packages))
    by_distribution: dict[str, list[str]] = {}
    for file, (distribution, _) in owners.items():
        name = module_name(file)
        if name is not None:
            by_distribution.setdefault(distribution, []).append(name)
    job = {
        "path": search,
        "script": str(lambda_dir / "handler.py"),
        "loaded_by_name": {
            loader: sorted(by_distribution.get(canonicalize_name(distribution), []))
            for loader, distribution in LOADED_BY_NAME.items()
        },
    }
    result = subprocess.run(
        [python, "-I", "-c", _FINDER],
        input=json.dumps(job),
        env={**os.environ, "PYTHONHASHSEED": "0"},
        check=True,
        capture_output=True,
        text=True,
    )
    return {Path(file).resolve() for file in json.loads(result.stdout)}


def imported_entries(
    entries: dict[str, Path], lambda_dir: Path, packages: Path | None, python: str
) -> dict[str, Path]:
    """Of the entries, what the handler imports: its own directory, the modules reached,
    and of each distribution a module reached belongs to, its other files (data,
    metadata, compiled extensions), and whole, a distribution loaded by name."""
    owners = distribution_files(packages) if packages is not None else {}
    reached = imported_files(lambda_dir, packages, python, owners)
    used = {
        owners[name][0]
        for name, path in entries.items()
        if name in owners and path.resolve() in reached
    }
    kept: dict[str, Path] = {}
    for name, path in entries.items():
        if path.is_relative_to(lambda_dir) or path.resolve() in reached:
            kept[name] = path
        elif name.endswith(".py"):
            continue  # a module nothing imports
        elif name in owners and owners[name][0] in used:
            kept[name] = path
        elif name.startswith("banking/"):
            kept[name] = path  # the library's own data (py.typed)
    return kept


# Runs in the build's interpreter: compiles [source, name in the zip, pyc] triples.
_COMPILER = """
import json, py_compile, sys
for source, name, target in json.load(sys.stdin):
    py_compile.compile(
        source, cfile=target, dfile=name, doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
"""


def bytecode_name(name: str) -> str:
    """Where the runtime's Python looks for a module's bytecode:
    a/b.py -> a/__pycache__/b.cpython-311.pyc."""
    directory, _, file_name = name.rpartition("/")
    tag = "cpython-" + TARGET_PYTHON.replace(".", "")
    pyc = f"__pycache__/{file_name.removesuffix('.py')}.{tag}.pyc"
    return f"{directory}/{pyc}" if directory else pyc


def compiled(entries: dict[str, Path], python: str, scratch: Path) -> dict[str, Path]:
    """The bytecode of every .py entry, by its name in the zip (compiled by `python`)."""
    version = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if version != TARGET_PYTHON:
        raise SystemExit(
            f"{python} is Python {version}: the zips' bytecode must be compiled by Python "
            f"{TARGET_PYTHON}, the Lambda runtime's (set PYTHON to a {TARGET_PYTHON})"
        )
    jobs = []
    for index, name in enumerate(sorted(n for n in entries if n.endswith(".py"))):
        jobs.append([str(entries[name]), name, str(scratch / f"{index}.pyc")])
    subprocess.run(
        [python, "-I", "-c", _COMPILER],
        input=json.dumps(jobs),
        env={**os.environ, "PYTHONHASHSEED": "0"},
        check=True,
        text=True,
    )
    return {bytecode_name(name): Path(target) for _, name, target in jobs}


def _model_type(file_name: str) -> str:
    """service-2.json.gz -> service-2 (botocore reads both .json and .json.gz)."""
    return file_name.removesuffix(".gz").removesuffix(".json")


def _read_model(directory: Path, model_type: str) -> Any:
    """A model as botocore's loader reads it: the .json file, else the .json.gz one."""
    plain, compressed = directory / f"{model_type}.json", directory / f"{model_type}.json.gz"
    content = plain.read_bytes() if plain.is_file() else gzip.decompress(compressed.read_bytes())
    return json.loads(content.decode("utf-8"))


def botocore_data_files(
    source: Path, version: str, services: tuple[str, ...], scratch: Path
) -> dict[str, Path]:
    """{name in the zip: file} of the shipped copy of botocore's data directory `source`:
    of each service, each kind of model from the newest API version that has it (the one
    botocore's loader picks), and the top-level data, endpoints cut down to those
    services in every partition."""
    files: dict[str, Path] = {}
    prefixes = set()
    for service in services:
        newest: dict[str, Path] = {}
        for version_dir in sorted(p for p in (source / service).iterdir() if p.is_dir()):
            for model in version_dir.iterdir():
                if model.is_file() and _model_type(model.name) not in SDK_DOCUMENTATION_MODELS:
                    newest[_model_type(model.name)] = version_dir
        if "service-2" not in newest:
            raise SystemExit(f"botocore {version} at {source} has no model of {service}")
        for model_type, version_dir in newest.items():
            for model in version_dir.iterdir():
                if _model_type(model.name) == model_type:
                    files[f"{SDK_DATA_DIR}/{model.relative_to(source).as_posix()}"] = model
        model = _read_model(newest["service-2"], "service-2")
        prefixes.add(model["metadata"]["endpointPrefix"])
    for path in (p for p in source.iterdir() if p.is_file()):
        if _model_type(path.name) != "endpoints":
            files[f"{SDK_DATA_DIR}/{path.name}"] = path
    endpoints = _read_model(source, "endpoints")
    for partition in endpoints["partitions"]:
        partition["services"] = {
            name: service for name, service in partition["services"].items() if name in prefixes
        }
    written = scratch / "endpoints.json"
    written.write_text(json.dumps(endpoints, separators=(",", ":")) + "\n")
    files[f"{SDK_DATA_DIR}/endpoints.json"] = written
    version_file = scratch / SDK_DATA_VERSION_FILE
    version_file.write_text(version + "\n")
    files[f"{SDK_DATA_DIR}/{SDK_DATA_VERSION_FILE}"] = version_file
    return files


def botocore_of(python: str) -> tuple[Path, str]:
    """The data directory and the version of the botocore `python` imports."""
    result = subprocess.run(
        [python, "-I", "-c", _BOTOCORE], check=True, capture_output=True, text=True
    )
    data, version = json.loads(result.stdout)
    return Path(data), version


_BOTOCORE = """
import json, os, botocore
print(json.dumps([os.path.join(os.path.dirname(botocore.__file__), "data"), botocore.__version__]))
"""


def write_zip(entries: dict[str, Path], destination: Path) -> None:
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(entries):
            path = entries[name]
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            executable = path.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            mode = 0o755 if executable and not name.endswith(".pyc") else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.create_system = 3  # unix, so the modes above are honoured
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)


def build(
    lambda_dir: Path, dist: Path, cache_root: Path, python: str, requirements_file: Path
) -> Path:
    requirements = third_party_requirements(requirements_file)
    packages = installed_packages(requirements, python, cache_root)
    entries = imported_entries(lambda_entries(lambda_dir, packages), lambda_dir, packages, python)
    destination = dist / f"{lambda_dir.name}.zip"
    dist.mkdir(parents=True, exist_ok=True)
    handle, temporary_name = tempfile.mkstemp(prefix=f".{lambda_dir.name}.", dir=dist)
    os.close(handle)
    temporary = Path(temporary_name)
    try:
        with tempfile.TemporaryDirectory(prefix="pyc.", dir=dist) as scratch:
            botocore_data = botocore_data_files(*botocore_of(python), SDK_SERVICES, Path(scratch))
            bytecode = compiled(entries, python, Path(scratch))
            write_zip({**entries, **bytecode, **botocore_data}, temporary)
        temporary.chmod(0o644)  # mkstemp makes it private; the zip is no secret
        if destination.exists() and destination.read_bytes() == temporary.read_bytes():
            temporary.unlink()  # unchanged: keep the old file and its mtime
        else:
            temporary.replace(destination)
    finally:
        temporary.unlink(missing_ok=True)
    return destination


def lambda_directories(lambdas: Path, names: list[str]) -> list[Path]:
    if names:
        directories = [lambdas / name for name in names]
        missing = [str(d) for d in directories if not (d / "handler.py").is_file()]
        if missing:
            raise SystemExit(f"no handler.py in: {', '.join(missing)}")
        return directories
    return sorted(d for d in lambdas.iterdir() if (d / "handler.py").is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("names", nargs="*", help="Lambda directories to build (default: all)")
    parser.add_argument("--lambdas", type=Path, default=ROOT / "lambdas")
    parser.add_argument(
        "--requirements",
        type=Path,
        help="the pinned packages of every Lambda (default: requirements.txt in --lambdas)",
    )
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "site-packages")
    parser.add_argument("--python", default=sys.executable, help="interpreter whose pip to use")
    args = parser.parse_args(argv)

    directories = lambda_directories(args.lambdas, args.names)
    if not directories:
        print(f"no Lambda (a directory with handler.py) under {args.lambdas}", file=sys.stderr)
        return 1
    for directory in directories:
        zip_path = build(
            directory,
            args.dist,
            args.cache,
            args.python,
            args.requirements or args.lambdas / "requirements.txt",
        )
        size = zip_path.stat().st_size
        print(f"{zip_path}  {size / 1_048_576:.2f} MiB ({size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
