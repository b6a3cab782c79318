"""The one cattrs converter: every object to and from its JSON form.

The JSON form is what is stored in DynamoDB, published on the bus and returned over
HTTP: camelCase keys, money as a string with exactly its currency's decimals, a
currency as its ISO 4217 code, times as ISO 8601 in UTC, owners as a sorted list.
Event type names come from `TYPE_NAMES`, never from Python class names. Every stored
item passes through the upcaster (`domain.upcasting`) before it is read, so histories
of every schema version read as the current one.

The hooks of the domain's types are registered here (the domain knows no cattrs);
an application type registers its own next to it (`application.envelope`,
`application.replay`), on this converter and with `register_camel_case`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

import attrs
from cattrs import Converter
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from banking.application.ports import (
    Cursor,
    Generations,
    HoldRecord,
    Leg,
    ReversalMarker,
    TransferPosting,
    TransferRecord,
)
from banking.domain.account import LEGACY_TERMS, Account, LegacyTerms, PendingHold
from banking.domain.currency import Currency
from banking.domain.errors import UnknownEvent
from banking.domain.events import SCHEMA_VERSION, TYPE_NAMES, TYPES_BY_NAME, Event, EventRef
from banking.domain.money import Money
from banking.domain.read_models import (
    AccountSettings,
    AccountSummary,
    Aggregate,
    CurrentMonthBalance,
    MonthlyStatement,
    ReadModel,
    StateCarriedEvent,
    TotalBalance,
)
from banking.domain.upcasting import upcast

converter = Converter()
converter.register_unstructure_hook(Money, str)
converter.register_structure_hook(Money, lambda value, _: _money(value))
converter.register_unstructure_hook(Currency, lambda currency: currency.code)
converter.register_structure_hook(Currency, lambda value, _: Currency(str(value)))
# Owners are a set; JSON and DynamoDB lists keep it readable (a DynamoDB string set
# cannot be empty and reads back as a Python set, never as the JSON the bus carries).
converter.register_unstructure_hook_func(
    lambda kind: kind == frozenset[str], lambda owners: sorted(owners)
)
converter.register_unstructure_hook_func(
    lambda kind: kind == Mapping[str, str], lambda metadata: dict(metadata)
)
converter.register_unstructure_hook(datetime, lambda moment: format_time(moment))
converter.register_structure_hook(datetime, lambda value, _: parse_time(value))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def register_camel_case(cls: type[Any], **overrides: Any) -> None:
    """Register `cls` as a JSON object of its fields in camelCase; `overrides` rename
    or omit some fields (cattrs' `override`).

    The hooks are generated on the class's first use, not here: generating them (cattrs
    compiles Python source per class) was most of a function's import of this module,
    and a function uses a few of the classes registered (docs/benchmarks.md, session 5).
    Each is generated once and kept here: cattrs forgets the hooks factories gave it
    whenever it registers one of its own (it does, generating a hook for a mapping).
    """

    def renames() -> dict[str, Any]:
        fields: dict[str, Any] = {
            field.name: override(rename=_camel(field.name)) for field in attrs.fields(cls)
        }
        fields.update(overrides)
        return fields

    def is_cls(kind: Any) -> bool:
        return kind is cls

    @cache
    def unstructure_hook(_: Any) -> Callable[[Any], dict[str, Any]]:
        return make_dict_unstructure_fn(cls, converter, **renames())

    @cache
    def structure_hook(_: Any) -> Callable[[Mapping[str, Any], Any], Any]:
        return make_dict_structure_fn(cls, converter, **renames())

    converter.register_unstructure_hook_factory(is_cls, unstructure_hook)
    converter.register_structure_hook_factory(is_cls, structure_hook)


register_camel_case(EventRef)
# Nothing held: the aggregate is what it was before holds.
register_camel_case(Aggregate, held_balance=override(rename="heldBalance", omit_if_default=True))
for _cls in (*TYPE_NAMES, AccountSettings, StateCarriedEvent):
    register_camel_case(_cls)

register_camel_case(Cursor)
register_camel_case(PendingHold)

# A transfer as the transfers table holds it and GET /transfers/{id} answers it.
register_camel_case(
    TransferPosting, from_account=override(rename="from"), to_account=override(rename="to")
)
register_camel_case(Leg)
register_camel_case(ReversalMarker)


def _as_list(items: Any) -> list[Any]:
    # DynamoDB's serializer and JSON know lists, not tuples.
    return [converter.unstructure(item) for item in items]


register_camel_case(
    TransferRecord,
    postings=override(unstruct_hook=_as_list),
    legs=override(unstruct_hook=_as_list),
)

# A hold as the holds table holds it (GET /holds/{id} answers it).
register_camel_case(HoldRecord)

# A generation pointer in the projections table. Its switch time has always been
# stored as `isoformat()` in UTC ("+00:00", not "Z"), so it stays that way.
register_camel_case(
    Generations,
    previous_until=override(
        rename="previousUntil",
        unstruct_hook=lambda moment: moment.astimezone(UTC).isoformat() if moment else None,
    ),
)

# A read model in the projections table: its fields, and its version under the name
# the write condition guards (`lastKnownVersion`).
for _read_model in (TotalBalance, CurrentMonthBalance, MonthlyStatement):
    register_camel_case(_read_model, version=override(rename="lastKnownVersion"))
# In the owner's partition, whose key attribute is `accountId`: the account is `account`.
register_camel_case(
    AccountSummary,
    account_id=override(rename="account"),
    version=override(rename="lastKnownVersion"),
)

# The snapshot stored with each event: the account state after it, without what the
# event itself says (its account, its version, its time).
register_camel_case(Account, last_recorded_at=override(omit=True))


@cache
def _snapshot_hook() -> Callable[[Account], dict[str, Any]]:
    # Built on first use, like the hooks above.
    fields: dict[str, Any] = {
        field.name: override(
            omit=field.name in ("account_id", "version", "last_recorded_at"),
            rename=_camel(field.name),
            # No pending hold: the snapshot is what it was before holds.
            omit_if_default=field.name == "holds",
        )
        for field in attrs.fields(Account)
    }
    return make_dict_unstructure_fn(Account, converter, **fields)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"time {value!r} has no time zone")
    return moment.astimezone(UTC)


def event_to_dict(event: Event) -> dict[str, Any]:
    body: dict[str, Any] = converter.unstructure(event)
    return {"type": TYPE_NAMES[type(event)], "schemaVersion": SCHEMA_VERSION, **body}


def event_from_dict(data: Mapping[str, Any], legacy: LegacyTerms = LEGACY_TERMS) -> Event:
    """Rebuild a stored event of any schema version (upcast first, on `legacy` terms);
    an unknown type or schema version is an error, never silently skipped."""
    data = upcast(data, legacy)
    type_name = data.get("type")
    event_type = TYPES_BY_NAME.get(str(type_name))
    if event_type is None:
        raise UnknownEvent(f"unknown event type {type_name!r}")
    fields = {_camel(field.name) for field in attrs.fields(event_type)}
    body = {key: value for key, value in data.items() if key in fields}
    body["version"] = int(body["version"])
    event: Event = converter.structure(_in_currency(event_type, body), event_type)
    return event


def snapshot_of(state: Account) -> dict[str, Any]:
    """The aggregate after an event, stored with it so loading an account costs one read."""
    snapshot: dict[str, Any] = _snapshot_hook()(state)
    return snapshot


def account_from_snapshot(event: Event, snapshot: Mapping[str, Any]) -> Account:
    """The account after `event` from the (upcast) snapshot stored with it."""
    fields = {**snapshot, "accountId": event.account_id, "version": event.version}
    state = converter.structure(_in_currency(Account, fields), Account)
    return attrs.evolve(state, last_recorded_at=event.recorded_at)


def _money(value: Any) -> Money:
    """An amount whose currency is not at hand: it was written with exactly its
    currency's decimals (`str(Money)`), so those are its digits."""
    if isinstance(value, Money):
        return value
    text = str(value)
    _, _, fraction = text.partition(".")
    return Money.of(text, len(fraction))


