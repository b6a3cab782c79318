"""An account's past: the state it stood at at any moment, and its events between two
moments, each found through the snapshot every stored event carries, in a bounded
number of reads however long the history."""

from __future__ import annotations

from datetime import datetime
from itertools import takewhile

from banking.application.ports import Clock, EventStore
from banking.application.queries import EventPage
from banking.domain.account import Account
from banking.domain.errors import AccountNotFound, InvalidRequest
from banking.serialization import format_time


def state_at(account_id: str, moment: datetime, store: EventStore, *, clock: Clock) -> Account:
    """The account as it stood at `moment`: the state stored with its last event
    recorded at or before it. Before its first event the account did not exist
    (AccountNotFound). A future moment is refused: events still to come could change
    the answer, and a past balance is an answer that never changes."""
    if moment > clock():
        raise InvalidRequest(f"'at' {format_time(moment)} is in the future")
    found = store.last_at(account_id, moment)
    if found is None:
        raise AccountNotFound(
            f"account {account_id} did not exist yet at {format_time(moment)}",
        )
    return found.state


def history_between(
    account_id: str,
    store: EventStore,
    *,
    start: datetime | None,
    end: datetime | None,
    after: int,
    limit: int,
) -> EventPage:
    """The events recorded from `start` (inclusive) to `end` (exclusive), either bound
    open when None, in pages of `limit` after version `after` (the page's `next_after`)."""
    if start is not None and end is not None and start > end:
        raise InvalidRequest("'from' is after 'to'")
    # The first page finds where the range starts; the pages after it resume from
    # their cursor, which is inside it (unless a client made one up: then it is found
    # too).
    floor = _floor(account_id, store, start) if start is not None and after == 0 else 0
    # One more than the page tells whether another page follows.
    events = list(store.events(account_id, after=max(after, floor), limit=limit + 1))
    if start is not None and events and events[0].recorded_at < start:
        floor = _floor(account_id, store, start)
        events = list(store.events(account_id, after=max(after, floor), limit=limit + 1))
    if end is not None:
        # Recorded times never go backwards within an account: the first event at or
        # after `end` ends the range.
        events = list(takewhile(lambda event: event.recorded_at < end, events))
    page, more = events[:limit], len(events) > limit
    return EventPage(account_id, page, page[-1].version if more else None)


def _floor(account_id: str, store: EventStore, start: datetime) -> int:
    """The version of the last event before `start` (0: none)."""
    before = store.last_at(account_id, start, inclusive=False)
    return before.event.version if before is not None else 0
