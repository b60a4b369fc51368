"""OpenTelemetry tracing for durable executions (the extra ``durable_backend[otel]``).

Register one view's factory: ``durable_execution(plugins=[InvocationOtelPluginFactory()])``
draws each invocation's work under its Invocation span; ``ExecutionOtelPluginFactory()`` draws
the execution's operations under one Workflow span. Both put every invocation of an execution
on one trace, with span ids derived from the execution, so replays keep their ids.
"""

from durable_backend.otel._config import OtelPluginConfig, ProviderResult, create_tracer_provider
from durable_backend.otel._execution_view import ExecutionOtelPlugin
from durable_backend.otel._extractors import (
    ContextExtractor,
    ExtractedContext,
    Sampling,
    w3c_client_context_extractor,
    xray_context_extractor,
)
from durable_backend.otel._factories import (
    EXECUTION_OTEL_PLUGIN_FACTORY,
    INVOCATION_OTEL_PLUGIN_FACTORY,
    ExecutionOtelPluginFactory,
    InvocationOtelPluginFactory,
)
from durable_backend.otel._ids import (
    DeterministicIdGenerator,
    derive_execution_root_span_id,
    derive_workflow_span_id,
    operation_id_to_span_id,
)
from durable_backend.otel._invocation_view import InvocationOtelPlugin
from durable_backend.otel._logs import OtelContextLogFilter, install_log_filter

__all__ = [
    "EXECUTION_OTEL_PLUGIN_FACTORY",
    "INVOCATION_OTEL_PLUGIN_FACTORY",
    "ContextExtractor",
    "DeterministicIdGenerator",
    "ExecutionOtelPlugin",
    "ExecutionOtelPluginFactory",
    "ExtractedContext",
    "InvocationOtelPlugin",
    "InvocationOtelPluginFactory",
    "OtelContextLogFilter",
    "OtelPluginConfig",
    "ProviderResult",
    "Sampling",
    "create_tracer_provider",
    "derive_execution_root_span_id",
    "derive_workflow_span_id",
    "install_log_filter",
    "operation_id_to_span_id",
    "w3c_client_context_extractor",
    "xray_context_extractor",
]
