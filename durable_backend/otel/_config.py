"""The one configuration both OpenTelemetry views take, and how it picks a tracer provider."""

from __future__ import annotations

from typing import Any

from attrs import field, frozen
from attrs.validators import instance_of
from opentelemetry import trace
from opentelemetry.trace import TracerProvider

from durable_backend.otel._extractors import ContextExtractor

DEFAULT_INSTRUMENT_NAME = "durable_backend"
DEFAULT_WORKFLOW_SPAN_NAME = "Workflow"


def _provider(_: Any, attribute: Any, value: object) -> None:
    if value is not None and not isinstance(value, TracerProvider):
        raise TypeError(
            f"OtelPluginConfig.{attribute.name} must be an OpenTelemetry TracerProvider "
            f"(for example opentelemetry.sdk.trace.TracerProvider()), not {type(value).__name__}"
        )


def _extractor(_: Any, attribute: Any, value: object) -> None:
    if value is not None and not callable(value):
        raise TypeError(
            f"OtelPluginConfig.{attribute.name} must be a callable taking InvocationStartInfo "
            f"and returning ExtractedContext or None, not {type(value).__name__}"
        )


def _text(_: Any, attribute: Any, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"OtelPluginConfig.{attribute.name} must be a non-empty str, not {value!r}"
        )


@frozen
class OtelPluginConfig:
    """What every plugin a factory builds uses.

    ``tracer_provider``: the provider to use; None resolves the global one at each invocation
    start, so one installed after the handler module was imported still counts. Deterministic
    ids need an SDK provider (``opentelemetry.sdk.trace.TracerProvider``); with any other the
    plugin logs a warning and traces nothing. ``context_extractor``: where an invocation's
    propagated trace context comes from (default: ``xray_context_extractor``).
    ``instrument_name``: the tracer's instrumentation scope. ``workflow_span_name``: the name of
    the execution-wide span. ``enrich_logger``: stamp ``traceId``, ``spanId`` and
    ``otelTraceSampled`` on the records the root logger's handlers emit.
    """

    tracer_provider: TracerProvider | None = field(default=None, validator=_provider)
    context_extractor: ContextExtractor | None = field(default=None, validator=_extractor)
    instrument_name: str = field(default=DEFAULT_INSTRUMENT_NAME, validator=_text)
    workflow_span_name: str = field(default=DEFAULT_WORKFLOW_SPAN_NAME, validator=_text)
    enrich_logger: bool = field(default=True, validator=instance_of(bool))


@frozen
class ProviderResult:
    """The provider a plugin uses, and whether it is the global one."""

    tracer_provider: TracerProvider
    uses_global_provider: bool


def create_tracer_provider(config: OtelPluginConfig) -> ProviderResult:
    """The configured provider, else the global one as it is now."""
    if config.tracer_provider is not None:
        return ProviderResult(config.tracer_provider, uses_global_provider=False)
    return ProviderResult(trace.get_tracer_provider(), uses_global_provider=True)
