"""Retry strategies: pure functions from (error, attempts made) to a ``RetryDecision``.

Names, defaults and presets follow the official SDK so a ``StepConfig(retry_strategy=...)`` ports
by changing imports. A strategy is called with the number of attempts made so far (1 after the
first failure) and must be deterministic apart from jitter; jitter draws from an injectable
``random.Random`` so tests can pin it.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterable
from enum import StrEnum

from attrs import field, frozen

from durable_backend._duration import Duration, DurationLike, duration_seconds
from durable_backend._errors import ValidationError, error_message

_RNG = random.Random()


class JitterStrategy(StrEnum):
    """Noise added to a backoff delay so many retries do not fire at the same instant.

    ``FULL`` draws from ``[0, delay]``, ``HALF`` from ``[delay/2, delay]``, ``NONE`` keeps it.
    """

    NONE = "NONE"
    FULL = "FULL"
    HALF = "HALF"

    def apply_jitter(self, delay: float, rng: random.Random | None = None) -> float:
        if self is JitterStrategy.NONE:
            return delay
        draw = (rng or _RNG).random()
        if self is JitterStrategy.HALF:
            return delay / 2 + draw * (delay / 2)
        return draw * delay

    def finalize_delay(self, base_delay: float, rng: random.Random | None = None) -> int:
        """Jittered delay rounded up to whole seconds, at least the service's 1 s minimum."""
        return max(1, math.ceil(self.apply_jitter(base_delay, rng)))


def _jitter(value: JitterStrategy | str) -> JitterStrategy:
    try:
        return JitterStrategy(value)
    except ValueError:
        raise ValidationError(
            f"jitter_strategy must be one of {[j.value for j in JitterStrategy]}, got {value!r}"
        ) from None


def _to_duration(value: DurationLike) -> Duration:
    if isinstance(value, Duration):
        return value
    return Duration(duration_seconds(value, what="delay", minimum=0))


@frozen
class RetryDecision:
    """Retry after ``delay``, or give up (``should_retry=False``)."""

    should_retry: bool
    delay: Duration = field(factory=Duration, converter=_to_duration)

    @property
    def delay_seconds(self) -> int:
        return self.delay.seconds

    @classmethod
    def retry(cls, delay: DurationLike) -> RetryDecision:
        return cls(True, _to_duration(delay))

    @classmethod
    def no_retry(cls) -> RetryDecision:
        return _NO_RETRY


_NO_RETRY = RetryDecision(False, Duration())

RetryStrategy = Callable[[Exception, int], RetryDecision]
"""``strategy(error, attempts_made)``; ``attempts_made`` is 1 after the first failure."""

ErrorPattern = str | re.Pattern[str]


def _positive_int(what: str) -> Callable[[object, object, object], None]:
    def check(_: object, __: object, value: object) -> None:
        if type(value) is not int or value < 1:
            raise ValidationError(f"{what} must be an int >= 1, got {value!r}")

    return check


def _positive_number(_: object, __: object, value: object) -> None:
    if type(value) not in (int, float) or not value > 0:  # type: ignore[operator]
        raise ValidationError(f"backoff_rate must be a number > 0, got {value!r}")


def _patterns(value: Iterable[object] | None) -> tuple[ErrorPattern, ...] | None:
    if value is None:
        return None
    patterns: list[ErrorPattern] = []
    for p in value:
        if not isinstance(p, str | re.Pattern):
            raise ValidationError(f"retryable_errors entries must be str or re.Pattern, got {p!r}")
        patterns.append(p)  # pyright: ignore[reportUnknownArgumentType]
    return tuple(patterns)


def _error_types(value: Iterable[object] | None) -> tuple[type[BaseException], ...] | None:
    if value is None:
        return None
    types: list[type[BaseException]] = []
    for t in value:
        if not (isinstance(t, type) and issubclass(t, BaseException)):
            raise ValidationError(
                f"retryable_error_types entries must be exception classes, got {t!r}"
            )
        types.append(t)
    return tuple(types)


