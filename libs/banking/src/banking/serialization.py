"""The one cattrs converter: domain objects to and from their JSON form.

The JSON form is what is stored in DynamoDB, published on the bus and returned over
HTTP: camelCase keys, money as a string with exactly two decimals, times as ISO 8601
in UTC. Event type names come from `TYPE_NAMES`, never from Python class names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
from cattrs import Converter
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from banking.domain.account import Account
from banking.domain.errors import UnknownEvent
from banking.domain.events import SCHEMA_VERSION, TYPE_NAMES, TYPES_BY_NAME, Event
from banking.domain.money import Money
from banking.domain.read_models import Aggregate, StateCarriedEvent

converter = Converter()
converter.register_unstructure_hook(Money, str)
converter.register_structure_hook(Money, lambda value, _: Money.of(str(value)))
converter.register_unstructure_hook(datetime, lambda moment: format_time(moment))
converter.register_structure_hook(datetime, lambda value, _: parse_time(value))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _register_camel_case(cls: type[Any]) -> None:
    renames: dict[str, Any] = {
        field.name: override(rename=_camel(field.name)) for field in attrs.fields(cls)
    }
    converter.register_unstructure_hook(cls, make_dict_unstructure_fn(cls, converter, **renames))
    converter.register_structure_hook(cls, make_dict_structure_fn(cls, converter, **renames))


for _cls in (*TYPE_NAMES, Aggregate, StateCarriedEvent):
    _register_camel_case(_cls)


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
    return {
        "balance": str(state.balance),
        "month": state.month,
        "monthCredits": str(state.month_credits),
        "monthDebits": str(state.month_debits),
        "monthEventCount": state.month_event_count,
    }


def account_from_snapshot(event: Event, snapshot: dict[str, Any]) -> Account:
    return Account(
        account_id=event.account_id,
        version=event.version,
        balance=Money.of(str(snapshot["balance"])),
        month=str(snapshot["month"]),
        month_credits=Money.of(str(snapshot["monthCredits"])),
        month_debits=Money.of(str(snapshot["monthDebits"])),
        month_event_count=int(snapshot["monthEventCount"]),
        last_recorded_at=event.recorded_at,
    )


def state_carried_to_dict(event: StateCarriedEvent) -> dict[str, Any]:
    data: dict[str, Any] = converter.unstructure(event)
    return data


def state_carried_from_dict(data: dict[str, Any]) -> StateCarriedEvent:
    if data.get("type") not in TYPES_BY_NAME:
        raise UnknownEvent(f"unknown event type {data.get('type')!r}")
    event: StateCarriedEvent = converter.structure(data, StateCarriedEvent)
    return event
