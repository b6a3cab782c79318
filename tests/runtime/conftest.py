"""The runtime's own test bench: a fresh moto (our launcher) per test, resources created
directly with boto3 as Terraform would, and tiny throwaway function zips built in tmp."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.local.aws import Moto
from scripts.local.logs import Logs
from scripts.local.supervisor import RetryDelays, Runtime
from scripts.local.system import MotoProcess

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/local-runtime-test"
FAST = RetryDelays(stream_s=(0.05,), async_s=(0.05,))


@pytest.fixture
def moto(tmp_path: Path) -> Iterator[Moto]:
    server = MotoProcess(tmp_path / "moto.log")
    try:
        yield Moto(server.endpoint_url, REGION)
    finally:
        server.stop()


class Bench:
    """Deploys functions and wiring to moto, then runs the runtime on it."""

    def __init__(self, moto: Moto, tmp_path: Path) -> None:
        self.moto = moto
        self.dist = tmp_path / "dist"
        self.dist.mkdir()
        self.state = tmp_path / "state"
        self.logs = Logs(self.state / "logs", console=None)
        self.runtime: Runtime | None = None
        self._role_created = False

    def function(
        self,
        name: str,
        files: dict[str, str],
        *,
        timeout: int = 3,
        environment: dict[str, str] | None = None,
    ) -> str:
        """Zip the files into dist/<name>.zip and create the function; returns its ARN."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for path, source in files.items():
                archive.writestr(path, source)
        (self.dist / f"{name}.zip").write_bytes(buffer.getvalue())
        if not self._role_created:
            self.moto.client("iam").create_role(
                RoleName="local-runtime-test", AssumeRolePolicyDocument="{}"
            )
            self._role_created = True
        created = self.moto.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=ROLE,
            Handler="handler.lambda_handler",
            Code={"ZipFile": buffer.getvalue()},
            Timeout=timeout,
            Environment={"Variables": environment or {}},
        )
        return str(created["FunctionArn"])

    def allow(self, function: str, principal: str, source_arn: str) -> None:
        """Grant what aws_lambda_permission grants."""
        self.moto.client("lambda").add_permission(
            FunctionName=function,
            StatementId=f"allow-{abs(hash((principal, source_arn)))}",
            Action="lambda:InvokeFunction",
            Principal=principal,
            SourceArn=source_arn,
        )

    def queue(self, name: str) -> tuple[str, str]:
        sqs = self.moto.client("sqs")
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return url, arn

    def start(self, port: int = 0) -> Runtime:
        self.runtime = Runtime(
            self.moto,
            self.dist,
            self.state,
            port,
            self.logs,
            max_concurrency=4,
            retry_delays=FAST,
        )
        self.runtime.start()
        return self.runtime

    def stop(self) -> None:
        if self.runtime is not None:
            self.runtime.stop()

    def messages(self, queue_url: str, count: int, timeout_s: float = 15) -> list[dict[str, Any]]:
        """Wait until ``count`` messages arrived (or the deadline passed); returns them."""
        sqs = self.moto.client("sqs")
        received: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout_s
        while len(received) < count and time.monotonic() < deadline:
            page = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                MessageAttributeNames=["All"],
            )
            for message in page.get("Messages", []):
                received.append(message)
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return received


@pytest.fixture
def bench(moto: Moto, tmp_path: Path) -> Iterator[Bench]:
    bench = Bench(moto, tmp_path)
    try:
        yield bench
    finally:
        bench.stop()


def observing_handler(body: str) -> str:
    """A handler module whose ``lambda_handler`` body is ``body``, with ``observe(x)``
    sending x to the queue named by the function's OBSERVED_QUEUE_URL variable."""
    return (
        "import json, os\n"
        "import boto3\n"
        "sqs = boto3.client('sqs')\n"
        "def observe(value):\n"
        "    sqs.send_message(QueueUrl=os.environ['OBSERVED_QUEUE_URL'],"
        " MessageBody=json.dumps(value))\n"
        "def lambda_handler(event, context):\n"
        + "".join(f"    {line}\n" for line in body.splitlines())
    )


def bodies(messages: list[dict[str, Any]]) -> list[Any]:
    return [json.loads(m["Body"]) for m in messages]


Waiter = Callable[[Callable[[], bool], float], None]


def table_streaming_to(bench: Bench, handler: str, **settings: Any) -> tuple[str, str]:
    """A table whose stream feeds a function; returns the observed queue's URL and the
    stream ARN."""
    observed_url, _ = bench.queue("observed")
    arn = bench.function(
        "consumer", {"handler.py": handler}, environment={"OBSERVED_QUEUE_URL": observed_url}
    )
    table = bench.moto.client("dynamodb").create_table(
        TableName="events",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]
    bench.moto.client("lambda").create_event_source_mapping(
        EventSourceArn=table["LatestStreamArn"],
        FunctionName=arn,
        StartingPosition="TRIM_HORIZON",
        **settings,
    )
    return observed_url, table["LatestStreamArn"]
