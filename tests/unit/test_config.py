"""Operation configs: official defaults, validation on construction, wait strategies."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from typing import Any

import pytest

from durable_backend._config import (
    CallbackConfig,
    ChildConfig,
    CompletionConfig,
    InvokeConfig,
    MapConfig,
    NestingType,
    ParallelBranch,
    ParallelConfig,
    StepConfig,
    StepSemantics,
    WaitForCallbackConfig,
    WaitForConditionConfig,
    WaitForConditionDecision,
    WaitStrategyConfig,
    create_wait_strategy,
)
from durable_backend._duration import Duration
from durable_backend._errors import ValidationError, WaitForConditionError
from durable_backend._retry import JitterStrategy, RetryPresets
from durable_backend._serdes import JSON_SERDES


def test_step_config_defaults() -> None:
    c = StepConfig()
    assert c.retry_strategy is None
    assert c.step_semantics is StepSemantics.AT_LEAST_ONCE_PER_RETRY
    assert c.serdes is None and c.sub_type is None
    assert StepConfig(step_semantics="AT_MOST_ONCE_PER_RETRY").step_semantics is (
        StepSemantics.AT_MOST_ONCE_PER_RETRY
    )


def test_callback_config_durations_and_defaults() -> None:
    c = CallbackConfig()
    assert (c.timeout_seconds, c.heartbeat_timeout_seconds) == (0, 0)
    c = CallbackConfig(timeout=timedelta(minutes=5), heartbeat_timeout=Duration.from_seconds(30))
    assert (c.timeout, c.heartbeat_timeout) == (Duration(300), Duration(30))
    assert CallbackConfig(timeout=7).timeout_seconds == 7


def test_wait_for_callback_config_keeps_official_positional_order() -> None:
    strategy = RetryPresets.none()
    c = WaitForCallbackConfig(10, 5, JSON_SERDES, strategy, sub_type="Approval")
    assert (c.timeout_seconds, c.heartbeat_timeout_seconds) == (10, 5)
    assert c.serdes is JSON_SERDES and c.retry_strategy is strategy
    assert isinstance(c, CallbackConfig)


def test_map_and_parallel_defaults_follow_official() -> None:
    m = MapConfig[int]()
    assert m.completion_config == CompletionConfig()  # fail fast: no criteria at all
    assert m.max_concurrency is None and m.item_namer is None
    assert m.nesting_type is NestingType.NESTED
    p = ParallelConfig()
    assert p.completion_config == CompletionConfig.all_successful()
    assert p.nesting_type is NestingType.NESTED


def test_completion_presets() -> None:
    assert CompletionConfig.first_successful() == CompletionConfig(min_successful=1)
    assert CompletionConfig.all_completed() == CompletionConfig(tolerated_failure_percentage=100)
    assert CompletionConfig.all_successful() == CompletionConfig(
        tolerated_failure_count=0, tolerated_failure_percentage=0
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: CompletionConfig(min_successful=0),
            "min_successful must be None or an int >= 1, got 0",
        ),
        (
            lambda: CompletionConfig(tolerated_failure_count=-1),
            "tolerated_failure_count must be None or an int >= 0, got -1",
        ),
        (lambda: CompletionConfig(tolerated_failure_percentage=100.5), "from 0 to 100, got 100.5"),
        (lambda: CompletionConfig(tolerated_failure_percentage=-0.1), "from 0 to 100, got -0.1"),
        (lambda: CompletionConfig(tolerated_failure_percentage="5"), "from 0 to 100, got '5'"),
        (
            lambda: MapConfig(max_concurrency=0),
            "max_concurrency must be None or an int >= 1, got 0",
        ),
        (lambda: ParallelConfig(max_concurrency=-2), "max_concurrency must be None or an int >= 1"),
        (
            lambda: MapConfig(nesting_type="DEEP"),
            "nesting_type must be one of NESTED, FLAT, got 'DEEP'",
        ),
        (lambda: MapConfig(item_namer="x"), "item_namer must be callable or None"),
        (lambda: StepConfig(step_semantics="ONCE"), "step_semantics must be one of"),
        (lambda: StepConfig(retry_strategy=3), "retry_strategy must be callable or None, got 3"),
        (lambda: StepConfig(serdes=object()), "serdes must be a SerDes"),
        (lambda: StepConfig(sub_type="has space"), "sub_type must be 1 to 32 characters"),
        (lambda: StepConfig(sub_type="x" * 33), "sub_type must be 1 to 32 characters"),
        (lambda: ChildConfig(sub_type="bad!"), "sub_type must be 1 to 32 characters"),
        (lambda: InvokeConfig(serdes_result="json"), "serdes_result must be a SerDes"),
        (
            lambda: CallbackConfig(timeout=-5),
            "timeout must be between 0 and 31622400 seconds, got -5",
        ),
        (
            lambda: CallbackConfig(heartbeat_timeout=timedelta(days=400)),
            "heartbeat_timeout must be between",
        ),
        (lambda: ParallelBranch(None), "func must be callable, got None"),
        (
            lambda: WaitStrategyConfig(lambda s: True, max_attempts=0),
            "max_attempts must be an int >= 1",
        ),
        (
            lambda: WaitStrategyConfig(lambda s: True, backoff_rate=0),
            "backoff_rate must be a number > 0",
        ),
        (
            lambda: WaitStrategyConfig(lambda s: True, initial_delay=0),
            "initial_delay must be between 1",
        ),
        (
            lambda: WaitStrategyConfig(lambda s: True, jitter_strategy="x"),
            "jitter_strategy must be one of",
        ),
        (lambda: WaitStrategyConfig(None), "should_continue_polling must be callable"),
        (lambda: WaitForConditionConfig(None, 0), "wait_strategy must be callable"),
    ],
)
def test_invalid_configs_raise_clear_validation_errors(build: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        build()


def test_empty_sub_type_selects_default_and_valid_one_passes() -> None:
    assert StepConfig(sub_type="").sub_type == ""
    assert StepConfig(sub_type="Charge-card_2").sub_type == "Charge-card_2"


def test_min_successful_checked_against_total() -> None:
    CompletionConfig(min_successful=3).validate_for_total(3)
    with pytest.raises(ValidationError, match=r"min_successful \(4\) cannot exceed .* \(3\)"):
        CompletionConfig(min_successful=4).validate_for_total(3)


def test_configs_are_frozen() -> None:
    c = MapConfig[int]()
    with pytest.raises(AttributeError):
        c.max_concurrency = 3  # type: ignore[misc]


def test_parallel_branch_delegates() -> None:
    branch = ParallelBranch(lambda ctx: ctx * 2, name="double")
    assert branch(21) == 42 and branch.name == "double"


def test_wait_decision_constructors() -> None:
    d = WaitForConditionDecision.continue_waiting(timedelta(seconds=3))
    assert d.should_continue and d.delay_seconds == 3
    stop = WaitForConditionDecision.stop_polling()
    assert not stop.should_continue and stop.delay_seconds == 0
    with pytest.raises(ValidationError, match="continue_waiting delay must be between 1"):
        WaitForConditionDecision.continue_waiting(0)


def test_wait_strategy_config_defaults_are_official() -> None:
    c = WaitStrategyConfig[int](lambda s: True)
    assert (c.max_attempts, c.initial_delay_seconds, c.max_delay_seconds) == (60, 5, 300)
    assert c.backoff_rate == 1.5 and c.jitter_strategy is JitterStrategy.FULL


def test_wait_strategy_backoff_stop_and_exhaustion() -> None:
    strategy = create_wait_strategy(
        WaitStrategyConfig[int](
            lambda state: state < 10,
            max_attempts=5,
            initial_delay=2,
            max_delay=10,
            backoff_rate=2,
            jitter_strategy=JitterStrategy.NONE,
        )
    )
    assert [strategy(0, n).delay_seconds for n in range(1, 5)] == [2, 4, 8, 10]
    # A satisfied condition wins, even on the last attempt.
    assert strategy(10, 5) == WaitForConditionDecision.stop_polling()
    with pytest.raises(WaitForConditionError, match="exhausted 5 attempts"):
        strategy(0, 5)


def test_wait_strategy_jitter_is_injectable() -> None:
    config = WaitStrategyConfig[int](lambda s: True, initial_delay=100, max_delay=100)
    a = create_wait_strategy(config, rng=random.Random(3))
    b = create_wait_strategy(config, rng=random.Random(3))
    got = [a(0, 1).delay_seconds for _ in range(50)]
    assert got == [b(0, 1).delay_seconds for _ in range(50)]
    assert all(1 <= d <= 100 for d in got) and len(set(got)) > 10


def test_wait_for_condition_config_official_order() -> None:
    def strategy(state: int, attempts: int) -> WaitForConditionDecision:
        return WaitForConditionDecision.stop_polling()

    c = WaitForConditionConfig(strategy, 0)
    assert c.wait_strategy is strategy and c.initial_state == 0 and c.serdes is None
