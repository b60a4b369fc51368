"""Errors: backend failures (``DurableError``) and per-operation failures users catch.

Backend errors are classified by error code and HTTP status (protocol.md §5). Each says what
happened, in which call, and what the caller should do; ``retry_invocation`` tells the handler
whether to raise out of Lambda (so the service re-invokes) or fail the execution.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Self

from durable_backend._models import ErrorObject


class TerminationReason(Enum):
    """Why an invocation or execution ended abnormally (official names)."""

    UNHANDLED_ERROR = "UNHANDLED_ERROR"
    INVOCATION_ERROR = "INVOCATION_ERROR"
    EXECUTION_ERROR = "EXECUTION_ERROR"
    CHECKPOINT_FAILED = "CHECKPOINT_FAILED"
    NON_DETERMINISTIC_EXECUTION = "NON_DETERMINISTIC_EXECUTION"
    STEP_INTERRUPTED = "STEP_INTERRUPTED"
    SERIALIZATION_ERROR = "SERIALIZATION_ERROR"


def error_message(error: BaseException) -> str:
    """``str(error)``, or a message naming its class when that ``__str__`` itself raises: a
    failure must still be recorded, and a broken message must not replace it."""
    try:
        return str(error)
    except Exception as broken:
        return (
            f"<{type(error).__name__}: its message could not be read "
            f"({type(broken).__name__} in __str__)>"
        )


class DurableExecutionsError(Exception):
    """Base of the errors a durable function's own code sees (official SDK name)."""


class PluginLoadError(DurableExecutionsError):
    """An instrumentation plugin could not be loaded."""


class UnrecoverableError(DurableExecutionsError):
    """An error that ends the invocation: ``ExecutionError`` fails the execution,
    ``InvocationError`` is raised out of the handler so Lambda retries the invocation.
    """

    def __init__(self, message: str, termination_reason: TerminationReason) -> None:
        super().__init__(message)
        self.termination_reason = termination_reason


class ExecutionError(UnrecoverableError):
    """Raise it from a handler to fail the execution at once, without a retry."""

    def __init__(
        self,
        message: str,
        termination_reason: TerminationReason = TerminationReason.EXECUTION_ERROR,
    ) -> None:
        super().__init__(message, termination_reason)


class InvocationError(UnrecoverableError):
    """Raise it from a handler to fail this invocation only: Lambda invokes it again."""

    def __init__(
        self,
        message: str,
        termination_reason: TerminationReason = TerminationReason.INVOCATION_ERROR,
    ) -> None:
        super().__init__(message, termination_reason)

    def is_retryable(self) -> bool:
        """True when Lambda should retry the invocation; False fails the execution."""
        return True


