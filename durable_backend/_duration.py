"""Durations in whole seconds: the only unit the service accepts for waits, delays and timeouts.

``Duration`` keeps the official SDK's name and constructors so user code ports unchanged; every
API that takes a duration also accepts a ``timedelta`` or a plain ``int`` of seconds, normalised
by ``duration_seconds``.
"""

from __future__ import annotations

from datetime import timedelta

from attrs import field, frozen

from durable_backend._errors import ValidationError
from durable_backend._protocol import MAX_DURATION_SECONDS

"""366 days: the service's ceiling for waits, retry delays and execution lifetime."""


def _non_negative_int(_: object, attribute: object, value: object) -> None:
    if type(value) is not int:
        raise ValidationError(
            f"Duration seconds must be an int, got {type(value).__name__} {value!r}"
        )
    if value < 0:
        raise ValidationError(f"Duration seconds must be >= 0, got {value}")


@frozen
class Duration:
    """A span of whole seconds (``Duration()`` is zero, meaning "none" for timeouts)."""

    seconds: int = field(default=0, validator=_non_negative_int)

    def to_seconds(self) -> int:
        return self.seconds

    @classmethod
    def from_seconds(cls, value: float) -> Duration:
        """Fractions are truncated, as in the official SDK."""
        return cls(int(value))

    @classmethod
    def from_minutes(cls, value: float) -> Duration:
        return cls(int(value * 60))

    @classmethod
    def from_hours(cls, value: float) -> Duration:
        return cls(int(value * 3600))

    @classmethod
    def from_days(cls, value: float) -> Duration:
        return cls(int(value * 86400))


DurationLike = Duration | timedelta | int
"""What every duration parameter accepts."""


def duration_seconds(
    value: DurationLike,
    *,
    what: str,
    minimum: int = 1,
    maximum: int = MAX_DURATION_SECONDS,
) -> int:
    """Whole seconds of ``value``, checked against ``minimum..maximum``.

    A ``timedelta`` with a fractional second is rounded *up*: a wait or timeout never ends earlier
    than asked, and ``timedelta(milliseconds=1)`` becomes the service's 1 s minimum rather than 0.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, Duration):
        seconds = value.seconds
    elif isinstance(value, timedelta):
        seconds = value.days * 86400 + value.seconds + (1 if value.microseconds else 0)
    else:
        raise ValidationError(
            f"{what} must be a Duration, timedelta or int seconds, "
            f"got {type(value).__name__} {value!r}"
        )
    if seconds < minimum or seconds > maximum:
        raise ValidationError(
            f"{what} must be between {minimum} and {maximum} seconds, got {value!r}"
            + ("" if isinstance(value, int) else f" ({seconds} s)")
        )
    return seconds
