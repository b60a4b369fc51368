"""Static type cases for ``durable_backend.otel``, checked by mypy --strict and pyright.

The ``check_*`` functions are never called: the type checkers read them.
"""

from __future__ import annotations

import logging
from typing import assert_type

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanContext

import durable_backend as db
from durable_backend.otel import (
    EXECUTION_OTEL_PLUGIN_FACTORY,
    INVOCATION_OTEL_PLUGIN_FACTORY,
    ContextExtractor,
    DeterministicIdGenerator,
    ExecutionOtelPlugin,
    ExecutionOtelPluginFactory,
    ExtractedContext,
    InvocationOtelPlugin,
    InvocationOtelPluginFactory,
    OtelContextLogFilter,
    OtelPluginConfig,
    ProviderResult,
    Sampling,
    create_tracer_provider,
    derive_execution_root_span_id,
    derive_workflow_span_id,
    install_log_filter,
    operation_id_to_span_id,
    w3c_client_context_extractor,
    xray_context_extractor,
)
from durable_backend.plugin import (
    DurableInstrumentationPlugin,
    DurableInstrumentationPluginFactory,
    InvocationStartInfo,
)


def check_factories_are_plugin_factories(info: InvocationStartInfo) -> None:
    config = OtelPluginConfig(tracer_provider=TracerProvider(), enrich_logger=False)
    factories: list[DurableInstrumentationPluginFactory] = [
        InvocationOtelPluginFactory(config),
        ExecutionOtelPluginFactory(),
        INVOCATION_OTEL_PLUGIN_FACTORY,
        EXECUTION_OTEL_PLUGIN_FACTORY,
    ]
    assert_type(InvocationOtelPluginFactory(config).create_plugin(info), InvocationOtelPlugin)
    assert_type(ExecutionOtelPluginFactory(config).create_plugin(info), ExecutionOtelPlugin)
    plugin: DurableInstrumentationPlugin = ExecutionOtelPlugin(config)
    assert_type(InvocationOtelPlugin().get_current_span_context(), SpanContext | None)
    assert_type(InvocationOtelPluginFactory().config, OtelPluginConfig | None)

    @db.durable_execution(plugins=factories)
    def handler(event: dict[str, str], ctx: db.DurableContext) -> str:
        return ctx.step(lambda _: "done", name="work")

    del plugin, handler


def check_extractors_and_ids(info: InvocationStartInfo) -> None:
    extractor: ContextExtractor = xray_context_extractor
    custom: ContextExtractor = lambda i: ExtractedContext(1, 2, Sampling.SAMPLED)  # noqa: E731
    assert_type(extractor(info), ExtractedContext | None)
    assert_type(w3c_client_context_extractor(info), ExtractedContext | None)
    extracted = custom(info)
    if extracted is not None:
        assert_type(extracted.has_complete_remote_parent, bool)
        assert_type(extracted.trace_id, int | None)
    assert_type(OtelPluginConfig(context_extractor=custom).context_extractor, ContextExtractor | None)
    assert_type(operation_id_to_span_id("arn", "op"), int)
    assert_type(derive_workflow_span_id("arn"), int)
    assert_type(derive_execution_root_span_id("arn"), int)
    assert_type(DeterministicIdGenerator().generate_span_id(), int)


def check_provider_and_logs() -> None:
    result = create_tracer_provider(OtelPluginConfig())
    assert_type(result, ProviderResult)
    assert_type(result.uses_global_provider, bool)
    assert_type(install_log_filter(logging.getLogger("app")), OtelContextLogFilter | None)
