"""The local environment applied for real against a moto server: a second plan shows no
change, destroy works, and the applied state keeps the failure-handling and
least-privilege rules for every mapping, target, function and role, so a new function
cannot forget them.

Everything here shares one apply (a module fixture), so it runs in one xdist group.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.local.terraform import output_values
from tests.infra.terraform import LAMBDAS, ROOT, Terraform, copy_tree, resources

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("terraform-local-apply")]

XRAY_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """The project's moto server (scripts/local/moto_server.py: moto plus the fixes the
    local runtime needs), on a free port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.local.moto_server", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **FAKE_CREDENTIALS},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("MOTO_PORT="), f"moto server did not start: {line!r}"
        yield f"http://127.0.0.1:{line.removeprefix('MOTO_PORT=')}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dist/ when `make package` built every zip; otherwise stand-in zips, as moto never
    runs the code (the zips' own checks are in test_package.py)."""
    dist = ROOT / "dist"
    if LAMBDAS and all((dist / f"{name}.zip").exists() for name in LAMBDAS):
        return dist
    stand_in = tmp_path_factory.mktemp("dist")
    for name in LAMBDAS:
        with zipfile.ZipFile(stand_in / f"{name}.zip", "w") as archive:
            archive.writestr("handler.py", "def lambda_handler(event, context):\n    return None\n")
    return stand_in


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, moto_url: str, dist_dir: Path):
    """terraform/environments/local applied to moto, with its state in a temp dir."""
    work = tmp_path_factory.mktemp("local-env")
    tree = copy_tree(work / "terraform")
    terraform = Terraform(tree / "environments" / "local", work / "tf", FAKE_CREDENTIALS)
    state = work / "terraform.tfstate"
    variables = [
        f"-var=endpoint_url={moto_url}",
        f"-var=dist_dir={dist_dir}",
        # The project's moto server can store them (plain moto 5.1 cannot).
        "-var=create_async_event_configs=true",
    ]
    terraform.run("init", "-no-color", f"-backend-config=path={state}")
    terraform.run("apply", "-no-color", "-auto-approve", "-parallelism=30", *variables)
    terraform.variables = variables
    yield terraform
    terraform.run("destroy", "-no-color", "-auto-approve", "-parallelism=30", *variables)


@pytest.fixture(scope="module")
def state(local: Terraform) -> dict[str, Any]:
    return local.show_json()


@pytest.fixture(scope="module")
def outputs(local: Terraform) -> dict[str, Any]:
    return output_values(local.run("output", "-json").stdout)


def by_type(state: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["values"] for r in resources(state, kind)]


