"""The projectors' use case: keep the read models, newest version wins.

Because the events carry the aggregate, a projector needs no history: the guarded
write makes delivery order and duplicates irrelevant.
"""

from __future__ import annotations

from banking.application.ports import ProjectionStore
from banking.domain.read_models import READ_MODEL_NAMES, StateCarriedEvent, balance_read_models


def project_balances(event: StateCarriedEvent, projections: ProjectionStore) -> dict[str, bool]:
    """Returns, per read model, whether this event changed it (False: it was stale)."""
    return {
        READ_MODEL_NAMES[type(model)]: projections.save(event.account_id, model)
        for model in balance_read_models(event)
    }
