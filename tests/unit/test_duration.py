"""Duration and duration_seconds: official constructors, accepted inputs, range errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from durable_backend._duration import Duration, duration_seconds
from durable_backend._errors import ValidationError
from durable_backend._protocol import MAX_DURATION_SECONDS


def test_constructors_match_official_units() -> None:
    assert Duration().seconds == 0
    assert Duration.from_seconds(7).to_seconds() == 7
    assert Duration.from_minutes(2).seconds == 120
    assert Duration.from_hours(1.5).seconds == 5400
    assert Duration.from_days(2).seconds == 172_800
    assert Duration.from_seconds(2.9).seconds == 2  # truncates, as the official SDK does


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_duration_rejects_non_int_or_negative(bad: object) -> None:
    with pytest.raises(ValidationError, match="Duration seconds"):
        Duration(bad)  # type: ignore[arg-type]


def test_duration_is_frozen_and_hashable() -> None:
    d = Duration(3)
    assert {d: 1}[Duration(3)] == 1
    with pytest.raises(AttributeError):
        d.seconds = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, 5),
        (Duration(60), 60),
        (timedelta(minutes=2), 120),
        (timedelta(seconds=1, milliseconds=1), 2),
        (timedelta(milliseconds=1), 1),
        (timedelta(days=366), MAX_DURATION_SECONDS),
    ],
)
def test_accepted_values(value: Duration | timedelta | int, expected: int) -> None:
    assert duration_seconds(value, what="wait duration") == expected


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=366)))
def test_timedelta_rounds_up_to_whole_seconds(value: timedelta) -> None:
    seconds = duration_seconds(value, what="x", minimum=0)
    assert seconds - 1 < value.total_seconds() <= seconds


@pytest.mark.parametrize(
    "value", [0, -1, MAX_DURATION_SECONDS + 1, timedelta(0), Duration(0), timedelta(days=367)]
)
def test_out_of_range_names_what_value_and_range(value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        duration_seconds(value, what="wait duration")  # type: ignore[arg-type]
    message = str(caught.value)
    assert "wait duration" in message
    assert f"between 1 and {MAX_DURATION_SECONDS} seconds" in message
    assert repr(value) in message


@pytest.mark.parametrize("value", [1.5, "5", None, True])
def test_wrong_type_is_rejected(value: object) -> None:
    with pytest.raises(ValidationError, match="timeout must be a Duration, timedelta or int"):
        duration_seconds(value, what="timeout")  # type: ignore[arg-type]


def test_custom_bounds() -> None:
    assert duration_seconds(0, what="timeout", minimum=0) == 0
    with pytest.raises(ValidationError, match="between 0 and 10"):
        duration_seconds(11, what="timeout", minimum=0, maximum=10)
