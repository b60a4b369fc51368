"""The differences from the official SDK's public API that we keep on purpose, with why.

Keys name what differs: ``module.Name`` (missing), ``module.Name.member`` (a missing member,
field or enum member) or ``module.Name()`` / ``module.Name.method()`` (a signature).
``tests/parity/test_official_api.py`` fails on any difference not listed here, and on any
entry here that is no longer a difference.
"""

BUILT_BY_THE_SDK = (
    "Built by the SDK for each invocation, never by user code: our constructor takes our "
    "engine's runtime and scope instead of the official ExecutionState and its internals."
)
OFFICIAL_RUNTIME = (
    "Part of the official SDK's threaded runtime (executor, ordered locks, background "
    "checkpoint thread, per-branch bookkeeping); our engine is a pure replay state machine "
    "with two thin drivers and has no such objects."
)
EVENT_CODEC = (
    "Decoding the invocation event and encoding the handler output is one cattrs converter "
    "in our engine, not methods on the models; user code never calls it."
)
EXTENDED_TYPES = (
    "We have no ExtendedTypeSerDes ('t'/'v' tagged envelopes). With no serdes configured a "
    "value is plain JSON, and a function annotated with a richer return type (datetime, "
    "Decimal, UUID, attrs, dataclass, pydantic, tuples...) gets a typed serdes that rebuilds it."
)
BACKEND_ERRORS = (
    "Failed backend calls are our DurableError hierarchy (an InvocationError subclass with "
    "is_retryable()), classified by error code and HTTP status as protocol.md section 5 "
    "says: StaleCheckpointTokenError, ThrottledError, ServiceUnavailableError, KMSError, ..."
)
SERVICE_CLIENT = (
    "The service boundary is our DurableBackend / AsyncDurableBackend Protocols with "
    "SyncRealBackend / AsyncRealBackend over boto3 (durable_backend.backend); "
    "durable_execution(boto3_client=...) takes the client as the official SDK does."
)
OFFICIAL_LOG_INFO = (
    "LogInfo holds the official ExecutionState; our Logger takes its extra fields directly "
    "(Logger(logger, default_extra, is_replaying)) and contexts build it."
)