def role_policies(state: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Statements of each role's inline policies, by role name."""
    policies: dict[str, list[dict[str, Any]]] = {}
    for inline in by_type(state, "aws_iam_role_policy"):
        statements = json.loads(inline["policy"])["Statement"]
        policies.setdefault(inline["role"], []).extend(as_list(statements))
    return policies


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allowed(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    return any(
        s["Effect"] == "Allow"
        and action in as_list(s["Action"])
        and resource in as_list(s["Resource"])
        for s in statements
    )


def function_roles(state: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Policy statements of each function's role, by function ARN."""
    policies = role_policies(state)
    return {
        f["arn"]: policies.get(f["role"].split("/")[-1], [])
        for f in by_type(state, "aws_lambda_function")
    }


def test_a_second_plan_shows_no_change(local):
    # GIVEN the applied local environment
    # WHEN it is planned again
    result = local.run("plan", "-no-color", "-detailed-exitcode", *local.variables, check=False)
    # THEN nothing differs: moto gives back what Terraform set
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


def test_every_lambda_directory_is_deployed_as_its_function(outputs):
    assert sorted(outputs["function_names"]) == LAMBDAS
    for directory, name in outputs["function_names"].items():
        assert name == f"ledger-local-{directory}"


def test_lambda_runtime_is_the_python_the_tests_run_on(state):
    # The zips are built for, and tested on, this interpreter's version.
    expected = f"python{sys.version_info.major}.{sys.version_info.minor}"
    functions = by_type(state, "aws_lambda_function")
    assert functions
    for function in functions:
        assert function["runtime"] == expected, function["function_name"]
        # arm64 by default (terraform/modules/ledger lambda_architecture): every package
        # the zips carry runs on it.
        assert function["architectures"] == ["arm64"], function["function_name"]
        assert function["handler"] == "handler.lambda_handler", function["function_name"]


def test_every_function_is_traced_logged_and_tagged_with_its_service(state):
    log_groups = {g["name"]: g for g in by_type(state, "aws_cloudwatch_log_group")}
    for function in by_type(state, "aws_lambda_function"):
        name = function["function_name"]
        assert function["tracing_config"] == [{"mode": "Active"}], name
        group = log_groups.get(f"/aws/lambda/{name}")
        assert group is not None, name
        assert group["retention_in_days"] > 0, name
        variables = function["environment"][0]["variables"]
        directory = name.removeprefix("ledger-local-")
        assert variables["POWERTOOLS_SERVICE_NAME"] == f"ledger-{directory}"
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "Ledger"
        assert variables["POWERTOOLS_LOG_LEVEL"] == "INFO"


def test_every_function_sends_lambda_only_its_warnings_and_its_own_level_of_lines(state):
    # GIVEN the applied functions (and, with test_a_second_plan_shows_no_change, moto
    # answering the LoggingConfig it was given)
    for function in by_type(state, "aws_lambda_function"):
        name = function["function_name"]
        # THEN Lambda's own START/END/REPORT records are not sent (system level WARN),
        # and the application level is the one powertools logs at, so audit lines,
        # errors and metric records are sent as before
        assert function["logging_config"] == [
            {
                "log_format": "JSON",
                "log_group": f"/aws/lambda/{name}",
                "application_log_level": "INFO",
                "system_log_level": "WARN",
            }
        ], name


def test_every_stream_mapping_sets_a_poison_record_aside_without_blocking_its_shard(state):
    mappings = by_type(state, "aws_lambda_event_source_mapping")
    queues = {q["arn"] for q in by_type(state, "aws_sqs_queue")}
    roles = function_roles(state)
    assert mappings, "the events stream has no mapping"
    for mapping in mappings:
        assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
        assert mapping["bisect_batch_on_function_error"] is True
        assert 0 <= mapping["maximum_retry_attempts"] <= 10000  # -1 would retry forever
        assert 60 <= mapping["maximum_record_age_in_seconds"] <= 604800  # -1: forever
        destination = mapping["destination_config"][0]["on_failure"][0]["destination_arn"]
        assert destination in queues
        # Lambda sends the failure record with the function's own role.
        assert allowed(roles[mapping["function_arn"]], "sqs:SendMessage", destination)
        assert mapping["starting_position"] in {"LATEST", "TRIM_HORIZON"}


def test_every_bus_target_retries_then_dead_letters_to_a_queue_it_may_write(state):
    targets = by_type(state, "aws_cloudwatch_event_target")
    rules = {
        (r["event_bus_name"], r["name"]): r for r in by_type(state, "aws_cloudwatch_event_rule")
    }
    queue_policies = {
        q["queue_url"].rsplit("/", 1)[-1]: json.loads(q["policy"])
        for q in by_type(state, "aws_sqs_queue_policy")
    }
    assert targets, "the bus has no target"
    for target in targets:
        retry = target["retry_policy"][0]
        assert 60 <= retry["maximum_event_age_in_seconds"] <= 86400
        assert 0 <= retry["maximum_retry_attempts"] <= 185
        dead_letter_arn = target["dead_letter_config"][0]["arn"]
        rule_arn = rules[(target["event_bus_name"], target["rule"])]["arn"]
        policy = queue_policies[dead_letter_arn.rsplit(":", 1)[-1]]
        assert any(
            s["Effect"] == "Allow"
            and s["Principal"] == {"Service": "events.amazonaws.com"}
            and "sqs:SendMessage" in as_list(s["Action"])
            and dead_letter_arn in as_list(s["Resource"])
            and s["Condition"]["ArnEquals"]["aws:SourceArn"] in (rule_arn, [rule_arn])
            for s in as_list(policy["Statement"])
        ), f"EventBridge may not write {target['rule']}'s dead letters to {dead_letter_arn}"


def test_every_function_a_bus_rule_invokes_has_async_retries_and_an_on_failure_queue(state):
    targeted = {t["arn"] for t in by_type(state, "aws_cloudwatch_event_target")}
    functions = {f["arn"]: f["function_name"] for f in by_type(state, "aws_lambda_function")}
    configs = {
        c["function_name"]: c for c in by_type(state, "aws_lambda_function_event_invoke_config")
    }
    roles = function_roles(state)
    for arn in targeted:
        config = configs.get(functions[arn])
        assert config is not None, f"{functions[arn]} is invoked asynchronously with no config"
        assert 0 <= config["maximum_retry_attempts"] <= 2
        assert 60 <= config["maximum_event_age_in_seconds"] <= 21600
        destination = config["destination_config"][0]["on_failure"][0]["destination"]
        assert allowed(roles[arn], "sqs:SendMessage", destination)


def test_every_role_names_its_actions_and_resources(state):
    # No "*" action anywhere; "*" as a resource only for X-Ray, which has no resources.
    for role_name, statements in role_policies(state).items():
        for statement in statements:
            actions = as_list(statement["Action"])
            assert not any(a == "*" or a.endswith(":*") for a in actions), (role_name, statement)
            if "*" in as_list(statement["Resource"]):
                assert set(actions) <= XRAY_ACTIONS, (role_name, statement)
    for role in by_type(state, "aws_iam_role"):
        trust = json.loads(role["assume_role_policy"])
        principals = [s["Principal"] for s in as_list(trust["Statement"])]
        # The functions' roles, and the one the expirer's schedule invokes it with.
        service = "scheduler" if role["name"].endswith("-expirer-schedule") else "lambda"
        assert principals == [{"Service": f"{service}.amazonaws.com"}], role["name"]


def test_each_function_has_a_role_of_its_own(state):
    roles = [f["role"] for f in by_type(state, "aws_lambda_function")]
    assert len(roles) == len(set(roles))


def test_each_function_may_do_only_what_it_needs(state):
    # The data actions each known function needs (logs, X-Ray and failure queues aside).
    needs = {
        "commands": {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"},
        "queries": {"dynamodb:GetItem", "dynamodb:Query"},
        "fanout": {
            "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
            "dynamodb:ListStreams", "events:PutEvents",
        },
        "dispatcher": {"dynamodb:GetItem", "events:PutEvents"},
        "projectors": {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"},
        "replay": {"dynamodb:Scan", "dynamodb:Query", "events:PutEvents"},
        "expirer": {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"},
    }  # fmt: skip
    plumbing = {"logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"} | XRAY_ACTIONS
    policies = role_policies(state)
    for function in by_type(state, "aws_lambda_function"):
        directory = function["function_name"].removeprefix("ledger-local-")
        statements = policies[function["role"].split("/")[-1]]
        actions = {a for s in statements for a in as_list(s["Action"])}
        if directory in needs:
            assert actions - plumbing == needs[directory], directory


# The state-carried events: one detail type per stored event type (issue 13).
STATE_CARRIED_TYPES = {
    "CreditEvent", "DebitEvent", "AccountOpened", "AccountFrozen", "AccountUnfrozen",
    "AccountClosed", "OverdraftLimitChanged", "HoldPlaced", "HoldVoided", "HoldExpired",
}  # fmt: skip
# What each function publishes on the bus, and nothing else (issue 15, item 6).
PUBLICATIONS = {
    "fanout": ("ledger.events", {"EventStored"}),
    "dispatcher": ("ledger.dispatcher", STATE_CARRIED_TYPES),
    "replay": ("ledger.replay", STATE_CARRIED_TYPES),
}


def test_each_role_may_put_on_the_bus_only_its_own_source_and_detail_types(state):
    # GIVEN every function's role
    policies = role_policies(state)
    for function in by_type(state, "aws_lambda_function"):
        directory = function["function_name"].removeprefix("ledger-local-")
        statements = policies[function["role"].split("/")[-1]]
        publishing = [s for s in statements if "events:PutEvents" in as_list(s["Action"])]
        # THEN only the publishers may PutEvents at all
        if directory not in PUBLICATIONS:
            assert publishing == [], directory
            continue
        # AND each only under its own events:source and detail types, so no role can
        # forge another's events (a ledger.dispatcher CreditEvent with any balance)
        source, detail_types = PUBLICATIONS[directory]
        (statement,) = publishing
        condition = statement["Condition"]["StringEquals"]
        assert as_list(condition["events:source"]) == [source], directory
        assert set(as_list(condition["events:detail-type"])) == detail_types, directory


def test_the_projectors_rule_takes_every_state_carried_event_live_or_replayed(state):
    # GIVEN the rule whose target is the projectors
    rules = {r["name"]: r for r in by_type(state, "aws_cloudwatch_event_rule")}
    pattern = json.loads(rules["ledger-local-balance-changed"]["event_pattern"])

    # THEN it matches each type the dispatcher and replay may publish, from either
    assert set(pattern["detail-type"]) == STATE_CARRIED_TYPES
    assert set(pattern["source"]) == {PUBLICATIONS["dispatcher"][0], PUBLICATIONS["replay"][0]}


def test_only_the_api_functions_touch_the_transfers_table_and_only_as_they_need(state, outputs):
    # GIVEN the transfers table and every function's role
    tables = {t["name"]: t for t in by_type(state, "aws_dynamodb_table")}
    transfers = tables[outputs["transfers_table_name"]]
    policies = function_roles(state)
    functions = {f["arn"]: f["function_name"] for f in by_type(state, "aws_lambda_function")}
    granted = {
        functions[arn].removeprefix("ledger-local-"): {
            action
            for s in statements
            if transfers["arn"] in as_list(s["Resource"])
            for action in as_list(s["Action"])
        }
        for arn, statements in policies.items()
    }

    # THEN commands record a transfer (a Put of the transaction) and read it back by id,
    # queries read it by id, and no other function touches it
    assert granted.pop("commands") == {"dynamodb:GetItem", "dynamodb:PutItem"}
    assert granted.pop("queries") == {"dynamodb:GetItem"}
    assert all(not actions for actions in granted.values()), granted
    # AND the table is the one the contract describes
    assert transfers["hash_key"] == "transferId"
    assert transfers["point_in_time_recovery"][0]["enabled"] is True


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(state):
    # GIVEN the alarm topic and the key it is encrypted with
    (topic,) = by_type(state, "aws_sns_topic")
    keys = {key["arn"]: key for key in by_type(state, "aws_kms_key")}
    key = keys[topic["kms_master_key_id"]]

    # THEN CloudWatch of this account may encrypt messages for the topic with it
    statements = json.loads(key["policy"])["Statement"]
    (cloudwatch,) = [
        s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(as_list(cloudwatch["Action"]))
    assert cloudwatch["Condition"]["StringEquals"]["aws:SourceAccount"] in topic["arn"]
    assert key["enable_key_rotation"] is True


def test_alarms_watch_every_queue_function_and_stream(state):
    alarms = by_type(state, "aws_cloudwatch_metric_alarm")
    watched = {(a["metric_name"], value) for a in alarms for value in a["dimensions"].values()}
    for queue in by_type(state, "aws_sqs_queue"):
        assert ("ApproximateNumberOfMessagesVisible", queue["name"]) in watched
    for function in by_type(state, "aws_lambda_function"):
        assert ("Errors", function["function_name"]) in watched
        assert ("Throttles", function["function_name"]) in watched
    functions = {f["arn"]: f["function_name"] for f in by_type(state, "aws_lambda_function")}
    for mapping in by_type(state, "aws_lambda_event_source_mapping"):
        assert ("IteratorAge", functions[mapping["function_arn"]]) in watched


def test_outputs_give_the_local_runtime_its_wiring(outputs):
    for name in (
        "api_id", "api_endpoint", "events_table_name", "events_stream_arn",
        "projections_table_name", "idempotency_table_name", "transfers_table_name",
        "event_bus_name",
    ):  # fmt: skip
        assert outputs[name], name
    assert set(outputs["dead_letter_queue_urls"]) == {
        "fanout_stream", "event_stored_rule", "balance_changed_rule",
        "dispatcher_async", "projectors_async", "expirer_schedule",
    }  # fmt: skip
    assert set(outputs["async_invocation"]) == {"dispatcher", "projectors"}


def contract_environment() -> dict[str, set[str]]:
    """Variables each function gets, from docs/architecture.md's table (`all` = every
    function the contract lists)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    listed = set(re.findall(r"^\| (\w+)\s+\| `<prefix>-\1`", text, flags=re.MULTILINE))
    section = text.split("### Environment variables", 1)[1].split("\n## ", 1)[0]
    expected: dict[str, set[str]] = {name: set() for name in listed}
    for variable, users in re.findall(r"^\| `(\w+)`\s*\|\s*([\w, ]+?)\s*\|", section, re.M):
        for user in listed if users == "all" else (u.strip() for u in users.split(",")):
            expected[user].add(variable)
    return expected


def test_each_function_gets_exactly_the_environment_the_contract_gives_it(state):
    contract = contract_environment()
    assert contract, "no function found in docs/architecture.md"
    for function in by_type(state, "aws_lambda_function"):
        directory = function["function_name"].removeprefix("ledger-local-")
        if directory in contract:
            variables = set(function["environment"][0]["variables"])
            assert variables == contract[directory], directory


def test_every_route_needs_a_token_of_the_issuer_and_writes_need_their_scope(state, outputs):
    # GIVEN the applied authorizer and routes
    (authorizer,) = by_type(state, "aws_apigatewayv2_authorizer")
    routes = {r["route_key"]: r for r in by_type(state, "aws_apigatewayv2_route")}

    # THEN the authorizer checks JWTs of the configured issuer and audience
    assert authorizer["authorizer_type"] == "JWT"
    assert authorizer["identity_sources"] == ["$request.header.Authorization"]
    assert authorizer["jwt_configuration"] == [
        {"issuer": outputs["jwt_issuer"], "audience": outputs["jwt_audience"]}
    ]
    # AND every route, $default included, uses it
    for key, route in routes.items():
        assert route["authorization_type"] == "JWT", key
        assert route["authorizer_id"] == authorizer["id"], key
    # AND recording money needs the write scope, managing accounts the manage scope, and
    # reading any valid token (the queries function checks more)
    scopes = {key: route["authorization_scopes"] for key, route in routes.items()}
    assert {key: scope for key, scope in scopes.items() if scope} == {
        **{key: ["ledger/transactions.write"] for key in MONEY_ROUTES},
        **{key: ["ledger/accounts.manage"] for key in MANAGE_ROUTES},
    }
    # AND every POST is one of those: no write route is left open to any token
    assert {key for key in routes if key.startswith("POST ")} == MONEY_ROUTES | MANAGE_ROUTES
    assert {key for key in routes if key.startswith("GET ")} == READ_ROUTES
    # AND writes go to the commands function, reads (and $default) to the queries function
    integrations = {
        i["id"]: i["integration_uri"] for i in by_type(state, "aws_apigatewayv2_integration")
    }
    functions = {f["function_name"]: f["arn"] for f in by_type(state, "aws_lambda_function")}
    for key, route in routes.items():
        served_by = "commands" if key.startswith("POST ") else "queries"
        uri = integrations[route["target"].removeprefix("integrations/")]
        assert f"/functions/{functions[f'ledger-local-{served_by}']}/" in uri, key


MONEY_ROUTES = {
    "POST /accounts/{accountId}/credits",
    "POST /accounts/{accountId}/debits",
    "POST /transfers",
    "POST /accounts/{accountId}/holds",
    "POST /holds/{holdId}/capture",
    "POST /holds/{holdId}/void",
    "POST /accounts/{accountId}/events/{version}/reversal",
    "POST /transfers/{transferId}/reversal",
}
MANAGE_ROUTES = {
    "POST /accounts",
    "POST /accounts/{accountId}/freeze",
    "POST /accounts/{accountId}/unfreeze",
    "POST /accounts/{accountId}/close",
    "POST /accounts/{accountId}/overdraft-limit",
}
READ_ROUTES = {
    "GET /accounts",
    "GET /accounts/{accountId}",
    "GET /accounts/{accountId}/balance",
    "GET /accounts/{accountId}/events",
    "GET /accounts/{accountId}/statements/{month}",
    "GET /transfers/{transferId}",
    "GET /accounts/{accountId}/holds",
    "GET /holds/{holdId}",
}


def test_access_logs_name_the_caller_but_hold_no_token_header_or_body(state):
    (stage,) = by_type(state, "aws_apigatewayv2_stage")
    log_format = stage["access_log_settings"][0]["format"]
    fields = json.loads(log_format)

    assert fields["principal"] == "$context.authorizer.claims.sub"
    for leaky in ("$request.header", "$request.body", "$input", "requestOverride", "querystring"):
        assert leaky.lower() not in log_format.lower()