def _in_currency(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    """`data` with its amounts read in the digits of its own currency, when it names
    one: "100" of yen is 100 units, and "1.5" of dinars may not pass for 1.500."""
    code = data.get("currency")
    if code is None:
        return data
    digits = Currency(str(code)).digits
    return {
        key: Money.of(str(value), digits)
        if key in _money_fields(cls) and value is not None
        else value
        for key, value in data.items()
    }


def _money_fields(cls: type[Any]) -> frozenset[str]:
    found = _MONEY_FIELDS.get(cls)
    if found is None:
        hints = attrs.resolve_types(cls)
        found = frozenset(
            _camel(field.name)
            for field in attrs.fields(hints)
            if field.type in (Money, Money | None)
        )
        _MONEY_FIELDS[cls] = found
    return found


_MONEY_FIELDS: dict[type[Any], frozenset[str]] = {}


def read_model_to_item(model: ReadModel) -> dict[str, Any]:
    """A read model as the projections table holds it (without its key)."""
    item: dict[str, Any] = converter.unstructure(model)
    return item


def read_model_from_item(item: dict[str, Any], model_type: type[ReadModel]) -> ReadModel:
    # Only the model's own fields: an item also holds its key attributes.
    model: ReadModel = converter.structure(item, model_type)
    return model


def state_carried_to_dict(event: StateCarriedEvent) -> dict[str, Any]:
    data: dict[str, Any] = converter.unstructure(event)
    return data


def state_carried_from_dict(data: dict[str, Any]) -> StateCarriedEvent:
    if data.get("type") not in TYPES_BY_NAME:
        raise UnknownEvent(f"unknown event type {data.get('type')!r}")
    event: StateCarriedEvent = converter.structure(data, StateCarriedEvent)
    return event
