"""The chaos run's faults: every kind on at every size; at scale, fewer parked events."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from scripts.local.faults import FaultSettings
from tests.chaos.conftest import SCALE_REQUESTS, chaos_faults


@pytest.mark.parametrize("requests", [120, SCALE_REQUESTS, SCALE_REQUESTS + 1, 10_000])
def test_every_fault_kind_is_on_at_every_size(requests: int) -> None:
    settings = FaultSettings.from_dict(chaos_faults(requests))

    rates = {name: rate for name, rate in asdict(settings).items() if name.endswith("_rate")}
    assert all(rate > 0 for rate in rates.values()), rates
    assert set(settings.functions) == {"fanout", "dispatcher", "projectors"}


def test_at_scale_the_downstream_functions_fail_less_often_than_in_a_small_run() -> None:
    small = FaultSettings.from_dict(chaos_faults(120))
    scaled = FaultSettings.from_dict(chaos_faults(2000))

    for function in ("fanout", "dispatcher", "projectors"):
        assert (
            0
            < scaled.for_function(function).invoke_error_rate
            < small.for_function(function).invoke_error_rate
        )
