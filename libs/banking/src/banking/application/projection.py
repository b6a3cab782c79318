"""The projectors' use case: keep the read models, newest version wins.

Because the events carry the aggregate, a projector needs no history: the guarded
write makes delivery order and duplicates irrelevant.
"""

from __future__ import annotations

from collections.abc import Iterable

from banking.application.ports import ProjectionStore
from banking.domain.read_models import (
    ACCOUNTS_BY_OWNER,
    BALANCE_READ_MODELS,
    PROJECTIONS,
    StateCarriedEvent,
    owned_accounts,
)

# Every read model the projectors keep: the accounts' own and the owners' lists.
KEPT_READ_MODELS = (*PROJECTIONS, ACCOUNTS_BY_OWNER)


def project(
    event: StateCarriedEvent,
    projections: ProjectionStore,
    read_models: Iterable[str] = KEPT_READ_MODELS,
) -> dict[str, bool]:
    """Returns, per read model, whether this event changed it (False: it was stale).
    A replay may name the read models it rebuilds; unknown names are ignored."""
    written = {}
    for name in read_models:
        model = PROJECTIONS[name](event) if name in PROJECTIONS else None
        if model is not None:
            written[name] = projections.save(event.account_id, model)
        elif name == ACCOUNTS_BY_OWNER:
            written[name] = any(project_owners(event, projections))
    return written


def project_balances(event: StateCarriedEvent, projections: ProjectionStore) -> dict[str, bool]:
    return project(event, projections, BALANCE_READ_MODELS)


def project_owners(event: StateCarriedEvent, projections: ProjectionStore) -> list[bool]:
    """Keep `AccountsByOwner`: each owner's entry of the account, newest version wins
    (a later freeze or close updates its status)."""
    return [projections.save(partition, summary) for partition, summary in owned_accounts(event)]
