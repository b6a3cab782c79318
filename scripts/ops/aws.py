"""Where the ledger of an environment lives, and clients to reach it.

Names follow the Terraform root of each environment (`ledger-<environment>-…`). The
endpoint is, in order: `--endpoint-url`, `$LEDGER_ENDPOINT_URL`, the local runtime's
moto (`.local/moto-url`, written by `make up`/`make run`; `$LEDGER_LOCAL_DIR` moves
`.local`) for the `local` environment, else AWS itself with the usual credential
chain. Locally, Lambda invocations go to the runtime's Invoke API (`.local/lambda-url`),
since moto cannot run function code.
"""

from __future__ import annotations

import os
from argparse import Namespace
from pathlib import Path
from typing import Any

import boto3
from attrs import frozen
from botocore.config import Config

from banking.domain.account import LegacyTerms
from banking.entrypoints.settings import Settings
from scripts.local.aws import FAKE_CREDENTIALS
from scripts.local.tables import table_name

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_MAX_TIMEOUT_S = 900
LOCAL_DIR = Path(os.environ.get("LEDGER_LOCAL_DIR") or ROOT / ".local")


class SetupError(Exception):
    """What an operator must set before the command can run, said in one line."""


class NotRunning(SetupError):
    pass


NO_REGION = (
    "no AWS region is configured: set AWS_REGION (e.g. `export AWS_REGION=eu-west-1`) "
    "or a region in the AWS profile you use (AWS_PROFILE)"
)


@frozen
class Ledger:
    environment: str
    endpoint_url: str | None
    region: str | None
    lambda_endpoint_url: str | None = None

    @classmethod
    def from_args(cls, args: Namespace) -> Ledger:
        environment = args.environment
        endpoint = args.endpoint_url or os.environ.get("LEDGER_ENDPOINT_URL")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        lambda_endpoint = endpoint
        if environment == "local":
            if endpoint is None:
                endpoint = _local_pointer("moto-url")
                lambda_endpoint = _local_pointer("lambda-url")
            # The region Terraform created the local resources in, whatever the shell says.
            region = _local_pointer("region") if (LOCAL_DIR / "region").exists() else region
            # moto accepts any credentials; the usual chain may have none on a laptop.
            for name, value in FAKE_CREDENTIALS.items():
                os.environ.setdefault(name, value)
        # Else boto3 finds none and fails with a traceback on the first call.
        region = region or boto3.session.Session().region_name
        if region is None:
            raise SetupError(NO_REGION)
        return cls(environment, endpoint, region, lambda_endpoint)

    @property
    def prefix(self) -> str:
        return f"ledger-{self.environment}"

    # The tables Terraform's module names after the prefix (one list: scripts/local/tables.py).
    @property
    def events_table(self) -> str:
        return table_name(self.prefix, "events")

    @property
    def projections_table(self) -> str:
        return table_name(self.prefix, "projections")

    @property
    def idempotency_table(self) -> str:
        return table_name(self.prefix, "idempotency")

    @property
    def transfers_table(self) -> str:
        return table_name(self.prefix, "transfers")

    @property
    def holds_table(self) -> str:
        return table_name(self.prefix, "holds")

    @property
    def legacy_terms(self) -> LegacyTerms:
        """How accounts from before accounts read: the deployment's LEGACY_CURRENCY and
        OVERDRAFT_LIMIT, as set in the operator's environment (default EUR, 0.00)."""
        return Settings.from_env().legacy_terms

    def client(self, service: str) -> Any:
        config = Config(retries={"mode": "standard", "max_attempts": 5})
        if service == "lambda":
            # A synchronous invoke answers when the function ends, up to 15 minutes: a
            # shorter read timeout would give up on it and retry, running it twice.
            config = config.merge(Config(read_timeout=LAMBDA_MAX_TIMEOUT_S + 60))
        client: Any = boto3.client(  # type: ignore[call-overload]  # any service, by name
            service,
            endpoint_url=self.lambda_endpoint_url if service == "lambda" else self.endpoint_url,
            region_name=self.region,
            config=config,
        )
        return client


def _local_pointer(name: str) -> str:
    path = LOCAL_DIR / name
    if not path.exists():
        raise NotRunning(f"the local system is not running ({path} is missing): `make up`")
    return path.read_text().strip()


def dead_letter_queue_urls(ledger: Ledger) -> list[str]:
    """Every dead-letter queue of the ledger (by the `<prefix>-…-dlq` naming), sorted."""
    urls = ledger.client("sqs").list_queues(QueueNamePrefix=ledger.prefix).get("QueueUrls", [])
    return sorted(str(url) for url in urls if str(url).endswith("-dlq"))
