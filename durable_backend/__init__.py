"""Durable AWS Lambda functions for plain sync ``def`` and native ``async def`` handlers.

The root holds what a workflow author needs; the official SDK's module layout is there too
(``durable_backend.config``, ``.context``, ``.retries``, ...), and backend implementers find
the real backends, wire models and backend errors in ``durable_backend.backend``.
"""

from durable_backend._backend import AsyncDurableBackend, DurableBackend
from durable_backend._batch import (
    BatchCompletionError,
    BatchItem,
    BatchResult,
    CompletionReason,
)
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
    WaitForConditionConfig,
    WaitForConditionDecision,
    WaitStrategyConfig,
    complete_batch,
    continue_batch,
    create_wait_strategy,
)
from durable_backend._context import AsyncCallback, AsyncDurableContext, Callback, DurableContext
from durable_backend._duration import Duration
from durable_backend._errors import (
    CallbackError,
    CallbackExternalError,
    CallbackSubmitterError,
    CallbackTimeoutError,
    ChildContextError,
    DurableExecutionsError,
    DurableOperationError,
    ExecutionError,
    InvocationError,
    InvokeError,
    PluginLoadError,
    RetryableSerDesError,
    SerDesError,
    StepError,
    StepTimeoutError,
    ValidationError,
    WaitForConditionError,
)
from durable_backend._handler import durable_execution
from durable_backend._retry import (
    JitterStrategy,
    RetryDecision,
    RetryPresets,
    RetryStrategyConfig,
    create_retry_strategy,
)
from durable_backend._saga import AsyncSaga, Compensation, Saga, SagaError
from durable_backend._serdes import SerDes, SerDesContext
from durable_backend.context import (
    durable_parallel_branch,
    durable_step,
    durable_wait_for_callback,
    durable_with_child_context,
)
from durable_backend.retries import WithRetryConfig, with_retry
from durable_backend.types import StepContext, WaitForCallbackContext, WaitForConditionCheckContext

__version__ = "0.1.0"

__all__ = [
    "AsyncCallback",
    "AsyncDurableBackend",
    "AsyncDurableContext",
    "AsyncSaga",
    "BatchCompletionError",
    "BatchItem",
    "BatchItemStatus",
    "BatchResult",
    "Callback",
    "CallbackConfig",
    "CallbackError",
    "CallbackExternalError",
    "CallbackSubmitterError",
    "CallbackTimeoutError",
    "ChildConfig",
    "ChildContextError",
    "Compensation",
    "CompletionConfig",
    "CompletionDecision",
    "CompletionItemStatus",
    "CompletionOutcome",
    "CompletionReason",
    "CompletionStatus",
    "DurableBackend",
    "DurableContext",
    "DurableExecutionsError",
    "DurableOperationError",
    "Duration",
    "ExecutionError",
    "InvocationError",
    "InvokeConfig",
    "InvokeError",
    "JitterStrategy",
    "MapConfig",
    "NestingType",
    "ParallelBranch",
    "ParallelConfig",
    "PluginLoadError",
    "RetryDecision",
    "RetryPresets",
    "RetryStrategyConfig",
    "RetryableSerDesError",
    "Saga",
    "SagaError",
    "SerDes",
    "SerDesContext",
    "SerDesError",
    "StepConfig",
    "StepContext",
    "StepError",
    "StepSemantics",
    "StepTimeoutError",
    "ValidationError",
    "WaitForCallbackConfig",
    "WaitForCallbackContext",
    "WaitForConditionCheckContext",
    "WaitForConditionConfig",
    "WaitForConditionDecision",
    "WaitForConditionError",
    "WaitStrategyConfig",
    "WithRetryConfig",
    "__version__",
    "complete_batch",
    "continue_batch",
    "create_retry_strategy",
    "create_wait_strategy",
    "durable_execution",
    "durable_parallel_branch",
    "durable_step",
    "durable_wait_for_callback",
    "durable_with_child_context",
    "with_retry",
]
