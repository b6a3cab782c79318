"""docs/openapi.yaml against the running system, with every check schemathesis has:
generated requests, valid and invalid, for every operation; none gets a 5xx, every
answer is one the document gives (status, content type, body), what the document
calls valid is accepted and what it calls invalid refused (so the document states the
real rules), a rejected command stores nothing, and a method no route declares gets
the API's JSON answer, as API Gateway's $default route gives it.

LEDGER_FUZZ_EXAMPLES sets the examples per operation and mode (positive, negative).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import ignored_auth, negative_data_rejection

from scripts.local.system import REPO
from tests.e2e.conftest import Api
from tests.local_system import System

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

SPEC = REPO / "docs" / "openapi.yaml"
# The checks' settings, shared by the library and the CLI runs.
CONFIG = REPO / "tests" / "e2e" / "schemathesis.toml"
# 5 operations, 2 modes, 100 each: 1,000 requests
EXAMPLES = int(os.environ.get("LEDGER_FUZZ_EXAMPLES", "100"))
ACCOUNT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
AT_LEAST = 1_000


class Fuzz:
    """Sends generated requests and checks each answer; counts what it sent."""

    def __init__(self, system: System, token: str | None) -> None:
        self._base_url = system.api_url
        ledger = system.ledger()
        self._dynamodb = ledger.client("dynamodb")
        self._events_table = ledger.events_table
        # A token that may do everything: what is refused is refused for its content.
        self._headers = {"authorization": f"Bearer {token}"}
        self.sent: Counter[str] = Counter()
        self.answered: Counter[int] = Counter()

    def run(self, operation: Any, mode: GenerationMode) -> None:
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def exchange(case: Any) -> None:
            account = (case.path_parameters or {}).get("accountId")
            command = case.method.upper() == "POST"
            before = self._stored(account) if command else 0
            # Every built-in check but two, which judge a case that dropped the
            # Authorization header as if it was sent without: our headers put the token
            # back. The CLI run below, which knows the header as auth, runs them too.
            response = case.call_and_validate(
                base_url=self._base_url,
                headers=self._headers,
                excluded_checks=[ignored_auth, negative_data_rejection],
            )
            self.sent[f"{operation.label} ({mode})"] += 1
            self.answered[response.status_code] += 1
            if command and 400 <= response.status_code < 500:
                assert self._stored(account) == before, case.as_curl_command()

        exchange()

    def _stored(self, account: Any) -> int:
        """Events stored under the account, or in the whole table if it is no account id
        (so a request that stored under some other reading of it would show)."""
        if isinstance(account, str) and ACCOUNT_ID.fullmatch(account):
            request: dict[str, Any] = {
                "KeyConditionExpression": "accountId = :a",
                "ExpressionAttributeValues": {":a": {"S": account}},
            }
            operation = "query"
        else:
            request, operation = {}, "scan"
        pages = self._dynamodb.get_paginator(operation).paginate(
            TableName=self._events_table, Select="COUNT", ConsistentRead=True, **request
        )
        return sum(int(page["Count"]) for page in pages)


def test_generated_requests_get_documented_answers_and_rejected_commands_store_nothing(
    system: System, api: Api
) -> None:
    fuzz = Fuzz(system, api.token)

    for result in schemathesis.openapi.from_path(
        SPEC, config=SchemathesisConfig.from_path(CONFIG)
    ).get_all_operations():
        assert isinstance(result, Ok), result  # an operation the document gets wrong
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz.run(result.ok(), mode)

    total = sum(fuzz.sent.values())
    assert total >= AT_LEAST, fuzz.sent
    print(f"schemathesis: {total} requests, by status {dict(fuzz.answered)}: {dict(fuzz.sent)}")


def test_every_check_of_the_schemathesis_cli_passes_undeclared_methods_included(
    system: System, api: Api
) -> None:
    # GIVEN the document and the running system, called with a token that may do everything
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run", str(SPEC),
        "--url", system.api_url,
        "--header", f"Authorization: Bearer {api.token}",
        "--checks", "all",
        "--mode", "all",
        # coverage sends the methods no route declares (TRACE, PUT, ...) and the edges
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(max(EXAMPLES // 4, 10)),
        "--generation-deterministic",
        "--seed", "15",
        "--no-color",
    ]  # fmt: skip

    # WHEN schemathesis runs every phase with every check
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)

    # THEN nothing fails
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
