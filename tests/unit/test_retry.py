"""Retry strategies: official preset values, backoff, jitter bounds, filters, validation."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from durable_backend._duration import Duration
from durable_backend._errors import ValidationError
from durable_backend._retry import (
    JitterStrategy,
    LinearRetryStrategyConfig,
    RetryDecision,
    RetryPresets,
    RetryStrategy,
    RetryStrategyConfig,
    create_linear_retry_strategy,
    create_retry_strategy,
)


class FixedRandom(random.Random):
    """A Random whose draws are all ``value``: pins jitter to a known point."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


def delays(strategy: RetryStrategy, attempts: int) -> list[int | None]:
    """Delay per attempts_made = 1..attempts, None where the strategy gives up."""
    out: list[int | None] = []
    for n in range(1, attempts + 1):
        d = strategy(RuntimeError("boom"), n)
        out.append(d.delay_seconds if d.should_retry else None)
    return out


def test_decision_constructors() -> None:
    assert RetryDecision.retry(Duration(3)) == RetryDecision(True, Duration(3))
    assert RetryDecision.retry(4).delay_seconds == 4
    no = RetryDecision.no_retry()
    assert not no.should_retry
    assert no.delay_seconds == 0


# Expected values are the official presets (retries.py), written out by hand.
def test_unjittered_presets_match_official_values() -> None:
    assert delays(RetryPresets.none(), 2) == [None, None]
    assert delays(RetryPresets.critical(), 11) == [1, 2, 3, 4, 6, 8, 12, 18, 26, None, None]
    assert delays(RetryPresets.linear(), 7) == [1, 2, 3, 4, 5, None, None]
    assert delays(RetryPresets.fixed(), 6) == [5, 5, 5, 5, None, None]
    assert delays(RetryPresets.fixed(Duration.from_seconds(9)), 5) == [9, 9, 9, 9, None]
    assert delays(RetryPresets.fixed(2), 5) == [2, 2, 2, 2, None]


@pytest.mark.parametrize(
    ("preset", "max_attempts", "caps"),
    [
        # draw = 1.0 makes FULL and HALF jitter return the capped base delay itself.
        (RetryPresets.default, 6, [5, 10, 20, 40, 60]),
        (RetryPresets.transient, 3, [5, 10]),
        (RetryPresets.resource_availability, 5, [5, 10, 20, 40]),
    ],
)
def test_jittered_presets_bases_and_attempts(
    preset: Callable[..., RetryStrategy], max_attempts: int, caps: list[int]
) -> None:
    strategy = preset(rng=FixedRandom(1.0))
    assert delays(strategy, max_attempts + 1) == [*caps, None, None]


def test_half_jitter_stays_in_upper_half_full_in_whole_range() -> None:
    rng = random.Random(42)
    full = RetryPresets.default(rng=rng)  # FULL
    half = RetryPresets.transient(rng=rng)  # HALF
    seen_full: set[int] = set()
    for _ in range(500):
        d = full(ValueError(), 4).delay_seconds  # base 40
        assert 1 <= d <= 40
        seen_full.add(d)
        h = half(ValueError(), 2).delay_seconds  # base 10
        assert 5 <= h <= 10
    assert min(seen_full) <= 5 and max(seen_full) >= 35  # actually spread over the range


