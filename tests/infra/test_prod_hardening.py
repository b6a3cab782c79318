"""prod, planned offline with the environment's own KMS key and alarm topic: what issue
15 asked of its Terraform (keys, alarms, concurrency, throttles, identity provider), and
the time budgets of the API path, read from the plan and the SDK's configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from banking.entrypoints import bootstrap
from tests.infra.terraform import PROD_VARIABLES, planned, prepared, resources

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("terraform-prod-plan")]

KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
# Every route that stores an event: each has a throttle of its own.
WRITE_ROUTES = {
    "POST /accounts",
    "POST /accounts/{accountId}/freeze",
    "POST /accounts/{accountId}/unfreeze",
    "POST /accounts/{accountId}/close",
    "POST /accounts/{accountId}/overdraft-limit",
    "POST /accounts/{accountId}/credits",
    "POST /accounts/{accountId}/debits",
    "POST /transfers",
    "POST /accounts/{accountId}/events/{version}/reversal",
    "POST /transfers/{transferId}/reversal",
    "POST /accounts/{accountId}/holds",
    "POST /holds/{holdId}/capture",
    "POST /holds/{holdId}/void",
}


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return planned(
        "prod",
        tmp_path_factory.mktemp("prod-plan"),
        *PROD_VARIABLES,
        f"-var=kms_key_arn={KEY_ARN}",
        '-var=alarm_email_addresses=["ops@example-bank.com"]',
    )


def planned_values(plan: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["values"] for r in resources(plan, kind)]


def by_name(plan: dict[str, Any], kind: str, key: str) -> dict[str, dict[str, Any]]:
    return {values[key]: values for values in planned_values(plan, kind)}


def test_the_sdk_gives_up_before_the_function_which_ends_before_the_gateway(plan):
    # GIVEN the SDK's retries and timeouts, and the planned function and integration timeouts
    config = vars(bootstrap._CLIENT_CONFIG)  # botocore sets its options as attributes
    assert config["retries"]["mode"] == "standard"
    # total_max_attempts counts every try, the first included (max_attempts would not)
    attempts = config["retries"]["total_max_attempts"]
    per_attempt = config["connect_timeout"] + config["read_timeout"]
    # standard mode waits at most 2^(n-1) s after the n-th failed attempt
    sdk_worst_case = attempts * per_attempt + sum(2**n for n in range(attempts - 1))
    functions = by_name(plan, "aws_lambda_function", "function_name")
    (integration_ms,) = {
        i["timeout_milliseconds"] for i in planned_values(plan, "aws_apigatewayv2_integration")
    }

    # THEN the budget the code relies on is the SDK's real worst case
    assert sdk_worst_case == bootstrap.SDK_CALL_BUDGET_S
    # AND each API function outlasts one SDK call, and the gateway outlasts the function
    for name in ("commands", "queries"):
        timeout = functions[f"ledger-prod-{name}"]["timeout"]
        assert sdk_worst_case < timeout < integration_ms / 1000, name
    # AND a command has time for its reads before the write it starts only with
    # COMMAND_WRITE_BUDGET_S left
    assert functions["ledger-prod-commands"]["timeout"] > bootstrap.COMMAND_WRITE_BUDGET_S
    # AND API Gateway waits for the function, within the 30 s it allows
    assert integration_ms <= 30_000
    # AND the other functions outlast one SDK call too
    for function in functions.values():
        assert sdk_worst_case < function["timeout"], function["function_name"]


def test_prod_refuses_to_plan_without_anyone_to_alarm(tmp_path: Path):
    # GIVEN prod with no alarm action and no alarm e-mail address
    terraform, dist = prepared("prod", tmp_path)
    callback = PROD_VARIABLES[1]

    # WHEN it is planned
    result = terraform.run("plan", "-no-color", f"-var=dist_dir={dist}", callback, check=False)

    # THEN it refuses, saying why
    assert result.returncode != 0
    assert "alarms must notify someone" in result.stderr


def test_prod_refuses_to_plan_a_pool_without_its_apps_https_callback(tmp_path: Path):
    terraform, dist = prepared("prod", tmp_path)
    alarms = PROD_VARIABLES[0]

    without = terraform.run("plan", "-no-color", f"-var=dist_dir={dist}", alarms, check=False)
    plain_http = terraform.run(
        "plan",
        "-no-color",
        f"-var=dist_dir={dist}",
        alarms,
        '-var=cognito_callback_urls=["http://app.example-bank.com/callback"]',
        check=False,
    )

    assert without.returncode != 0
    assert "Set cognito_callback_urls" in without.stderr
    assert plain_http.returncode != 0
    assert "must be HTTPS" in plain_http.stderr


def test_the_alarm_topic_uses_a_customer_managed_key_cloudwatch_may_use(plan):
    # GIVEN prod's alarm topic and the key the module made for it
    (topic,) = planned_values(plan, "aws_sns_topic")
    keys = [r for r in resources(plan, "aws_kms_key") if "alarm_topic" in r["address"]]
    (key,) = [r["values"] for r in keys]

    # THEN the topic is not on the AWS-managed key (CloudWatch cannot use that one)
    change = next(c for c in plan["resource_changes"] if c["type"] == "aws_sns_topic")
    assert topic.get("kms_master_key_id") != "alias/aws/sns"
    assert change["change"]["after_unknown"]["kms_master_key_id"]  # the new key's ARN
    # AND the key rotates (its policy, which names the account, is known after apply:
    # tests/infra/test_local_environment.py checks it)
    assert key["enable_key_rotation"] is True


def test_the_bus_and_the_dead_letter_queues_use_the_environments_key(plan):
    (bus,) = planned_values(plan, "aws_cloudwatch_event_bus")
    queues = planned_values(plan, "aws_sqs_queue")

    assert bus["kms_key_identifier"] == KEY_ARN
    # the dead letters of the stream mapping, the two bus rules, the dispatcher's and
    # the projectors' async invokes, and the expirer's schedule
    assert len(queues) == 6
    for queue in queues:
        assert queue["kms_master_key_id"] == KEY_ARN, queue["name"]
        assert not queue.get("sqs_managed_sse_enabled"), queue["name"]


def test_commands_have_reserved_concurrency_so_reads_cannot_starve_writes(plan):
    functions = by_name(plan, "aws_lambda_function", "function_name")

    assert functions["ledger-prod-commands"]["reserved_concurrent_executions"] > 0


def test_write_routes_have_throttles_of_their_own_below_the_stages(plan):
    (stage,) = planned_values(plan, "aws_apigatewayv2_stage")
    (default,) = stage["default_route_settings"]
    settings = {s["route_key"]: s for s in stage["route_settings"]}

    assert set(settings) == WRITE_ROUTES
    for route in settings.values():
        assert 0 < route["throttling_rate_limit"] < default["throttling_rate_limit"]
        assert 0 < route["throttling_burst_limit"] < default["throttling_burst_limit"]


def test_people_sign_in_with_mfa_and_machines_with_client_credentials_only(plan):
    (pool,) = planned_values(plan, "aws_cognito_user_pool")
    clients = by_name(plan, "aws_cognito_user_pool_client", "name")

    assert pool["mfa_configuration"] == "ON"
    end_users = clients["ledger-prod-end-users"]
    assert end_users["callback_urls"] == ["https://app.example-bank.com/callback"]
    # a user may not change her sign-in name or any custom attribute
    assert set(end_users["write_attributes"]) == {"name", "locale", "zoneinfo"}
    machines = [c for name, c in clients.items() if name != "ledger-prod-end-users"]
    assert machines
    for client in machines:
        assert client["allowed_oauth_flows"] == ["client_credentials"], client["name"]
        assert client["explicit_auth_flows"] == ["ALLOW_REFRESH_TOKEN_AUTH"], client["name"]


def test_the_transfers_table_is_keyed_by_transfer_encrypted_and_kept(plan):
    # GIVEN prod's transfers table
    tables = by_name(plan, "aws_dynamodb_table", "name")
    transfers = tables["ledger-prod-transfers"]

    # THEN it holds one record per transfer id, for ever (no TTL), recoverable,
    # undeletable and under the environment's key, like the events it names
    assert transfers["hash_key"] == "transferId"
    assert transfers.get("range_key") is None
    assert transfers["attribute"] == [{"name": "transferId", "type": "S"}]
    assert not any(ttl.get("enabled") for ttl in transfers.get("ttl", []))
    assert transfers["point_in_time_recovery"] == [{"enabled": True}]
    assert transfers["deletion_protection_enabled"] is True
    assert transfers["server_side_encryption"] == [{"enabled": True, "kms_key_arn": KEY_ARN}]


def test_the_events_table_indexes_each_accounts_events_by_time_keys_only(plan):
    # GIVEN prod's events table
    events = by_name(plan, "aws_dynamodb_table", "name")["ledger-prod-events"]
    # THEN one index finds an account's event at any moment without copying the events:
    # keyed by account and recording time, projecting keys only (the table, read
    # consistently, gives the snapshot)
    (index,) = events["global_secondary_index"]
    assert (index["name"], index["hash_key"], index["range_key"]) == (
        "byRecordedAt",
        "accountId",
        "recordedAt",
    )
    assert index["projection_type"] == "KEYS_ONLY"
    assert {"name": "recordedAt", "type": "S"} in events["attribute"]
