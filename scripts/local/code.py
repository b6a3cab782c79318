"""Finds the zip Terraform deployed for a function and unpacks it, once per content.

A function is matched to its zip in ``dist/`` by content (CodeSha256, as Lambda
reports it), not by name: the runtime runs exactly the code that was applied, and a
``dist/`` rebuilt since the apply is caught instead of silently run.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import os
import shutil
import threading
import zipfile
from pathlib import Path

from scripts.local.wiring import Function

# Where each zip's content is unpacked, once (functions/<name>/<digest> links to it).
CONTENT_DIR = "by-content"
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
