"""The one cattrs converter: every object to and from its JSON form.

The JSON form is what is stored in DynamoDB, published on the bus and returned over
HTTP: camelCase keys, money as a string with exactly two decimals, times as ISO 8601
in UTC. Event type names come from `TYPE_NAMES`, never from Python class names.

The hooks of the domain's types are registered here (the domain knows no cattrs);
an application type registers its own next to it (`application.envelope`,
`application.replay`), on this converter and with `register_camel_case`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
from cattrs import Converter
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from banking.application.ports import Cursor, Generations
from banking.domain.account import Account
from banking.domain.errors import UnknownEvent
from banking.domain.events import SCHEMA_VERSION, TYPE_NAMES, TYPES_BY_NAME, Event
from banking.domain.money import Money
from banking.domain.read_models import (
    Aggregate,
    CurrentMonthBalance,
    MonthlyStatement,
    ReadModel,
    StateCarriedEvent,
    TotalBalance,
)

converter = Converter()
converter.register_unstructure_hook(Money, str)
converter.register_structure_hook(Money, lambda value, _: Money.of(str(value)))
converter.register_unstructure_hook(datetime, lambda moment: format_time(moment))
converter.register_structure_hook(datetime, lambda value, _: parse_time(value))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def register_camel_case(cls: type[Any], **overrides: Any) -> None:
    """Register `cls` as a JSON object of its fields in camelCase; `overrides` rename
    or omit some fields (cattrs' `override`)."""
    renames: dict[str, Any] = {
        field.name: override(rename=_camel(field.name)) for field in attrs.fields(cls)
    }
    renames.update(overrides)
    converter.register_unstructure_hook(cls, make_dict_unstructure_fn(cls, converter, **renames))
    converter.register_structure_hook(cls, make_dict_structure_fn(cls, converter, **renames))


for _cls in (*TYPE_NAMES, Aggregate, StateCarriedEvent):
    register_camel_case(_cls)

register_camel_case(Cursor)

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

# The snapshot stored with each event: the account state after it, without what the
# event itself says (its account, its version, its time).
register_camel_case(Account, last_recorded_at=override(omit=True))
_SNAPSHOT_FIELDS: dict[str, Any] = {
    field.name: override(
        omit=field.name in ("account_id", "version", "last_recorded_at"),
        rename=_camel(field.name),
    )
    for field in attrs.fields(Account)
}
_snapshot_of = make_dict_unstructure_fn(Account, converter, **_SNAPSHOT_FIELDS)


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


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild a stored event; an unknown type or schema version is an error, never
    silently skipped."""
    type_name = data.get("type")
    schema_version = data.get("schemaVersion")
    event_type = TYPES_BY_NAME.get(str(type_name))
    if event_type is None:
        raise UnknownEvent(f"unknown event type {type_name!r}")
    if schema_version is None or int(schema_version) != SCHEMA_VERSION:
        raise UnknownEvent(f"unknown schema version {schema_version!r} of {type_name}")
    fields = {_camel(field.name) for field in attrs.fields(event_type)}
    body = {key: value for key, value in data.items() if key in fields}
    body["version"] = int(body["version"])
    event: Event = converter.structure(body, event_type)
    return event


def snapshot_of(state: Account) -> dict[str, Any]:
    """The aggregate after an event, stored with it so loading an account costs one read."""
    snapshot: dict[str, Any] = _snapshot_of(state)
    return snapshot


def account_from_snapshot(event: Event, snapshot: dict[str, Any]) -> Account:
    fields = {**snapshot, "accountId": event.account_id, "version": event.version}
    state = converter.structure(fields, Account)
    return attrs.evolve(state, last_recorded_at=event.recorded_at)


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