@frozen
class RetryStrategyConfig:
    """Exponential backoff: ``initial_delay * backoff_rate ** (attempts_made - 1)``, capped.

    With neither ``retryable_errors`` (substrings or regexes searched in ``str(error)``) nor
    ``retryable_error_types`` set, every error is retryable; once either is set, an error must
    match one of them.
    """

    max_attempts: int = field(default=3, validator=_positive_int("max_attempts"))
    initial_delay: Duration = field(default=Duration(5), converter=_to_duration)
    max_delay: Duration = field(default=Duration(300), converter=_to_duration)
    backoff_rate: float = field(default=2.0, validator=_positive_number)
    jitter_strategy: JitterStrategy = field(default=JitterStrategy.FULL, converter=_jitter)
    retryable_errors: tuple[ErrorPattern, ...] | None = field(default=None, converter=_patterns)
    retryable_error_types: tuple[type[BaseException], ...] | None = field(
        default=None, converter=_error_types
    )

    @property
    def initial_delay_seconds(self) -> int:
        return self.initial_delay.seconds

    @property
    def max_delay_seconds(self) -> int:
        return self.max_delay.seconds


@frozen
class LinearRetryStrategyConfig:
    """Linear backoff: ``initial_delay + increment * (attempts_made - 1)``, capped."""

    max_attempts: int = field(default=6, validator=_positive_int("max_attempts"))
    initial_delay: Duration = field(default=Duration(1), converter=_to_duration)
    increment: Duration = field(default=Duration(1), converter=_to_duration)
    max_delay: Duration = field(default=Duration(300), converter=_to_duration)
    jitter_strategy: JitterStrategy = field(default=JitterStrategy.FULL, converter=_jitter)
    retryable_errors: tuple[ErrorPattern, ...] | None = field(default=None, converter=_patterns)
    retryable_error_types: tuple[type[BaseException], ...] | None = field(
        default=None, converter=_error_types
    )

    @property
    def initial_delay_seconds(self) -> int:
        return self.initial_delay.seconds

    @property
    def increment_seconds(self) -> int:
        return self.increment.seconds

    @property
    def max_delay_seconds(self) -> int:
        return self.max_delay.seconds


def _error_filter(
    messages: tuple[ErrorPattern, ...] | None,
    types: tuple[type[BaseException], ...] | None,
) -> Callable[[BaseException], bool] | None:
    """A predicate for retryable errors, or None when every error is retryable."""
    if messages is None and types is None:
        return None
    substrings = tuple(p for p in messages or () if isinstance(p, str))
    regexes = tuple(p for p in messages or () if isinstance(p, re.Pattern))
    classes = types or ()

    def matches(error: BaseException) -> bool:
        if classes and isinstance(error, classes):
            return True
        if not substrings and not regexes:
            return False
        text = error_message(error)
        return any(s in text for s in substrings) or any(r.search(text) for r in regexes)

    return matches


def _strategy(
    max_attempts: int,
    base_delay: Callable[[int], float],
    jitter: JitterStrategy,
    retryable: Callable[[BaseException], bool] | None,
    rng: random.Random | None,
) -> RetryStrategy:
    def strategy(error: Exception, attempts_made: int) -> RetryDecision:
        if attempts_made >= max_attempts:
            return _NO_RETRY
        if retryable is not None and not retryable(error):
            return _NO_RETRY
        return RetryDecision(True, Duration(jitter.finalize_delay(base_delay(attempts_made), rng)))

    return strategy