@given(
    base=st.floats(min_value=0, max_value=10_000, allow_nan=False),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
    jitter=st.sampled_from(list(JitterStrategy)),
)
def test_finalize_delay_bounds(base: float, draw: float, jitter: JitterStrategy) -> None:
    delay = jitter.finalize_delay(base, FixedRandom(draw))
    assert isinstance(delay, int)
    assert delay >= 1
    assert delay <= max(1, -(-base // 1))  # never above the rounded-up base
    if jitter is JitterStrategy.HALF:
        assert delay >= base / 2


def test_same_seed_same_delays() -> None:
    a = RetryPresets.default(rng=random.Random(7))
    b = RetryPresets.default(rng=random.Random(7))
    assert delays(a, 6) == delays(b, 6)


def test_backoff_growth_is_capped_without_overflow() -> None:
    strategy = create_retry_strategy(
        RetryStrategyConfig(
            max_attempts=10_000,
            initial_delay=1,
            max_delay=100,
            backoff_rate=10,
            jitter_strategy="NONE",
        )
    )
    assert strategy(ValueError(), 3).delay_seconds == 100
    assert strategy(ValueError(), 5_000).delay_seconds == 100


def test_linear_strategy_defaults_and_cap() -> None:
    strategy = create_linear_retry_strategy(
        LinearRetryStrategyConfig(
            initial_delay=2, increment=3, max_delay=9, jitter_strategy=JitterStrategy.NONE
        )
    )
    assert delays(strategy, 7) == [2, 5, 8, 9, 9, None, None]
    default = LinearRetryStrategyConfig()
    assert (default.max_attempts, default.initial_delay_seconds, default.increment_seconds) == (
        6,
        1,
        1,
    )
    assert default.max_delay_seconds == 300
    assert default.jitter_strategy is JitterStrategy.FULL


def test_exponential_config_defaults_are_official() -> None:
    c = RetryStrategyConfig()
    assert (c.max_attempts, c.initial_delay_seconds, c.max_delay_seconds) == (3, 5, 300)
    assert c.backoff_rate == 2.0
    assert c.jitter_strategy is JitterStrategy.FULL
    assert c.retryable_errors is None and c.retryable_error_types is None


class Throttled(Exception):
    pass


@pytest.mark.parametrize(
    ("config", "error", "retried"),
    [
        ({}, KeyError("anything"), True),
        ({"retryable_errors": ["timeout"]}, ValueError("read timeout"), True),
        ({"retryable_errors": ["timeout"]}, ValueError("refused"), False),
        ({"retryable_errors": [re.compile(r"^5\d\d")]}, ValueError("503 busy"), True),
        ({"retryable_errors": [re.compile(r"^5\d\d")]}, ValueError("got 503"), False),
        ({"retryable_error_types": [Throttled]}, Throttled("x"), True),
        ({"retryable_error_types": [Throttled]}, ValueError("timeout"), False),
        (
            {"retryable_errors": ["timeout"], "retryable_error_types": [Throttled]},
            Throttled(),
            True,
        ),
        (
            {"retryable_errors": ["timeout"], "retryable_error_types": [KeyError]},
            OSError("timeout"),
            True,
        ),
        ({"retryable_errors": []}, ValueError("x"), False),
    ],
)
def test_error_filters(config: dict[str, Any], error: Exception, retried: bool) -> None:
    for strategy in (
        create_retry_strategy(RetryStrategyConfig(**config)),
        create_linear_retry_strategy(LinearRetryStrategyConfig(**config)),
    ):
        assert strategy(error, 1).should_retry is retried


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be an int >= 1, got 0"),
        ({"max_attempts": 2.0}, "max_attempts must be an int >= 1"),
        ({"backoff_rate": 0}, "backoff_rate must be a number > 0, got 0"),
        ({"initial_delay": -1}, "delay must be between 0 and"),
        ({"jitter_strategy": "SOME"}, "jitter_strategy must be one of"),
        ({"retryable_errors": [42]}, "retryable_errors entries must be str or re.Pattern"),
        ({"retryable_error_types": [ValueError, "x"]}, "retryable_error_types entries"),
    ],
)
def test_config_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        RetryStrategyConfig(**kwargs)


def test_configs_accept_lists_and_are_frozen() -> None:
    c = RetryStrategyConfig(retryable_errors=["a"], retryable_error_types=[KeyError])
    assert c.retryable_errors == ("a",)
    assert c.retryable_error_types == (KeyError,)
    with pytest.raises(AttributeError):
        c.max_attempts = 9  # type: ignore[misc]


@pytest.mark.parametrize(
    "name", ["none", "default", "transient", "resource_availability", "critical", "linear", "fixed"]
)
@pytest.mark.parametrize("draw", [0.0, 0.37, 0.999])
def test_presets_agree_with_official_sdk(
    name: str, draw: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Differential check against the official SDK (installed with the testing extra)."""
    official_retries = pytest.importorskip("aws_durable_execution_sdk_python.retries")
    official_config = pytest.importorskip("aws_durable_execution_sdk_python.config")
    monkeypatch.setattr(official_config.random, "random", lambda: draw)
    theirs = getattr(official_retries.RetryPresets, name)()
    ours_factory = getattr(RetryPresets, name)
    try:
        ours = ours_factory(rng=FixedRandom(draw))
    except TypeError:  # unjittered presets take no rng
        ours = ours_factory()
    for attempts_made in range(1, 12):
        error = RuntimeError("boom")
        expected = theirs(error, attempts_made)
        got = ours(error, attempts_made)
        assert (got.should_retry, got.delay_seconds) == (
            expected.should_retry,
            expected.delay_seconds,
        ), (name, attempts_made)
