"""Dead-letter queues and on-failure destinations, addressed by ARN as Terraform declares them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from scripts.local.aws import Moto, queue_url
from scripts.local.logs import Logs


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Destinations:
    def __init__(self, moto: Moto, logs: Logs) -> None:
        self._moto = moto
        self._logs = logs

    def send(self, arn: str, payload: Any, attributes: dict[str, str] | None = None) -> None:
        """Deliver a failure record; SQS and SNS, the destinations a team uses for this."""
        body = json.dumps(payload)
        service = arn.split(":")[2]
        if service == "sqs":
            self._moto.client("sqs").send_message(
                QueueUrl=queue_url(self._moto, arn),
                MessageBody=body,
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value}
                    for name, value in (attributes or {}).items()
                },
            )
        elif service == "sns":
            self._moto.client("sns").publish(TopicArn=arn, Message=body)
        else:
            self._logs.write(
                "runtime", f"destination {arn} is not supported locally; dropped: {body}"
            )
            return
        self._logs.write("runtime", f"failure record sent to {arn}")
