"""boto3 clients pointed at the moto server, with the fake credentials moto accepts."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def fake_session(region: str) -> boto3.session.Session:
    """A session with the fake credentials moto accepts, whatever the environment holds."""
    return boto3.session.Session(
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=region,
    )


class Moto:
    """Where moto listens and in which region Terraform created the resources."""

    def __init__(self, endpoint_url: str, region: str) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self._session = fake_session(region)
        self._config = Config(retries={"max_attempts": 3, "mode": "standard"}, read_timeout=30)

    def client(self, service: str) -> Any:
        # Typed as Any: the runtime uses a handful of calls on a dozen services and the
        # stubs of each would add a dependency for little safety.
        return self._session.client(  # type: ignore[call-overload]
            service, endpoint_url=self.endpoint_url, config=self._config
        )


def queue_url(moto: Moto, queue_arn: str) -> str:
    """The URL of an SQS queue named by ARN (destinations and DLQs are given as ARNs)."""
    _, _, _, _, account, name = queue_arn.split(":", 5)
    url: str = moto.client("sqs").get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)[
        "QueueUrl"
    ]
    return url
