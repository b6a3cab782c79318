import copy
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from banking.domain.account import LegacyTerms, fold
from banking.domain.currency import Currency
from banking.domain.errors import UnknownEvent
from banking.domain.events import SCHEMA_VERSION, Credited, Debited
from banking.domain.money import Money
from banking.domain.upcasting import upcast

# Two items as the events table held them before accounts (docs/events.md, schema 1).
V1_SNAPSHOT = {
    "balance": "112.34",
    "month": "2026-11",
    "monthCredits": "112.34",
    "monthDebits": "0.00",
    "monthEventCount": Decimal(1),
}
V1_CREDIT: dict[str, object] = {
    "accountId": "alice",
    "version": Decimal(1),
    "type": "CreditEvent",
    "schemaVersion": Decimal(1),
    "eventId": "5f0c1d2e-0000-4000-8000-000000000001",
    "amount": "112.34",
    "description": "salary",
    "recordedAt": "2026-11-26T07:00:00.000000Z",
    "correlationId": "CmGQhjTyDoEEMpA=",
    "snapshot": V1_SNAPSHOT,
}
V1_DEBIT = {
    **V1_CREDIT,
    "version": Decimal(2),
    "type": "DebitEvent",
    "eventId": "9b2f3c1e-6a0d-4b7e-8f57-2b0a4c1d9e33",
    "amount": "30.00",
    "description": "groceries",
    "snapshot": {
        "balance": "82.34",
        "month": "2026-11",
        "monthCredits": "112.34",
        "monthDebits": "30.00",
        "monthEventCount": Decimal(2),
    },
}
TERMS = LegacyTerms(Currency("USD"), Money(5000))


def test_a_schema_1_posting_reads_in_the_legacy_currency_with_the_legacy_settings():
    # GIVEN a credit stored before accounts WHEN upcast on a deployment's legacy terms
    item = upcast(V1_CREDIT, TERMS)
    # THEN it is a schema 2 posting in the legacy currency, its other fields untouched
    assert item["schemaVersion"] == SCHEMA_VERSION == 2
    assert item["currency"] == "USD"
    assert {key: item[key] for key in V1_CREDIT if key not in {"schemaVersion", "snapshot"}} == {
        key: V1_CREDIT[key] for key in V1_CREDIT if key not in {"schemaVersion", "snapshot"}
    }
    assert "transferId" not in item
    # AND its snapshot gains the settings the account had: open, owned by its id
    assert item["snapshot"] == {
        **V1_SNAPSHOT,
        "currency": "USD",
        "overdraftLimit": "50.00",
        "status": "open",
        "owners": ["alice"],
        "metadata": {},
    }


def test_upcasting_leaves_the_stored_item_as_it_was():
    before = copy.deepcopy(V1_CREDIT)
    upcast(V1_CREDIT, TERMS)
    assert before == V1_CREDIT


def test_a_current_item_is_read_as_it_is():
    item = {**upcast(V1_CREDIT), "transferId": "t-1", "counterparty": "bob"}
    assert upcast(item) == item


def test_an_item_without_a_snapshot_gains_only_its_currency():
    item = {key: value for key, value in V1_CREDIT.items() if key != "snapshot"}
    assert upcast(item, TERMS) == {**item, "schemaVersion": 2, "currency": "USD"}


@pytest.mark.parametrize("version", [3, Decimal(3), 0, None, "1", True, Decimal("1.5")])
def test_an_unknown_schema_version_is_an_error_never_skipped(version):
    with pytest.raises(UnknownEvent, match="schema version"):
        upcast({**V1_CREDIT, "schemaVersion": version})


def test_a_schema_1_item_of_a_type_schema_1_never_had_is_an_error():
    with pytest.raises(UnknownEvent, match="unknown event type"):
        upcast({**V1_CREDIT, "type": "AccountOpened"})


def test_the_upcast_snapshots_agree_with_the_fold_of_the_upcast_events():
    # GIVEN a schema 1 history, upcast on the legacy terms
    items = [upcast(item, TERMS) for item in (V1_CREDIT, V1_DEBIT)]
    events = [
        (Credited if item["type"] == "CreditEvent" else Debited)(
            account_id=item["accountId"],
            version=int(item["version"]),
            event_id=item["eventId"],
            amount=Money.of(item["amount"]),
            recorded_at=datetime.fromisoformat(item["recordedAt"]),
            description=item["description"],
            currency=Currency(item["currency"]),
        )
        for item in items
    ]
    # WHEN folded on the same terms
    state = fold("alice", events, ZoneInfo("UTC"), TERMS)
    # THEN the state is what the last upcast snapshot says
    snapshot = items[-1]["snapshot"]
    assert str(state.balance) == snapshot["balance"]
    assert state.currency.code == snapshot["currency"]
    assert str(state.overdraft_limit) == snapshot["overdraftLimit"]
    assert state.status.value == snapshot["status"]
    assert sorted(state.owners) == snapshot["owners"]
    assert dict(state.metadata) == snapshot["metadata"]
