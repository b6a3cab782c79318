"""Lambda's advanced logging controls on our moto server and in the local runtime:
moto keeps a function's LoggingConfig (so a second `terraform plan` shows no change)
and the runtime gives each function the variables Lambda sets under it."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from scripts.local import wiring
from scripts.local.aws import Moto
from scripts.local.workers import lambda_environment
from tests.runtime.conftest import ROLE

pytestmark = pytest.mark.runtime

JSON_AT_INFO = {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN"}


def create(moto: Moto, name: str, **config: Any) -> dict[str, Any]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return None\n")
    iam = moto.client("iam")
    if not iam.list_roles()["Roles"]:
        iam.create_role(RoleName=ROLE.rsplit("/", 1)[1], AssumeRolePolicyDocument="{}")
    created: dict[str, Any] = moto.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="handler.lambda_handler",
        Code={"ZipFile": buffer.getvalue()},
        **config,
    )
    return created


def test_a_function_s_logging_config_is_answered_as_lambda_answers_it(moto: Moto):
    lambda_ = moto.client("lambda")
    # GIVEN one function created with the JSON format, and one without a logging config
    created = create(moto, "json", LoggingConfig=JSON_AT_INFO)
    create(moto, "plain")
    # THEN each is read back with Lambda's defaults filled in: its own log group, and
    # the Text format without levels
    expected = {**JSON_AT_INFO, "LogGroup": "/aws/lambda/json"}
    assert created["LoggingConfig"] == expected
    assert lambda_.get_function_configuration(FunctionName="json")["LoggingConfig"] == expected
    assert lambda_.get_function(FunctionName="plain")["Configuration"]["LoggingConfig"] == {
        "LogFormat": "Text",
        "LogGroup": "/aws/lambda/plain",
    }
    listed = {f["FunctionName"]: f for f in lambda_.list_functions()["Functions"]}
    assert listed["json"]["LoggingConfig"] == expected


def test_an_update_changes_only_the_logging_settings_it_names(moto: Moto):
    lambda_ = moto.client("lambda")
    create(moto, "fn", LoggingConfig=JSON_AT_INFO)
    # WHEN only the application level is updated, then the format set to Text
    lambda_.update_function_configuration(
        FunctionName="fn", LoggingConfig={"ApplicationLogLevel": "DEBUG"}
    )
    debug = lambda_.get_function_configuration(FunctionName="fn")["LoggingConfig"]
    lambda_.update_function_configuration(FunctionName="fn", LoggingConfig={"LogFormat": "Text"})
    text = lambda_.get_function_configuration(FunctionName="fn")["LoggingConfig"]
    # THEN the other settings stay, and Text carries no levels, as on Lambda
    assert debug == {**JSON_AT_INFO, "ApplicationLogLevel": "DEBUG", "LogGroup": "/aws/lambda/fn"}
    assert text == {"LogFormat": "Text", "LogGroup": "/aws/lambda/fn"}


def test_the_runtime_sets_the_variables_lambda_sets_under_the_json_format(moto: Moto):
    # GIVEN a function logging JSON at INFO and one with the Text format
    create(moto, "json", LoggingConfig=JSON_AT_INFO)
    create(moto, "plain")
    # WHEN the runtime reads the wiring and builds each function's environment
    functions = {f.name: f for f in wiring.load(moto).functions.values()}
    json_env = lambda_environment(functions["json"], moto.endpoint_url, moto.region)
    plain_env = lambda_environment(functions["plain"], moto.endpoint_url, moto.region)
    # THEN the JSON one is told its format and level (powertools takes the level as its
    # own), and the Text one neither
    assert json_env["AWS_LAMBDA_LOG_FORMAT"] == "JSON"
    assert json_env["AWS_LAMBDA_LOG_LEVEL"] == "INFO"
    assert "AWS_LAMBDA_LOG_FORMAT" not in plain_env
    assert "AWS_LAMBDA_LOG_LEVEL" not in plain_env
