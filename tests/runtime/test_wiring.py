"""How the runtime reads what Terraform declared."""

from __future__ import annotations

import pytest

from scripts.local.http_api import source_arn
from scripts.local.wiring import Permission

pytestmark = pytest.mark.runtime

API = "arn:aws:execute-api:us-east-1:123456789012:abc123"


@pytest.mark.parametrize(
    ("pattern", "allowed"),
    [
        (f"{API}/*/*", True),
        (f"{API}/*/POST/accounts/{{accountId}}/credits", True),
        (f"{API}/*/GET/accounts/{{accountId}}/credits", False),
        (f"{API}/$default/POS?/accounts/*", True),
        ("arn:aws:execute-api:us-east-1:123456789012:other/*/*", False),
        (None, True),
    ],
)
def test_a_permission_matches_its_source_arn_as_arnlike_does(
    pattern: str | None, allowed: bool
) -> None:
    event = {
        "routeKey": "POST /accounts/{accountId}/credits",
        "requestContext": {"accountId": "123456789012", "apiId": "abc123", "stage": "$default"},
    }
    permission = Permission(principal="apigateway.amazonaws.com", source_arn_pattern=pattern)

    assert permission.allows("apigateway.amazonaws.com", source_arn(event, "us-east-1")) is allowed


def test_a_permission_for_another_service_does_not_apply() -> None:
    permission = Permission(principal="events.amazonaws.com", source_arn_pattern=None)

    assert not permission.allows("apigateway.amazonaws.com", f"{API}/$default/$default")


def test_the_default_route_is_invoked_on_behalf_of_its_own_arn() -> None:
    event = {
        "routeKey": "$default",
        "requestContext": {"accountId": "123456789012", "apiId": "abc123", "stage": "$default"},
    }

    assert source_arn(event, "us-east-1") == f"{API}/$default/$default"
