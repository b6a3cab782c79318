"""The projectors' use case: keep the read models, newest version wins.

Because the events carry the aggregate, a projector needs no history: the guarded
write makes delivery order and duplicates irrelevant.
"""

from __future__ import annotations

from collections.abc import Iterable

from banking.application.ports import ProjectionStore
from banking.domain.read_models import BALANCE_READ_MODELS, PROJECTIONS, StateCarriedEvent


def project(
    event: StateCarriedEvent,
    projections: ProjectionStore,
    read_models: Iterable[str] = PROJECTIONS,
) -> dict[str, bool]:
    """Returns, per read model, whether this event changed it (False: it was stale).
    A replay may name the read models it rebuilds; unknown names are ignored."""
    return {
        name: projections.save(event.account_id, PROJECTIONS[name](event))
        for name in read_models
        if name in PROJECTIONS
    }


def project_balances(event: StateCarriedEvent, projections: ProjectionStore) -> dict[str, bool]:
    return project(event, projections, BALANCE_READ_MODELS)
