"""Operation configs: frozen, validated on construction, named and defaulted as in the official SDK.

Every duration option accepts a ``Duration``, a ``timedelta`` or int seconds and is stored as a
``Duration``. Invalid values raise ``ValidationError`` naming the option and the value, before
anything is checkpointed.
"""

from __future__ import annotations

import math
import random
import string
from collections.abc import Callable
from datetime import timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic

from attrs import field, frozen
from typing_extensions import TypeVar

from durable_backend._duration import Duration, DurationLike, duration_seconds
from durable_backend._errors import ValidationError, WaitForConditionError
from durable_backend._retry import JitterStrategy, RetryStrategy

if TYPE_CHECKING:
    from durable_backend._serdes import JsonValue, SerDes

T = TypeVar("T")
P = TypeVar("P")
R = TypeVar("R")
# What a callback or an invoke returns when no serdes says otherwise: the raw string the
# external system sent, and the invoked function's JSON result.
CallbackResultT = TypeVar("CallbackResultT", default=str)
InvokeResultT = TypeVar("InvokeResultT", default="JsonValue")
E = TypeVar("E", bound=Enum)

SummaryGenerator = Callable[[Any], str]
"""``summary_generator(result) -> str``: the payload checkpointed instead of an oversized result."""


class StepSemantics(Enum):
    """How often one attempt of a step may run its body (protocol.md §4, "Steps")."""

    AT_MOST_ONCE_PER_RETRY = "AT_MOST_ONCE_PER_RETRY"
    AT_LEAST_ONCE_PER_RETRY = "AT_LEAST_ONCE_PER_RETRY"


class BatchItemStatus(Enum):
    """Where one map item or parallel branch stands."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STARTED = "STARTED"
    """Started but unfinished when the batch completed early."""


class NestingType(Enum):
    """Whether each map item / parallel branch gets its own checkpointed CONTEXT (``NESTED``)
    or runs in a virtual context that writes none (``FLAT``: fewer operations, less history).
    """

    NESTED = "NESTED"
    FLAT = "FLAT"


# --- validators -------------------------------------------------------------------------------

_SUB_TYPE_CHARS = frozenset(string.ascii_letters + string.digits + "-_")


def _sub_type(_: Any, __: Any, value: Any) -> None:
    """None or "" selects the SDK's default subtype; anything else must be a legal SubType."""
    if value and (len(value) > 32 or not set(value) <= _SUB_TYPE_CHARS):
        raise ValidationError(
            f"sub_type must be 1 to 32 characters from A-Z, a-z, 0-9, '-' and '_', got {value!r}"
        )


def _callable(what: str, *, optional: bool = True) -> Callable[[Any, Any, Any], None]:
    def check(_: Any, __: Any, value: Any) -> None:
        if not callable(value) and not (optional and value is None):
            expected = "callable or None" if optional else "callable"
            raise ValidationError(f"{what} must be {expected}, got {value!r}")

    return check


def _bool(what: str) -> Callable[[Any, Any, Any], None]:
    def check(_: Any, __: Any, value: Any) -> None:
        if type(value) is not bool:
            raise ValidationError(f"{what} must be True or False, got {value!r}")

    return check


def _optional_int(what: str, minimum: int) -> Callable[[Any, Any, Any], None]:
    def check(_: Any, __: Any, value: Any) -> None:
        if value is not None and (type(value) is not int or value < minimum):
            raise ValidationError(f"{what} must be None or an int >= {minimum}, got {value!r}")

    return check


def _positive_int(what: str) -> Callable[[Any, Any, Any], None]:
    def check(_: Any, __: Any, value: Any) -> None:
        if type(value) is not int or value < 1:
            raise ValidationError(f"{what} must be an int >= 1, got {value!r}")

    return check


def _positive_number(what: str) -> Callable[[Any, Any, Any], None]:
    def check(_: Any, __: Any, value: Any) -> None:
        if type(value) not in (int, float) or not value > 0:
            raise ValidationError(f"{what} must be a number > 0, got {value!r}")

    return check


def _serdes(_: Any, attribute: Any, value: Any) -> None:
    if value is not None and not (
        callable(getattr(value, "serialize", None))
        and callable(getattr(value, "deserialize", None))
    ):
        raise ValidationError(
            f"{attribute.name} must be a SerDes (with serialize and deserialize methods) or None, "
            f"got {value!r}"
        )


def _percentage(_: Any, __: Any, value: Any) -> None:
    if value is not None and (type(value) not in (int, float) or not 0 <= value <= 100):
        raise ValidationError(
            f"tolerated_failure_percentage must be None or a number from 0 to 100, got {value!r}"
        )