class DurableError(InvocationError):
    """A call across the backend boundary failed (the official SDK's ``BotoClientError`` role).

    ``is_retryable()`` (and ``retry_invocation``) say whether Lambda should retry the
    invocation or the execution must fail.
    """

    retry_invocation: bool = False
    advice: str = "The execution cannot continue; fix the cause and start a new execution."

    def __init__(
        self,
        message: str,
        *,
        call: str = "",
        code: str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.message = message
        self.call = call
        self.code = code
        self.http_status = http_status
        where = f"{call} failed" if call else "durable backend call failed"
        parts = [part for part in (code, http_status and f"HTTP {http_status}") if part]
        detail = f" ({', '.join(parts)})" if parts else ""
        super().__init__(f"{where}{detail}: {message}. {self.advice}")

    def is_retryable(self) -> bool:
        return self.retry_invocation


class StaleCheckpointTokenError(DurableError):
    """The checkpoint token was already consumed or belongs to another invocation."""

    retry_invocation = True
    advice = "Raise out of the handler so Lambda re-invokes it with a fresh token."


class TransientError(DurableError):
    """A failure worth retrying with backoff: throttling, 5xx, a lost connection or response."""

    retry_invocation = True
    advice = "Retries are exhausted; raise out of the handler so Lambda retries the invocation."


class ThrottledError(TransientError):
    """429: the service asked the caller to slow down, maybe saying for how long."""

    def __init__(
        self,
        message: str,
        *,
        call: str = "",
        code: str | None = None,
        http_status: int | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__(message, call=call, code=code, http_status=http_status)


class ServiceUnavailableError(TransientError):
    """5xx, a connection that failed, or a response that never arrived."""


class InvalidRequestError(DurableError):
    advice = "The request was rejected as invalid; this is a bug in the caller, not transient."


class NotFoundError(DurableError):
    advice = "Check the execution ARN: the execution does not exist or has been deleted."


class AccessDeniedError(DurableError):
    """The credentials are missing or invalid, or the policy lacks ``permission``."""

    def __init__(
        self,
        message: str,
        *,
        call: str = "",
        code: str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.permission = f"lambda:{call}" if call else None
        self.advice = (
            f"Check the credentials, and allow {self.permission} on the function (and its "
            "versions and aliases) in the role or policy of the caller."
            if call
            else "Check the credentials and the caller's IAM policy."
        )
        super().__init__(message, call=call, code=code, http_status=http_status)


class KMSError(DurableError):
    advice = "Fix the function's KMS key configuration; retrying will not help."


class CallbackNotOpenError(DurableError):
    """A callback API was called on a callback that is closed or has timed out."""

    advice = "The callback already completed or timed out; nothing is waiting for this answer."


class ValidationError(DurableExecutionsError, ValueError):
    """A config or argument is invalid; raised before anything is checkpointed."""


class NonDeterministicExecutionError(ExecutionError):
    """The code took a different path on replay than the history records."""

    def __init__(self, message: str, step_id: str | None = None) -> None:
        super().__init__(message, TerminationReason.NON_DETERMINISTIC_EXECUTION)
        self.step_id = step_id


class OperationNotAwaitedError(ExecutionError):
    """An async operation was called but its awaitable was dropped, so it never ran: a
    missing ``await``. The execution fails instead of succeeding without the operation."""


class StepInterruptedError(InvocationError):
    """An at-most-once step was found started: its last attempt may or may not have run."""

    def __init__(self, message: str, step_id: str | None = None) -> None:
        super().__init__(message, TerminationReason.STEP_INTERRUPTED)
        self.step_id = step_id


class RetryableSerDesError(InvocationError):
    """Raised by a serdes for a transient failure (a store that timed out, ...): the
    invocation fails and Lambda retries it, instead of the operation failing for good.
    """

    def __init__(
        self,
        message: str,
        termination_reason: TerminationReason = TerminationReason.SERIALIZATION_ERROR,
    ) -> None:
        super().__init__(message, termination_reason)


class InvalidEventError(DurableExecutionsError, ValueError):
    """The Lambda event is not a durable invocation, or lacks a required field."""


class ErrorFields(DurableExecutionsError):
    """An error carrying the fields it is checkpointed with (the official field names)."""

    def __init__(
        self,
        message: str | None = None,
        error_type: str | None = None,
        data: str | None = None,
        stack_trace: Sequence[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type or qualified_error_type(self)
        self.data = data
        self.stack_trace = list(stack_trace) if stack_trace is not None else None


class SerDesError(ErrorFields):
    """A value could not be serialized or deserialized; never retried
    (``RetryableSerDesError`` is the transient kind)."""


class DurableOperationError(ErrorFields):
    """A durable operation failed; rebuilt from the checkpointed error on replay."""

    @classmethod
    def from_error_object(cls, error: ErrorObject | None) -> Self:
        if error is None:
            return cls("operation failed without an error object")
        return cls(
            message=error.error_message,
            error_type=error.error_type,
            data=error.error_data,
            stack_trace=error.stack_trace,
        )

    @classmethod
    def from_error_fields(
        cls,
        error_type: str | None,
        message: str | None,
        data: str | None,
        stack_trace: list[str] | None,
    ) -> DurableOperationError:
        """The operation error class ``error_type`` names (this SDK's or the official one's),
        else ``DurableOperationError``, rebuilt from checkpointed fields."""
        error = ErrorObject(message, error_type, data, tuple(stack_trace) if stack_trace else None)
        return rebuild_operation_error(error, DurableOperationError)

    def to_error_object(self) -> ErrorObject:
        return ErrorObject(
            error_message=self.message,
            error_type=self.error_type,
            error_data=self.data,
            stack_trace=tuple(self.stack_trace) if self.stack_trace is not None else None,
        )


class StepError(DurableOperationError):
    pass


class StepTimeoutError(DurableOperationError):
    """A step attempt ran longer than its ``StepConfig.timeout``, or than the invocation had
    left; like any failed attempt it goes through the retry strategy."""


class InvokeError(DurableOperationError):
    pass


class ChildContextError(DurableOperationError):
    pass


class WaitForConditionError(DurableOperationError):
    pass


class CallbackError(DurableOperationError):
    pass


class CallbackExternalError(CallbackError):
    pass


class CallbackTimeoutError(CallbackError):
    pass


class CallbackSubmitterError(CallbackError):
    pass


_WIRE_PREFIXES = ("durable_backend.", "aws_durable_execution_sdk_python.exceptions.")


def qualified_error_type(error: BaseException) -> str:
    """The ErrorType an error is recorded under, as the official SDK records it: the class's
    module and qualified name, builtins bare. Ours name ``durable_backend.exceptions``, so
    replay rebuilds their class and ported tests compare equal after the import rewrite."""
    kind = type(error)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def rebuild_operation_error(
    error: ErrorObject | None, default: type[DurableOperationError]
) -> DurableOperationError:
    """The same error class on replay as on the first run, from the checkpointed fields.

    Types recorded by the official SDK map to ours too, so histories port across SDKs.
    """
    cls = default
    error_type = error.error_type if error is not None else None
    if error_type and error_type.startswith(_WIRE_PREFIXES):
        cls = _OPERATION_ERRORS.get(error_type.rsplit(".", 1)[-1], default)
    return cls.from_error_object(error)


_OPERATION_ERRORS: dict[str, type[DurableOperationError]] = {
    cls.__name__: cls
    for cls in (
        DurableOperationError,
        StepError,
        StepTimeoutError,
        InvokeError,
        ChildContextError,
        WaitForConditionError,
        CallbackError,
        CallbackExternalError,
        CallbackTimeoutError,
        CallbackSubmitterError,
    )
}


def register_operation_error(error_cls: type[DurableOperationError]) -> None:
    """Rebuild ``error_cls`` by name on replay; for operation errors defined above this module."""
    _OPERATION_ERRORS[error_cls.__name__] = error_cls


for _public in (
    DurableExecutionsError, PluginLoadError, UnrecoverableError, ExecutionError,
    InvocationError, DurableError, StaleCheckpointTokenError, TransientError, ThrottledError,
    ServiceUnavailableError, InvalidRequestError, NotFoundError, AccessDeniedError, KMSError,
    CallbackNotOpenError, ValidationError, NonDeterministicExecutionError,
    OperationNotAwaitedError, StepInterruptedError, RetryableSerDesError, InvalidEventError,
    SerDesError, DurableOperationError, StepError, StepTimeoutError, InvokeError,
    ChildContextError, WaitForConditionError, CallbackError, CallbackExternalError,
    CallbackTimeoutError, CallbackSubmitterError,
):  # tracebacks and recorded ErrorTypes name the module users import them from
    _public.__module__ = "durable_backend.exceptions"