DIFFERENCES: dict[str, str] = {
    # context
    "context.DurableContext()": BUILT_BY_THE_SDK,
    "context.Callback()": BUILT_BY_THE_SDK,
    "context.DurableContext.from_lambda_context": BUILT_BY_THE_SDK,
    "context.DurableContext.create_child_context": (
        "Child contexts are created by run_in_child_context, map and parallel only; the "
        "official method is the runtime's internal factory."
    ),
    "context.DurableContext.is_virtual": (
        "Virtual contexts (NestingType.FLAT, ChildConfig.is_virtual) exist, but a context does "
        "not say whether it is one: the official property serves its runtime's parent ids."
    ),
    # config
    # execution
    "execution.InitialExecutionState.from_dict": EVENT_CODEC,
    "execution.InitialExecutionState.from_json_dict": EVENT_CODEC,
    "execution.InitialExecutionState.to_dict": EVENT_CODEC,
    "execution.InitialExecutionState.to_json_dict": EVENT_CODEC,
    "execution.DurableExecutionInvocationInput": EVENT_CODEC,
    "execution.DurableExecutionInvocationInputWithClient": (
        "The official testing runner injects its in-memory client through this event type; "
        "we inject a backend instead (durable_execution(backend=...), handler.with_backend)."
    ),
    "execution.handle_checkpoint_error": BACKEND_ERRORS,
    # serdes
    "serdes.TYPE_TOKEN": EXTENDED_TYPES,
    "serdes.VALUE_TOKEN": EXTENDED_TYPES,
    "serdes.TypeTag": EXTENDED_TYPES,
    "serdes.EncodedValue": EXTENDED_TYPES,
    "serdes.Codec": EXTENDED_TYPES,
    "serdes.PrimitiveCodec": EXTENDED_TYPES,
    "serdes.BytesCodec": EXTENDED_TYPES,
    "serdes.UuidCodec": EXTENDED_TYPES,
    "serdes.DecimalCodec": EXTENDED_TYPES,
    "serdes.DateTimeCodec": EXTENDED_TYPES,
    "serdes.ContainerCodec": EXTENDED_TYPES,
    "serdes.TypeCodec": EXTENDED_TYPES,
    "serdes.TYPE_CODEC": EXTENDED_TYPES,
    "serdes.ExtendedTypeSerDes": EXTENDED_TYPES,
    "serdes.EXTENDED_TYPES_SERDES": EXTENDED_TYPES,
    "serdes.SerDes.is_primitive": (
        "SerDes is a Protocol of two methods (serialize, deserialize); the official ABC's "
        "is_primitive helper serves its extended-type encoder."
    ),
    # exceptions
    "exceptions.BAD_REQUEST_ERROR": BACKEND_ERRORS,
    "exceptions.TOO_MANY_REQUESTS_ERROR": BACKEND_ERRORS,
    "exceptions.SERVICE_ERROR": BACKEND_ERRORS,
    "exceptions.INVALID_PARAMETER_VALUE_EXCEPTION": BACKEND_ERRORS,
    "exceptions.INVALID_CHECKPOINT_TOKEN_PREFIX": BACKEND_ERRORS,
    "exceptions.AwsErrorObj": BACKEND_ERRORS,
    "exceptions.AwsErrorMetadata": BACKEND_ERRORS,
    "exceptions.DurableApiErrorCategory": BACKEND_ERRORS,
    "exceptions.CheckpointErrorCategory": BACKEND_ERRORS,
    "exceptions.BotoClientError": BACKEND_ERRORS,
    "exceptions.CheckpointError": BACKEND_ERRORS,
    "exceptions.GetExecutionStateError": BACKEND_ERRORS,
    "exceptions.InvalidStateError": (
        "Nothing in our SDK raises it: misuse is a ValidationError or TypeError naming the "
        "argument, before anything is checkpointed."
    ),
    "exceptions.SuspendExecution()": (
        "Raised only by the SDK, to end the invocation as PENDING; user code never builds it."
    ),
    "exceptions.TimedSuspendExecution": OFFICIAL_RUNTIME,
    "exceptions.BackgroundThreadError": OFFICIAL_RUNTIME,
    "exceptions.OrderedLockError": OFFICIAL_RUNTIME,
    "exceptions.OrphanedChildException": OFFICIAL_RUNTIME,
    # logger
    "logger.LogInfo": OFFICIAL_LOG_INFO,
    "logger.Logger.from_log_info": OFFICIAL_LOG_INFO,
    "logger.Logger.with_log_info": OFFICIAL_LOG_INFO,
    # concurrency.models
    "concurrency.models.CompletionPolicy": (
        "Our completion rule is CompletionTracker in the engine: O(1) per finished item."
    ),
    "concurrency.models.CompletionRecord": OFFICIAL_RUNTIME,
    "concurrency.models.envelope_summary_generator": OFFICIAL_RUNTIME,
    "concurrency.models.BatchResult.from_items": OFFICIAL_RUNTIME,
    "concurrency.models.Executable": OFFICIAL_RUNTIME,
    "concurrency.models.BranchStatus": OFFICIAL_RUNTIME,
    "concurrency.models.Branch": OFFICIAL_RUNTIME,
    "concurrency.models.BranchEventKind": OFFICIAL_RUNTIME,
    "concurrency.models.BranchEvent": OFFICIAL_RUNTIME,
    # plugin
    "plugin.PluginExecutor": OFFICIAL_RUNTIME,
    "plugin.PluginHost": OFFICIAL_RUNTIME,
    # lambda_service
    "lambda_service.DurableExecutionInvocationOutput": EVENT_CODEC,
    "lambda_service.TimestampConverter": EVENT_CODEC,
    "lambda_service.DurableServiceClient": SERVICE_CLIENT,
    "lambda_service.LambdaClient": SERVICE_CLIENT,
}

NAMES_ONLY: dict[str, str] = {
    "lambda_service": (
        "The wire models are ours: frozen attrs classes with snake_case fields (Operation.id, "
        "ErrorObject.error_message, ...) read and written by one cattrs converter per wire "
        "format, with no from_dict/to_dict/create_* helpers. Handler code never builds them; "
        "the names exist so imports port, and their members are not compared."
    ),
}

PORTING: dict[str, str] = {}
"""Porting texts (``tests/porting/official``) that show a behaviour difference: they run as
strict expected failures on ours, so the entry goes when the difference does."""
