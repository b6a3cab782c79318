"""The whole local system: a fresh moto server, Terraform applied to it, the runtime.

The one launcher: `make up`/`make run`, the end-to-end tests and the bench all start
the system here. Which moto server module runs (``Settings.moto_server``) and which
Runtime class brings the wiring to life (``LocalSystem(runtime_class=...)``) are its
parameters; the bench passes its metered ones.
"""

from __future__ import annotations

import errno
import json
import shutil
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.console.process import ConsoleProcess
from scripts.local.aws import Moto
from scripts.local.child import ChildProcess
from scripts.local.code import CodeStore
from scripts.local.issuer import Issuer
from scripts.local.logs import Logs
from scripts.local.supervisor import Runtime
from scripts.local.terraform import Terraform
from scripts.local.workers import DEFAULT_CONCURRENCY

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PORT = 8080
# The audience of the local environment's JWT authorizer, and of the tokens its issuer signs.
AUDIENCE = "ledger-local"


def free_port() -> int:
    """A loopback port free right now (for a system of its own: tests, benchmarks)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PortTakenError(RuntimeError):
    pass


def check_port_free(port: int) -> None:
    """Fail early and clearly rather than with a bind error deep in the startup."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise PortTakenError(
                f"port {port} on 127.0.0.1 is already in use (is `make up` still running? "
                "`make down` stops it); choose another with LEDGER_PORT=<port>"
            ) from None


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    port: int = DEFAULT_PORT
    dist_dir: Path = REPO / "dist"
    terraform_dir: Path = REPO / "terraform" / "environments" / "local"
    console: bool = True
    # The web console's port (scripts/console; 0: any free one), None: no console.
    console_port: int | None = None
    # A module run with `python -m <module> --port 0` that prints MOTO_PORT=<port>.
    moto_server: str = "scripts.local.moto_server"
    # Workers (and asynchronous queue threads) per function: Lambda scales further; a
    # laptop's memory and moto's one process are the local limit (LEDGER_LOCAL_CONCURRENCY).
    concurrency: int = DEFAULT_CONCURRENCY


class MotoProcess(ChildProcess):
    """Our patched moto server (``module``) on a free loopback port."""

    def __init__(self, log_path: Path, module: str = "scripts.local.moto_server") -> None:
        command = [sys.executable, "-m", module, "--port", "0"]
        super().__init__(command, log_path, "MOTO_PORT=")
        self.endpoint_url = f"http://127.0.0.1:{self.value}"


