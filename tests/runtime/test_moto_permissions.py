"""A function's resource policy changed by several requests at once loses none of them
(scripts.local.moto_patches: ``_one_policy_change_at_a_time``): Terraform removes a
function's permissions in parallel when it destroys an environment."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
from moto.awslambda.exceptions import UnknownPolicyException
from moto.awslambda.policy import Policy

from scripts.local.moto_patches import _one_policy_change_at_a_time

STATEMENTS = 16


class SlowStatements(list[Any]):
    """A policy's statements, walked slowly: another thread gets in at every step, as it
    may on a loaded moto server."""

    def __iter__(self) -> Iterator[Any]:
        for statement in super().__iter__():
            time.sleep(0.002)
            yield statement


def remove_all_at_once(policy: Policy) -> list[Exception]:
    errors: list[Exception] = []
    start = threading.Barrier(STATEMENTS)

    def remove(sid: str) -> None:
        start.wait()
        try:
            policy.del_statement(sid)
        except UnknownPolicyException as error:
            errors.append(error)

    threads = [threading.Thread(target=remove, args=(f"s{n}",)) for n in range(STATEMENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.fixture
def policy() -> Policy:
    made = Policy(parent=cast(Any, None))  # del_statement reads no parent
    made.statements = SlowStatements({"Sid": f"s{n}"} for n in range(STATEMENTS))
    return made


def test_permissions_removed_at_once_are_all_removed(
    policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Policy, "del_statement", _one_policy_change_at_a_time(Policy.del_statement))

    assert remove_all_at_once(policy) == []
    assert list(policy.statements) == []


def test_without_it_moto_loses_some(policy: Policy) -> None:
    # What the patch is for: moto's own removal, from threads at once.
    errors = remove_all_at_once(policy)

    assert errors
    assert len(list(policy.statements)) == len(errors)
