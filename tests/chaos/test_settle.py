"""Waiting for a system to go quiet: caught up, stalled, or out of time."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

import scripts.chaos.settle as settle
from banking.domain.read_models import BALANCE_READ_MODELS
from scripts.chaos.settle import NotQuiet, Settled, wait_until_quiet
from scripts.ops.status import AccountStatus


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settle, "POLL_S", 0.0)


def _at(read_model_version: int, dead_letters: int = 0) -> Settled:
    status = AccountStatus("a", 5, dict.fromkeys(BALANCE_READ_MODELS, read_model_version))
    return Settled([status], dead_letters)


def _probe(states: Iterator[Settled]):
    return lambda: next(states)


def test_it_returns_once_every_read_model_is_at_its_head_and_nothing_is_parked() -> None:
    states = iter([_at(3), _at(4), _at(5, dead_letters=1), _at(5)])

    settled = wait_until_quiet(_probe(states), deadline_s=60, stalled_s=60)

    assert settled.caught_up
    assert settled.dead_letters == 0
    assert next(states, None) is None


def test_it_returns_what_is_left_once_nothing_has_moved_for_the_stall_time() -> None:
    settled = wait_until_quiet(
        _probe(itertools.repeat(_at(4, dead_letters=2))), deadline_s=60, stalled_s=0.05
    )

    assert not settled.caught_up
    assert settled.dead_letters == 2
    assert [a.account_id for a in settled.behind] == ["a"]


def test_out_of_time_it_fails_or_when_not_strict_says_what_it_last_saw() -> None:
    # GIVEN a system that keeps moving without ever catching up
    def moving() -> Iterator[Settled]:
        return (_at(n % 4) for n in itertools.count())

    # THEN past the deadline a strict wait fails, a lenient one answers what is behind
    with pytest.raises(NotQuiet):
        wait_until_quiet(_probe(moving()), deadline_s=0.05, stalled_s=60)
    settled = wait_until_quiet(_probe(moving()), deadline_s=0.05, stalled_s=60, strict=False)
    assert not settled.caught_up
