"""Operation configs (official ``config``): frozen, validated when built, with the official
names, field order and defaults. Durations take a ``Duration``, a ``timedelta`` or int seconds.
"""

from durable_backend._config import (
    BatchItemStatus,
    CallbackConfig,
    ChildConfig,
    CompletionConfig,
    CompletionDecision,
    CompletionItemStatus,
    CompletionOutcome,
    CompletionStatus,
    InvokeConfig,
    MapConfig,
    NestingType,
    ParallelBranch,
    ParallelConfig,
    StepConfig,
    StepSemantics,
    WaitForCallbackConfig,
    complete_batch,
    continue_batch,
)
from durable_backend._duration import Duration
from durable_backend._retry import JitterStrategy

Numeric = int | float
"""A number of seconds or a rate, as the official configs take them."""

__all__ = [
    "BatchItemStatus",
    "CallbackConfig",
    "ChildConfig",
    "CompletionConfig",
    "CompletionDecision",
    "CompletionItemStatus",
    "CompletionOutcome",
    "CompletionStatus",
    "Duration",
    "InvokeConfig",
    "JitterStrategy",
    "MapConfig",
    "NestingType",
    "Numeric",
    "ParallelBranch",
    "ParallelConfig",
    "StepConfig",
    "StepSemantics",
    "WaitForCallbackConfig",
    "complete_batch",
    "continue_batch",
]
