"""A whole local system for a test session, started exactly as `make up` starts it (moto,
terraform apply of the local environment, the local runtime), on a free port and in a
temporary state directory, and stopped with everything it started."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scripts.local.__main__ import down, up
from scripts.local.aws import FAKE_CREDENTIALS
from scripts.local.issuer import token_for
from scripts.local.system import REPO, Settings, free_port
from scripts.ops.aws import Ledger


@dataclass(frozen=True)
class System:
    api_url: str
    state_dir: Path

    def ledger(self) -> Ledger:
        """What `scripts/ledger` would use for this system (its moto, its Invoke API)."""
        # moto accepts any credentials; the usual chain may have none.
        for name, value in FAKE_CREDENTIALS.items():
            os.environ.setdefault(name, value)
        return Ledger(
            "local", self._pointer("moto-url"), self._pointer("region"), self._pointer("lambda-url")
        )

    def token(self, subject: str, *scopes: str, **options: Any) -> str:
        """A token of this system's issuer, as `make token SUB=... SCOPES=...` prints."""
        return token_for(self.state_dir, subject, scopes=scopes, **options)

    def _pointer(self, name: str) -> str:
        return (self.state_dir / name).read_text().strip()


@contextlib.contextmanager
def _environment(changes: Mapping[str, str]) -> Iterator[None]:
    """`up` hands its environment to the system it starts; set it for that moment only."""
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def local_system(state_dir: Path, environment: Mapping[str, str] | None = None) -> Iterator[System]:
    """``environment`` (e.g. LEDGER_FAULTS) is given to this system only."""
    if not any((REPO / "dist").glob("*.zip")):
        pytest.fail("dist/ holds no Lambda zips: run `make package` (make test does) first")
    settings = Settings(state_dir=state_dir, port=free_port())
    with _environment(environment or {}):
        started = up(settings)
    if started != 0:
        pytest.fail(f"the local system did not come up; see {state_dir / 'local.log'}")
    pgid = int((state_dir / "local.pid").read_text())
    try:
        yield System((state_dir / "api-url").read_text().strip(), state_dir)
    finally:
        down(settings)
        # `down` stops every process `up` started: moto, runtime, function workers.
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)
