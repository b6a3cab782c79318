"""`ledger rebuild`'s stages (banking.application.rebuild) on the in-memory projections
store: readers switch to the new generation only once it has caught up and agrees with
the fold; otherwise it is abandoned and readers never see it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from banking.adapters.memory import InMemoryProjectionStore
from banking.application.rebuild import SWITCHED, Rebuild
from banking.application.replay import ReplayOptions
from banking.domain.money import Money
from banking.domain.read_models import TOTAL_BALANCE, TotalBalance

GRACE_UNTIL = datetime(2026, 11, 26, 12, 0, tzinfo=UTC) + timedelta(seconds=30)


def store_with_alice() -> InMemoryProjectionStore:
    projections = InMemoryProjectionStore()
    projections.save("alice", TotalBalance(Money(100), 1))
    return projections


def test_readers_switch_to_the_new_generation_once_the_replay_has_filled_it():
    # GIVEN alice's total balance in the active generation, and a rebuild opened
    projections = store_with_alice()
    rebuild = Rebuild.open(projections, TOTAL_BALANCE)
    replays: list[ReplayOptions] = []

    def replay(options: ReplayOptions) -> bool:
        replays.append(options)
        projections.save("alice", TotalBalance(Money(100), 1))  # what the projector writes
        return True

    # WHEN it runs
    behind = list(
        rebuild.run(replay=replay, fold_agrees=lambda g: True, grace_until=lambda: GRACE_UNTIL)
    )
    # THEN the replay was of this read model only, nothing was behind, and readers read
    # the new generation while the old one stays written through the grace period
    assert replays == [ReplayOptions(read_models=(TOTAL_BALANCE,))]
    assert behind == []
    assert rebuild.outcome == SWITCHED
    generations = projections.generations(TOTAL_BALANCE)
    assert (generations.active, generations.previous) == (rebuild.generation, rebuild.active)
    assert generations.previous_until == rebuild.previous_until == GRACE_UNTIL


def test_a_generation_still_behind_is_yielded_and_can_be_abandoned():
    # GIVEN a rebuild whose replay has not reached the projector yet
    projections = store_with_alice()
    rebuild = Rebuild.open(projections, TOTAL_BALANCE)
    stages = rebuild.run(
        replay=lambda o: True, fold_agrees=lambda g: True, grace_until=lambda: GRACE_UNTIL
    )
    # WHEN it is run as far as it goes
    lagging = next(stages)
    # THEN what lags is alice's total balance, and readers stay on the active generation
    assert [lag.account_id for lag in lagging] == ["alice"]
    assert projections.generations(TOTAL_BALANCE).building == rebuild.generation
    # WHEN the caller gives up THEN the generation is abandoned, never switched to
    rebuild.abandon("1 item(s) behind")
    generations = projections.generations(TOTAL_BALANCE)
    assert (generations.active, generations.building) == (rebuild.active, None)
    assert rebuild.outcome == "1 item(s) behind"


def test_a_replay_with_failures_abandons_the_generation():
    projections = store_with_alice()
    rebuild = Rebuild.open(projections, TOTAL_BALANCE)
    # WHEN the replay reports failures
    stages = list(
        rebuild.run(
            replay=lambda o: False, fold_agrees=lambda g: True, grace_until=lambda: GRACE_UNTIL
        )
    )
    # THEN nothing is waited for and readers never see the generation
    assert stages == []
    assert rebuild.outcome == "the replay had failures"
    assert projections.generations(TOTAL_BALANCE).building is None
    assert projections.generations(TOTAL_BALANCE).active == rebuild.active


def test_a_caught_up_generation_that_differs_from_the_fold_is_abandoned():
    projections = store_with_alice()
    rebuild = Rebuild.open(projections, TOTAL_BALANCE)

    def replay(options: ReplayOptions) -> bool:
        projections.save("alice", TotalBalance(Money(100), 1))
        return True

    # WHEN the caught-up generation is judged against the fold and found different
    judged: list[int] = []

    def fold_agrees(generation: int) -> bool:
        judged.append(generation)
        return False

    list(rebuild.run(replay=replay, fold_agrees=fold_agrees, grace_until=lambda: GRACE_UNTIL))
    # THEN it was the new generation that was judged, and it is abandoned
    assert judged == [rebuild.generation]
    assert rebuild.outcome == "it differs from the fold"
    assert projections.generations(TOTAL_BALANCE).active == rebuild.active