def create_retry_strategy(
    config: RetryStrategyConfig | None = None, *, rng: random.Random | None = None
) -> RetryStrategy:
    """An exponential-backoff ``RetryStrategy`` (official defaults: 3 attempts, 5 s .. 5 min)."""
    c = config or RetryStrategyConfig()
    initial, cap, rate = c.initial_delay.seconds, c.max_delay.seconds, c.backoff_rate

    def base_delay(attempts_made: int) -> float:
        exponent = attempts_made - 1
        # Past the cap the power only grows; stop before it overflows a float.
        if rate > 1 and exponent > 64:
            return cap
        return min(initial * rate**exponent, cap)

    return _strategy(
        c.max_attempts,
        base_delay,
        c.jitter_strategy,
        _error_filter(c.retryable_errors, c.retryable_error_types),
        rng,
    )


def create_linear_retry_strategy(
    config: LinearRetryStrategyConfig | None = None, *, rng: random.Random | None = None
) -> RetryStrategy:
    """A linear-backoff ``RetryStrategy`` (official defaults: 6 attempts, 1 s + 1 s each)."""
    c = config or LinearRetryStrategyConfig()
    initial, step, cap = c.initial_delay.seconds, c.increment.seconds, c.max_delay.seconds
    return _strategy(
        c.max_attempts,
        lambda attempts_made: min(initial + step * (attempts_made - 1), cap),
        c.jitter_strategy,
        _error_filter(c.retryable_errors, c.retryable_error_types),
        rng,
    )


class RetryPresets:
    """The official SDK's ready-made strategies, with the same parameters.

    ``default()`` is what a step uses when its config names no strategy.
    """

    @classmethod
    def none(cls) -> RetryStrategy:
        return create_retry_strategy(RetryStrategyConfig(max_attempts=1))

    @classmethod
    def default(cls, *, rng: random.Random | None = None) -> RetryStrategy:
        """6 attempts, 5 s doubling to at most 60 s, full jitter."""
        return create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=6,
                initial_delay=Duration(5),
                max_delay=Duration(60),
                backoff_rate=2,
                jitter_strategy=JitterStrategy.FULL,
            ),
            rng=rng,
        )

    @classmethod
    def transient(cls, *, rng: random.Random | None = None) -> RetryStrategy:
        """3 attempts, 5 s doubling to at most 5 min, half jitter."""
        return create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=3, backoff_rate=2, jitter_strategy=JitterStrategy.HALF
            ),
            rng=rng,
        )

    @classmethod
    def resource_availability(cls, *, rng: random.Random | None = None) -> RetryStrategy:
        """5 attempts, 5 s doubling to at most 5 min, full jitter."""
        return create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=5, initial_delay=Duration(5), max_delay=Duration(300), backoff_rate=2
            ),
            rng=rng,
        )

    @classmethod
    def critical(cls) -> RetryStrategy:
        """10 attempts, 1 s growing 1.5x to at most 60 s, no jitter."""
        return create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=10,
                initial_delay=Duration(1),
                max_delay=Duration(60),
                backoff_rate=1.5,
                jitter_strategy=JitterStrategy.NONE,
            )
        )

    @classmethod
    def linear(cls) -> RetryStrategy:
        """6 attempts, delays 1 s, 2 s, 3 s, 4 s, 5 s, no jitter."""
        return create_linear_retry_strategy(
            LinearRetryStrategyConfig(
                max_attempts=6,
                initial_delay=Duration(1),
                increment=Duration(1),
                jitter_strategy=JitterStrategy.NONE,
            )
        )

    @classmethod
    def fixed(cls, interval: DurationLike | None = None) -> RetryStrategy:
        """5 attempts, a constant ``interval`` (default 5 s) between them, no jitter."""
        delay = Duration(5) if interval is None else _to_duration(interval)
        return create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=5,
                initial_delay=delay,
                max_delay=delay,
                backoff_rate=1,
                jitter_strategy=JitterStrategy.NONE,
            )
        )


__all__ = [
    "JitterStrategy",
    "LinearRetryStrategyConfig",
    "RetryDecision",
    "RetryPresets",
    "RetryStrategy",
    "RetryStrategyConfig",
    "create_linear_retry_strategy",
    "create_retry_strategy",
]
