"""Finds the zip Terraform deployed for a function and unpacks it, once per content;
and switches a function to its new code when it is deployed again (``CodeWatcher``).

A function is matched to its zip in ``dist/`` by content (CodeSha256, as Lambda
reports it), not by name: the runtime runs exactly the code that was applied, and a
``dist/`` rebuilt since the apply is caught instead of silently run.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import importlib.util
import json
import os
import shutil
import threading
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from scripts.local.logs import Logs
from scripts.local.wiring import Function

# Where each zip's content is unpacked, once (functions/<name>/<digest> links to it).
CONTENT_DIR = "by-content"
# Which code each function runs, by name: {"ledger-local-commands": "<CodeSha256>"}.
CODE_IN_USE = "code-in-use.json"
# How often the runtime asks moto whether a function's code changed.
WATCH_INTERVAL_S = 1.0
# What the Lambda Python runtime ships besides the standard library.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


class CodeNotFoundError(RuntimeError):
    pass


def code_sha256(path: Path) -> str:
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


class CodeStore:
    def __init__(self, dist_dir: Path, state_dir: Path) -> None:
        self._dist_dir = dist_dir
        self._functions_dir = state_dir / "functions"
        self._zips = {code_sha256(p): p for p in sorted(dist_dir.glob("*.zip"))}
        self.runtime_dir = _runtime_site(state_dir / "runtime-python")

    def code_dir(self, function: Function) -> Path:
        zip_path = self._zips.get(function.code_sha256)
        if zip_path is None:
            raise CodeNotFoundError(
                f"no zip in {self._dist_dir} has the code Terraform deployed for "
                f"{function.name} (CodeSha256 {function.code_sha256}); was dist/ rebuilt "
                "after the apply? Restart the local system."
            )
        unpacked = self._unpacked(function.code_sha256, zip_path)
        # Named by function (operators' tools and the soak read the function's name from
        # a worker's code path), pointing at the one unpacked copy of its content.
        link = self._functions_dir / function.name / unpacked.name
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):  # another pool made it meanwhile
                link.symlink_to(unpacked, target_is_directory=True)
        return link

    def unpack_all(self) -> None:
        """Unpack every zip in dist/ now, not when the runtime starts: the launcher does
        it while Terraform applies, which mostly waits (docs/local-runtime.md)."""
        for sha256, zip_path in self._zips.items():
            self._unpacked(sha256, zip_path)

    def _unpacked(self, sha256: str, zip_path: Path) -> Path:
        """A zip's content, unpacked once under its digest: read-only (no bytecode is
        written), so every function whose code it is runs the same copy."""
        target = self._functions_dir / CONTENT_DIR / base64.b64decode(sha256).hex()[:16]
        if not target.is_dir():
            # A partial copy of its own, so two unpackers of one zip never write into
            # each other's; the first rename wins and the other copy is dropped.
            partial = target.with_name(
                f"{target.name}.partial-{os.getpid()}-{threading.get_ident()}"
            )
            shutil.rmtree(partial, ignore_errors=True)
            with zipfile.ZipFile(zip_path) as archive:
                archive.extractall(partial)
            try:
                partial.rename(target)
            except OSError:
                if not target.is_dir():
                    raise
                shutil.rmtree(partial, ignore_errors=True)
        return target


def _runtime_site(directory: Path) -> Path:
    """A directory holding only the runtime's packages (symlinks into our virtualenv)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        link = directory / source.name
        if not link.exists():
            # The bench's cold-start probe reads this directory while the launcher
            # unpacks beside Terraform: whoever links first, the link is the same.
            with contextlib.suppress(FileExistsError):
                link.symlink_to(source)
    return directory


class _Pool(Protocol):
    """What the watcher needs of a function's pool (workers.FunctionPool)."""

    function: Function

    def use_code(self, code_dir: Path) -> None: ...


def read_code_in_use(state_dir: Path) -> dict[str, str]:
    """The code each function of a running system runs ({} before it is up)."""
    try:
        in_use: dict[str, str] = json.loads((state_dir / CODE_IN_USE).read_text())
    except FileNotFoundError:
        return {}
    return in_use


class CodeWatcher:
    """Serves a function's new code once it is deployed, as Lambda does after
    UpdateFunctionCode (`make redeploy`, a `terraform apply` of the local environment,
    `aws lambda update-function-code`): invokes under way end on the old code, later
    ones run the new.

    Every ``interval_s`` it reads each function's CodeSha256 (``deployed``: by function
    ARN), and for each one changed, finds the zip of that content in ``dist_dir`` and
    hands it to the function's pool; it keeps which code each function runs in
    ``<state>/code-in-use.json``. A code with no zip of its content in ``dist_dir`` is
    reported in the runtime's log and not run: the function keeps its code. Only the code
    is followed; any other change to a function (its environment, timeout, wiring) needs
    the system restarted.
    """

    def __init__(
        self,
        deployed: Callable[[], Mapping[str, str]],
        pools: Mapping[str, _Pool],
        dist_dir: Path,
        state_dir: Path,
        logs: Logs,
        interval_s: float = WATCH_INTERVAL_S,
    ) -> None:
        self._deployed = deployed
        self._pools = pools
        self._dist_dir = dist_dir
        self._state_dir = state_dir
        self._logs = logs
        self._interval_s = interval_s
        self._reported: set[str] = set()  # codes without a zip, reported once each
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="code-watcher", daemon=True)
        self._write_in_use()

    def check(self) -> list[str]:
        """One look at what is deployed; the names of the functions switched."""
        switched = []
        store = None  # made once a code changed: it hashes every zip in dist_dir
        for arn, sha256 in self._deployed().items():
            pool = self._pools.get(arn)
            if pool is None or pool.function.code_sha256 == sha256 or sha256 in self._reported:
                continue
            function = dataclasses.replace(pool.function, code_sha256=sha256)
            store = store or CodeStore(self._dist_dir, self._state_dir)
            try:
                code_dir = store.code_dir(function)
            except CodeNotFoundError as exc:
                self._reported.add(sha256)
                self._logs.write("runtime", f"{exc}; {function.name} keeps its code")
                continue
            pool.function = function
            pool.use_code(code_dir)
            switched.append(function.name)
            self._logs.write("runtime", f"{function.name} now runs code {sha256}")
        if switched:
            self._write_in_use()
        return switched

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        self._stopping.set()

    def stop(self) -> None:
        self.request_stop()
        if self._thread.is_alive():
            self._thread.join()

    def _watch(self) -> None:
        while not self._stopping.wait(self._interval_s):
            try:
                self.check()
            except Exception as exc:  # noqa: BLE001 - moto busy or stopping: the next look retries
                self._logs.write("runtime", f"code watcher: {type(exc).__name__}: {exc}")

    def _write_in_use(self) -> None:
        in_use = {pool.function.name: pool.function.code_sha256 for pool in self._pools.values()}
        path = self._state_dir / CODE_IN_USE
        partial = path.with_name(f"{path.name}.partial")
        partial.write_text(json.dumps(in_use, indent=1, sort_keys=True) + "\n")
        partial.replace(path)