def _enum(enum: type[E], value: E | str, what: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ValidationError(f"{what} must be one of {allowed}, got {value!r}") from None


def _step_semantics(value: StepSemantics | str) -> StepSemantics:
    return _enum(StepSemantics, value, "step_semantics")


def _nesting_type(value: NestingType | str) -> NestingType:
    return _enum(NestingType, value, "nesting_type")


def _jitter_strategy(value: JitterStrategy | str) -> JitterStrategy:
    return _enum(JitterStrategy, value, "jitter_strategy")


def _timeout(value: DurationLike) -> Duration:
    return Duration(duration_seconds(value, what="timeout", minimum=0))


def _step_timeout(value: DurationLike | float | None) -> float | None:
    """Seconds per attempt: a Duration, timedelta or number of seconds (fractions allowed)."""
    if value is None:
        return None
    if isinstance(value, Duration):
        seconds: float = value.seconds
    elif isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise ValidationError(
            f"timeout must be a Duration, timedelta or seconds (int or float), "
            f"got {type(value).__name__} {value!r}"
        )
    if not 0 < seconds < math.inf:
        raise ValidationError(f"timeout must be a positive number of seconds, got {value!r}")
    return seconds


def _heartbeat_timeout(value: DurationLike) -> Duration:
    return Duration(duration_seconds(value, what="heartbeat_timeout", minimum=0))


def _initial_delay(value: DurationLike) -> Duration:
    return Duration(duration_seconds(value, what="initial_delay"))


def _max_delay(value: DurationLike) -> Duration:
    return Duration(duration_seconds(value, what="max_delay"))


# --- steps, callbacks, invokes, child contexts ------------------------------------------------


@frozen
class StepConfig:
    """``retry_strategy=None`` means ``RetryPresets.default()``; ``serdes=None`` means JSON.

    ``sub_type`` (keyword-only) relabels the step in history; changing it breaks replay of
    executions in flight.

    ``timeout`` (keyword-only; seconds, timedelta or Duration) bounds each attempt: one that
    runs longer fails with ``StepTimeoutError``, which goes through the retry strategy. An
    ``async def`` body is cancelled; a plain body cannot be stopped from outside, so it is
    abandoned on its thread and its result ignored (make it idempotent, or give its I/O a
    timeout of its own).
    """

    retry_strategy: RetryStrategy | None = field(
        default=None, validator=_callable("retry_strategy")
    )
    step_semantics: StepSemantics = field(
        default=StepSemantics.AT_LEAST_ONCE_PER_RETRY,
        converter=_step_semantics,
    )
    serdes: SerDes[Any] | None = field(default=None, validator=_serdes)
    sub_type: str | None = field(default=None, kw_only=True, validator=_sub_type)
    timeout: float | None = field(default=None, kw_only=True, converter=_step_timeout)


@frozen
class CallbackConfig(Generic[CallbackResultT]):
    """``timeout`` / ``heartbeat_timeout`` of 0 (the default) mean none.

    ``serdes=None`` returns the raw string the external system sent, as the official SDK does.
    """

    timeout: Duration = field(factory=Duration, converter=_timeout)
    heartbeat_timeout: Duration = field(factory=Duration, converter=_heartbeat_timeout)
    serdes: SerDes[CallbackResultT] | None = field(default=None, validator=_serdes)
    sub_type: str | None = field(default=None, kw_only=True, validator=_sub_type)

    @property
    def timeout_seconds(self) -> int:
        return self.timeout.seconds

    @property
    def heartbeat_timeout_seconds(self) -> int:
        return self.heartbeat_timeout.seconds


@frozen
class WaitForCallbackConfig(CallbackConfig[CallbackResultT]):
    """A ``CallbackConfig`` plus the retry strategy of the submitter step."""

    retry_strategy: RetryStrategy | None = field(
        default=None, validator=_callable("retry_strategy")
    )


@frozen
class InvokeConfig(Generic[P, InvokeResultT]):
    """Serdes for the payload sent and the result received (JSON when None), and the tenant."""

    serdes_payload: SerDes[P] | None = field(default=None, validator=_serdes)
    serdes_result: SerDes[InvokeResultT] | None = field(default=None, validator=_serdes)
    tenant_id: str | None = None


@frozen
class ChildConfig(Generic[T]):
    """``summary_generator(result)`` is checkpointed instead of a result over 256 KiB.

    ``is_virtual=True`` writes no CONTEXT for the child (no START, SUCCEED or FAIL): its
    operations report the caller's parent and its body re-runs on replay over their
    checkpoints. Ids stay prefixed by the child's own id, so replay remains deterministic.
    """

    serdes: SerDes[T] | None = field(default=None, validator=_serdes)
    sub_type: str | None = field(default=None, validator=_sub_type)
    summary_generator: SummaryGenerator | None = field(
        default=None, validator=_callable("summary_generator")
    )
    is_virtual: bool = field(default=False, validator=_bool("is_virtual"))


# --- map and parallel -------------------------------------------------------------------------


class CompletionOutcome(Enum):
    """Whether a batch a ``should_complete`` predicate ended counts as a success or a failure."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


def _outcome_matches_complete(instance: CompletionDecision, _: Any, outcome: Any) -> None:
    if instance.complete and outcome is None:
        raise ValidationError("outcome is required when complete is True")
    if not instance.complete and outcome is not None:
        raise ValidationError(f"outcome must be None when complete is False, got {outcome!r}")


@frozen
class CompletionDecision:
    """What a ``should_complete`` predicate returns: build it with ``continue_batch()`` or
    ``complete_batch(outcome)``."""

    complete: bool
    outcome: CompletionOutcome | None = field(default=None, validator=_outcome_matches_complete)


def continue_batch() -> CompletionDecision:
    """Keep the batch going."""
    return CompletionDecision(complete=False)


def complete_batch(outcome: CompletionOutcome = CompletionOutcome.SUCCEEDED) -> CompletionDecision:
    """End the batch now, as a success unless ``outcome`` says otherwise."""
    return CompletionDecision(complete=True, outcome=outcome)


@frozen
class CompletionItemStatus:
    """One item of a ``CompletionStatus``: its index, name and status (None: not started)."""

    index: int
    name: str | None = None
    status: BatchItemStatus | None = None


@frozen
class CompletionStatus:
    """The progress a ``should_complete`` predicate decides on; ``items[i]`` is item ``i``."""

    success_count: int
    failure_count: int
    completed_count: int
    total_count: int
    items: tuple[CompletionItemStatus, ...] = ()


ShouldComplete = Callable[[CompletionStatus], CompletionDecision]


@frozen
class CompletionConfig:
    """When a map/parallel batch stops (official semantics).

    The batch completes as soon as ``min_successful`` items succeeded, or failures exceed
    ``tolerated_failure_count`` or ``tolerated_failure_percentage`` (of all items), or every item
    finished. With all three unset, the first failure ends the batch (fail fast).

    ``should_complete(status)`` replaces those three (it cannot be combined with them): it is
    asked before the first item starts and after every change, and must be deterministic and
    monotonic. Failures then never end the batch by themselves; every item finishing still does.
    """

    min_successful: int | None = field(default=None, validator=_optional_int("min_successful", 1))
    tolerated_failure_count: int | None = field(
        default=None, validator=_optional_int("tolerated_failure_count", 0)
    )
    tolerated_failure_percentage: float | None = field(default=None, validator=_percentage)
    should_complete: ShouldComplete | None = field(
        default=None, validator=_callable("should_complete")
    )

    def __attrs_post_init__(self) -> None:
        if self.should_complete is not None and (
            self.min_successful is not None
            or self.tolerated_failure_count is not None
            or self.tolerated_failure_percentage is not None
        ):
            raise ValidationError(
                "should_complete cannot be combined with min_successful, "
                "tolerated_failure_count or tolerated_failure_percentage: decide those in the "
                "predicate, or drop it"
            )

    def validate_for_total(self, total: int) -> None:
        """Raise before the batch starts if ``min_successful`` exceeds the number of items."""
        if self.min_successful is not None and self.min_successful > total:
            raise ValidationError(
                f"min_successful ({self.min_successful}) cannot exceed the number of items "
                f"({total})"
            )

    @staticmethod
    def first_successful() -> CompletionConfig:
        """Stop at the first success; failures never stop the batch early."""
        return CompletionConfig(min_successful=1)

    @staticmethod
    def all_completed() -> CompletionConfig:
        """Run every item whatever fails."""
        return CompletionConfig(tolerated_failure_percentage=100)

    @staticmethod
    def all_successful() -> CompletionConfig:
        """Stop at the first failure."""
        return CompletionConfig(tolerated_failure_count=0, tolerated_failure_percentage=0)


@frozen
class MapConfig(Generic[T]):
    """``map`` options. The default ``CompletionConfig()`` fails fast on the first failed item.

    ``serdes`` serializes the whole ``BatchResult`` (and each item too when ``item_serdes`` is
    None); ``item_namer(item, index)`` names each item's context (default ``map-item-{index}``)
    and must be deterministic.
    """

    max_concurrency: int | None = field(default=None, validator=_optional_int("max_concurrency", 1))
    completion_config: CompletionConfig = field(factory=CompletionConfig)
    serdes: SerDes[Any] | None = field(default=None, validator=_serdes)
    item_serdes: SerDes[Any] | None = field(default=None, validator=_serdes)
    summary_generator: SummaryGenerator | None = field(
        default=None, validator=_callable("summary_generator")
    )
    nesting_type: NestingType = field(default=NestingType.NESTED, converter=_nesting_type)
    item_namer: Callable[[T, int], str] | None = field(
        default=None, validator=_callable("item_namer")
    )


@frozen
class ParallelConfig:
    """``parallel`` options. The default ``CompletionConfig.all_successful()`` stops at the
    first failed branch.
    """

    max_concurrency: int | None = field(default=None, validator=_optional_int("max_concurrency", 1))
    completion_config: CompletionConfig = field(factory=CompletionConfig.all_successful)
    serdes: SerDes[Any] | None = field(default=None, validator=_serdes)
    item_serdes: SerDes[Any] | None = field(default=None, validator=_serdes)
    summary_generator: SummaryGenerator | None = field(
        default=None, validator=_callable("summary_generator")
    )
    nesting_type: NestingType = field(default=NestingType.NESTED, converter=_nesting_type)


@frozen
class ParallelBranch(Generic[T]):
    """A named parallel branch: ``name`` replaces ``parallel-branch-{index}`` in history."""

    func: Callable[..., T] = field(validator=_callable("func", optional=False))
    name: str | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> T:
        return self.func(*args, **kwargs)


# --- wait_for_condition -----------------------------------------------------------------------


@frozen
class WaitForConditionDecision:
    """Poll again after ``delay``, or stop polling and return the current state."""

    should_continue: bool
    delay: Duration = field(factory=Duration)

    @property
    def delay_seconds(self) -> int:
        return self.delay.seconds

    @classmethod
    def continue_waiting(cls, delay: DurationLike) -> WaitForConditionDecision:
        return cls(True, Duration(duration_seconds(delay, what="continue_waiting delay")))

    @classmethod
    def stop_polling(cls) -> WaitForConditionDecision:
        return _STOP_POLLING


_STOP_POLLING = WaitForConditionDecision(False)

WaitStrategy = Callable[[T, int], WaitForConditionDecision]
"""``strategy(state, attempts_made) -> WaitForConditionDecision``; attempts_made starts at 1."""


@frozen
class WaitStrategyConfig(Generic[T]):
    """Backoff for ``create_wait_strategy``: ``initial_delay * backoff_rate ** (attempts - 1)``."""

    should_continue_polling: Callable[[T], bool] = field(
        validator=_callable("should_continue_polling", optional=False)
    )
    max_attempts: int = field(default=60, validator=_positive_int("max_attempts"))
    initial_delay: Duration = field(default=Duration(5), converter=_initial_delay)
    max_delay: Duration = field(default=Duration(300), converter=_max_delay)
    backoff_rate: float = field(default=1.5, validator=_positive_number("backoff_rate"))
    jitter_strategy: JitterStrategy = field(default=JitterStrategy.FULL, converter=_jitter_strategy)

    @property
    def initial_delay_seconds(self) -> int:
        return self.initial_delay.seconds

    @property
    def max_delay_seconds(self) -> int:
        return self.max_delay.seconds


def create_wait_strategy(
    config: WaitStrategyConfig[T], *, rng: random.Random | None = None
) -> WaitStrategy[T]:
    """A ``WaitStrategy`` polling with jittered exponential backoff.

    A satisfied condition wins, even on the last attempt. When ``max_attempts`` polls have not
    satisfied it, the strategy raises ``WaitForConditionError`` (as the official SDK does), which
    the engine records as the operation's failure like any exception from a strategy.
    """
    keep_polling = config.should_continue_polling
    max_attempts, rate, jitter = config.max_attempts, config.backoff_rate, config.jitter_strategy
    initial, cap = config.initial_delay.seconds, config.max_delay.seconds

    def strategy(state: T, attempts_made: int) -> WaitForConditionDecision:
        if not keep_polling(state):
            return _STOP_POLLING
        if attempts_made >= max_attempts:
            raise WaitForConditionError(
                f"wait_for_condition exhausted {max_attempts} attempts before the condition was met"
            )
        exponent = attempts_made - 1
        base = cap if rate > 1 and exponent > 64 else min(initial * rate**exponent, cap)
        return WaitForConditionDecision(True, Duration(jitter.finalize_delay(base, rng)))

    return strategy


@frozen
class WaitForConditionConfig(Generic[T]):
    """``wait_strategy`` decides after each check; ``initial_state`` is passed to the first check
    after a serdes round trip, so it must be serializable.
    """

    wait_strategy: WaitStrategy[T] = field(validator=_callable("wait_strategy", optional=False))
    initial_state: T
    serdes: SerDes[T] | None = field(default=None, validator=_serdes)
