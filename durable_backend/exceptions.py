"""The errors user code raises and catches (official ``exceptions``), and our backend errors.

* ``ExecutionError`` raised from a handler fails the execution; ``InvocationError`` fails only
  the invocation, which Lambda retries.
* ``DurableOperationError`` and its subclasses (``StepError``, ``CallbackError``, ...) report a
  failed operation and are rebuilt from the history on replay.
* ``DurableError`` and its subclasses are failed backend calls, classified by error code and
  HTTP status; ``is_retryable()`` says whether Lambda retries the invocation.
"""

from durable_backend._engine import SuspendExecution
from durable_backend._errors import (
    AccessDeniedError,
    CallbackError,
    CallbackExternalError,
    CallbackNotOpenError,
    CallbackSubmitterError,
    CallbackTimeoutError,
    ChildContextError,
    DurableError,
    DurableExecutionsError,
    DurableOperationError,
    ExecutionError,
    InvalidEventError,
    InvalidRequestError,
    InvocationError,
    InvokeError,
    KMSError,
    NonDeterministicExecutionError,
    NotFoundError,
    OperationNotAwaitedError,
    PluginLoadError,
    RetryableSerDesError,
    SerDesError,
    ServiceUnavailableError,
    StaleCheckpointTokenError,
    StepError,
    StepInterruptedError,
    TerminationReason,
    ThrottledError,
    TransientError,
    UnrecoverableError,
    ValidationError,
    WaitForConditionError,
    register_operation_error,
)

__all__ = [
    "AccessDeniedError",
    "CallbackError",
    "CallbackExternalError",
    "CallbackNotOpenError",
    "CallbackSubmitterError",
    "CallbackTimeoutError",
    "ChildContextError",
    "DurableError",
    "DurableExecutionsError",
    "DurableOperationError",
    "ExecutionError",
    "InvalidEventError",
    "InvalidRequestError",
    "InvocationError",
    "InvokeError",
    "KMSError",
    "NonDeterministicExecutionError",
    "NotFoundError",
    "OperationNotAwaitedError",
    "PluginLoadError",
    "RetryableSerDesError",
    "SerDesError",
    "ServiceUnavailableError",
    "StaleCheckpointTokenError",
    "StepError",
    "StepInterruptedError",
    "SuspendExecution",
    "TerminationReason",
    "ThrottledError",
    "TransientError",
    "UnrecoverableError",
    "ValidationError",
    "WaitForConditionError",
    "register_operation_error",
]
