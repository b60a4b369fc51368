"""``wait_for_condition``'s config and wait strategies (official ``waits``)."""

from durable_backend._config import (
    WaitForConditionConfig,
    WaitForConditionDecision,
    WaitStrategy,
    WaitStrategyConfig,
    create_wait_strategy,
)
from durable_backend.config import Numeric

__all__ = [
    "Numeric",
    "WaitForConditionConfig",
    "WaitForConditionDecision",
    "WaitStrategy",
    "WaitStrategyConfig",
    "create_wait_strategy",
]
