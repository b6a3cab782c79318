"""`ledger rebuild` of one read model, in its order (scripts/ops/rebuild.py runs it on
AWS, sleeping while it waits; the deterministic simulation runs it one stage per step):

1. Open generation G (the pointer's `building`): from then on the projectors write
   every event into the active generation and into G. Every projector must re-read the
   pointer before step 2, or an event it projects meanwhile misses G.
2. Replay every account into G only (`readModels: [NAME]`).
3. Wait until G has caught up: every item of the active generation has its
   counterpart in G at the same version or newer. The caller may also compare G with
   the fold.
4. Switch the pointer: readers read G. The old generation stays written until the
   grace period ends, for readers whose cached pointer is a few seconds old; `ledger
   prune` deletes it afterwards.

If the replay fails, G does not catch up in time or differs from the fold, it is
abandoned: readers never saw it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from attrs import define

from banking.application.ports import GenerationStore, Lag
from banking.application.replay import ReplayOptions

SWITCHED = "switched"


@define
class Rebuild:
    """One rebuild, from its opened generation to its `outcome`: `SWITCHED` (the old
    generation then written until `previous_until`), or why it was abandoned (None
    while it runs)."""

    projections: GenerationStore
    read_model: str
    generation: int
    active: int
    outcome: str | None = None
    previous_until: datetime | None = None

    @classmethod
    def open(cls, projections: GenerationStore, read_model: str) -> Rebuild:
        """Step 1: a generation that the projectors write beside the active one."""
        active = projections.generations(read_model).active
        return cls(projections, read_model, projections.start_building(read_model), active)

    @property
    def replay_options(self) -> ReplayOptions:
        return ReplayOptions(read_models=(self.read_model,))

    def run(
        self,
        *,
        replay: Callable[[ReplayOptions], bool],
        fold_agrees: Callable[[int], bool],
        grace_until: Callable[[], datetime],
    ) -> Iterator[Sequence[Lag]]:
        """Steps 2 to 4. `replay` sends every account into the generation (False: it
        had failures); each time the generation is still behind, what lags is yielded
        (wait, or stop iterating and `abandon`); `fold_agrees` judges the caught-up
        generation; the switch keeps the old one written until `grace_until()`."""
        if not replay(self.replay_options):
            self.abandon("the replay had failures")
            return
        while lagging := self.projections.lagging(self.read_model, self.generation):
            yield lagging
        if not fold_agrees(self.generation):
            self.abandon("it differs from the fold")
            return
        self.previous_until = grace_until()
        self.projections.switch(self.read_model, self.generation, grace_until=self.previous_until)
        self.outcome = SWITCHED

    def abandon(self, why: str) -> None:
        self.projections.abandon(self.read_model, self.generation)
        self.outcome = why
