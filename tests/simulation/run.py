"""One simulation run: `simulate(seed, steps)` and the report of it."""

from __future__ import annotations

import itertools
import traceback

import attrs
from attrs import frozen

from tests.simulation.invariants import InvariantViolated
from tests.simulation.operations import STEPS, rival
from tests.simulation.scheduler import MAX_PAUSE_S, Scheduler
from tests.simulation.world import Chances, World

_STEP_NAMES = list(STEPS)
_STEP_WEIGHTS = list(itertools.accumulate(weight for _, weight in STEPS.values()))


@frozen
class Failure:
    step: int
    invariant: str
    detail: str
    trace: tuple[str, ...]


@frozen
class Result:
    seed: int
    steps: int
    world: World
    failure: Failure | None

    @property
    def passed(self) -> bool:
        return self.failure is None

    def report(self) -> str:
        """What `make simulate` prints: the same, byte for byte, for the same seed."""
        world = self.world
        lines = [
            f"seed {self.seed}",
            f"steps {self.steps}",
            "counts: " + _counts(world.counts),
            "faults: " + _counts(world.faults),
            "invariant checks: " + _counts(world.memory.checks),
            f"state digest {world.digest()}",
        ]
        if self.failure is None:
            lines.append("PASSED: every invariant held at every step and at quiescence")
            return "\n".join(lines)
        lines += [
            f"FAILED at step {self.failure.step}: invariant {self.failure.invariant}",
            f"  {self.failure.detail}",
            f"replay: make simulate SEED={self.seed} STEPS={self.failure.step}{_changed(world)}",
            "trace (last steps):",
            *(f"  {line}" for line in self.failure.trace),
        ]
        return "\n".join(lines)


def simulate(
    seed: int,
    steps: int,
    *,
    chances: Chances | None = None,
    bugs: frozenset[str] = frozenset(),
) -> Result:
    """Run `steps` steps from `seed`, then let the system settle; stop at the first
    invariant that fails."""
    scheduler = Scheduler(seed)
    world = World(scheduler, chances or Chances(), bugs=bugs, rival=rival)
    step = 0
    try:
        for step in range(1, steps + 1):
            name = scheduler.weighted(_STEP_NAMES, _STEP_WEIGHTS)
            world.clock.advance(scheduler.between(0, MAX_PAUSE_S))
            world.note(f"step {step}: {name}")
            STEPS[name][0](world)
        step = steps + 1
        world.note(f"step {step}: settle (the end of the run)")
        world.settle()
    except InvariantViolated as violation:
        return Result(
            seed, steps, world, _failure(world, step, violation.invariant, violation.detail)
        )
    # Any other error of the code under test (a fold refusing an event, a KeyError) is a
    # failure like a broken invariant: reported with its seed, step and trace.
    except Exception as error:  # noqa: BLE001
        detail = "".join(traceback.format_exception_only(error)).strip()
        return Result(seed, steps, world, _failure(world, step, "no_unexpected_error", detail))
    return Result(seed, steps, world, None)


def _failure(world: World, step: int, invariant: str, detail: str) -> Failure:
    return Failure(step, invariant, detail, tuple(world.trace))


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counter.items())) or "none"


def _changed(world: World) -> str:
    """The chances that differ from the defaults: a replay needs them too."""
    defaults = attrs.asdict(Chances())
    changed = [f"{k}={v}" for k, v in attrs.asdict(world.chances).items() if defaults[k] != v]
    return f" (with {', '.join(changed)})" if changed else ""