class LocalSystem:
    def __init__(self, settings: Settings, runtime_class: type[Runtime] = Runtime) -> None:
        self.settings = settings
        self._runtime_class = runtime_class
        self._moto: MotoProcess | None = None
        self.issuer: Issuer | None = None
        self.runtime: Runtime | None = None
        self.console: ConsoleProcess | None = None
        self.moto: Moto | None = None
        self.outputs: dict[str, Any] = {}
        # Seconds from the start to each step's end (the bench reports them).
        self.timings: dict[str, float] = {}
        self.logs = Logs(settings.state_dir / "logs", sys.stdout if settings.console else None)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    def start(self) -> None:
        settings = self.settings
        check_port_free(settings.port)
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        # A fresh moto each time: a previous run's state describes resources that are gone.
        for stale in ("terraform.tfstate", "terraform.tfstate.backup"):
            (settings.state_dir / stale).unlink(missing_ok=True)
        started = time.monotonic()
        dist_dir = _snapshot(settings.dist_dir, settings.state_dir / "dist")
        # The runtime's own preparation needs no AWS: unpack the zips while Terraform
        # applies (most of an apply is the AWS provider asleep between its polls).
        beside = ThreadPoolExecutor(max_workers=2, thread_name_prefix="start")
        unpacking = beside.submit(lambda: CodeStore(dist_dir, settings.state_dir).unpack_all())
        terraform = Terraform(
            settings.terraform_dir,
            settings.state_dir,
            settings.state_dir / "logs" / "terraform.log",
        )
        # `terraform init` needs no moto: it runs while moto and the issuer start.
        initialising = beside.submit(terraform.init)
        beside.shutdown(wait=False)
        self._moto = MotoProcess(settings.state_dir / "logs" / "moto.log", settings.moto_server)
        self._say(f"moto server on {self._moto.endpoint_url}")
        self._say("terraform init + apply of terraform/environments/local ...")
        # The issuer the API's JWT authorizer trusts: its URL goes into Terraform, and the
        # runtime reads it back from moto with the rest of the wiring.
        self.issuer = Issuer(settings.state_dir / "issuer", AUDIENCE)
        self.issuer.start()
        self._say(f"token issuer on {self.issuer.url} (make token SUB=... SCOPES=...)")
        initialising.result()  # raises what the init raised
        self.timings["terraform_init_s"] = time.monotonic() - started
        variables = {
            "endpoint_url": self._moto.endpoint_url,
            "dist_dir": str(dist_dir),
            "jwt_issuer": self.issuer.url,
            "jwt_audience": json.dumps([AUDIENCE]),
            # Our moto server stores the functions' async-invocation configs as AWS
            # does (scripts.local.moto_patches), and the runtime reads them back
            # from moto with the rest of the wiring.
            "create_async_event_configs": "true",
        }
        # `make redeploy` applies again with the same variables (scripts.local.redeploy).
        (settings.state_dir / APPLY_VARIABLES).write_text(json.dumps(variables, indent=1) + "\n")
        terraform.apply(variables)
        self.timings["terraform_apply_s"] = time.monotonic() - started
        unpacking.result()  # raises what the unpacking raised
        self.moto = moto = Moto(
            self._moto.endpoint_url, _region(settings.state_dir / "terraform.tfstate")
        )
        self.runtime = self._runtime_class(
            moto,
            dist_dir,
            settings.state_dir,
            settings.port,
            self.logs,
            max_concurrency=settings.concurrency,
        )
        # The runtime reads its wiring from moto, not from the outputs: a Terraform
        # process reads them meanwhile.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="outputs") as beside:
            outputs = beside.submit(terraform.outputs)
            self.runtime.start()
            self.outputs = outputs.result()
        write_pointers(settings.state_dir, moto, self.runtime)
        if settings.console_port is not None:
            self.console = ConsoleProcess(settings.state_dir, settings.console_port, self.api_url)
            (settings.state_dir / "console-url").write_text(self.console.url + "\n")
            self._say(f"console on {self.console.url}")
        self.timings["up_s"] = time.monotonic() - started
        self._say(f"up in {self.timings['up_s']:.1f}s")

    def stop(self) -> None:
        for pointer in POINTERS:
            (self.settings.state_dir / pointer).unlink(missing_ok=True)
        if self.console is not None:
            self.console.stop()
        if self.runtime is not None:
            self.runtime.stop()
        if self._moto is not None:
            self._moto.stop()
        if self.issuer is not None:
            self.issuer.stop()
        self.logs.close()

    def _say(self, message: str) -> None:
        self.logs.write("system", message)


# The variables of the running system's Terraform apply.
APPLY_VARIABLES = "apply-variables.json"
POINTERS = ("moto-url", "lambda-url", "region", "console-url", APPLY_VARIABLES)


def write_pointers(state_dir: Path, moto: Moto, runtime: Runtime) -> None:
    """Where operator tools (scripts/ops, `ledger ...` with LEDGER_LOCAL_DIR) find a
    running system: its moto, its region and its Lambda Invoke API."""
    (state_dir / "moto-url").write_text(moto.endpoint_url + "\n")
    (state_dir / "region").write_text(moto.region + "\n")
    if runtime.invoke_api is not None:
        (state_dir / "lambda-url").write_text(runtime.invoke_api.url + "\n")


def _snapshot(dist_dir: Path, target: Path) -> Path:
    """A copy of the zips, so the code Terraform deploys is the code the runtime runs even
    if dist/ is rebuilt meanwhile."""
    if dist_dir.resolve() == target.resolve():  # already a snapshot (the bench makes one)
        return target
    zips = sorted(dist_dir.glob("*.zip"))
    if not zips:
        raise RuntimeError(f"no Lambda zips in {dist_dir}: run `make package` first")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for path in zips:
        shutil.copy2(path, target / path.name)
    return target


def _region(state_file: Path) -> str:
    """The region Terraform created the resources in, read from their ARNs."""
    state: dict[str, Any] = json.loads(state_file.read_text())
    for resource in state.get("resources", []):
        for instance in resource.get("instances", []):
            arn = str(instance.get("attributes", {}).get("arn") or "")
            parts = arn.split(":")
            if len(parts) > 3 and parts[3]:
                return parts[3]
    raise RuntimeError(f"no regional resource in {state_file}")
