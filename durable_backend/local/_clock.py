"""Clocks for the local backend: real time, or a manual one that tests and runners skip."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to, so waits and retries can be skipped in tests."""

    def __init__(self, start: datetime = datetime(2025, 1, 1, tzinfo=UTC)) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now: datetime = start

    def __call__(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"the clock only moves forward, got {seconds} seconds")
        self._now += timedelta(seconds=seconds)

    def advance_to(self, moment: datetime) -> None:
        """Jump to ``moment`` if it lies ahead; never moves back."""
        self._now = max(self._now, moment)


class SkippingClock(ManualClock):
    """Real time that a runner can still skip ahead: waits and retry delays pass at once,
    while the time an invocation really takes still shows in its history."""

    def __init__(self, start: datetime | None = None) -> None:
        super().__init__(start or datetime.now(UTC))
        self._origin = time.monotonic()

    def __call__(self) -> datetime:
        return self._now + timedelta(seconds=time.monotonic() - self._origin)

    def advance_to(self, moment: datetime) -> None:
        ahead = moment - self()
        if ahead > timedelta(0):
            self._now += ahead
