"""How long to wait before trying again: bounded attempts, full-jitter exponential backoff,
and the server's ``Retry-After`` when it gives one. *Whether* a request may be tried again
is not a setting: it is the API's contract (see `ledger_client._core.retryable`)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay: float = 0.1
    max_delay: float = 2.0
    # A Retry-After longer than this is not waited out: the error is raised instead.
    max_retry_after: float = 30.0
    # Polling the read side while waiting for a version (`wait_for`).
    poll_delay: float = 0.05
    max_poll_delay: float = 1.0
    random: Callable[[], float] = field(default=random.random, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.base_delay <= self.max_delay:
            raise ValueError("delays must satisfy 0 <= base_delay <= max_delay")

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """The pause after failed attempt number ``attempt`` (1-based): uniformly random up
        to an exponentially growing bound, so that clients that failed together do not
        retry together; on top of ``retry_after`` when the server asked for one."""
        bound = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return (retry_after or 0.0) + self.random() * bound

    def poll(self, attempt: int) -> float:
        """The pause before poll number ``attempt + 1`` of the read side."""
        return min(self.max_poll_delay, self.poll_delay * 2.0 ** (attempt - 1))
