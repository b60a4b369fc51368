"""The extra's surface: the official OTel package's names, typed errors, a lean base package."""

from __future__ import annotations

import inspect
import logging
import os
import subprocess
import sys
from typing import Any

import attrs
import pytest
from opentelemetry.trace import NoOpTracerProvider

import durable_backend.otel as otel
from durable_backend.otel import InvocationOtelPluginFactory, OtelPluginConfig
from durable_backend.otel._extractors import parse_xray_header
from tests.engine.conftest import Twin
from tests.otel.conftest import Spans

# aws_durable_execution_sdk_python_otel 2.0.0's __all__, less __version__.
OFFICIAL_NAMES = {
    "EXECUTION_OTEL_PLUGIN_FACTORY", "INVOCATION_OTEL_PLUGIN_FACTORY", "ContextExtractor",
    "DeterministicIdGenerator", "ExecutionOtelPlugin", "ExecutionOtelPluginFactory",
    "ExtractedContext", "OtelPluginConfig", "InvocationOtelPlugin", "InvocationOtelPluginFactory",
    "OtelContextLogFilter", "Sampling", "ProviderResult", "create_tracer_provider",
    "derive_execution_root_span_id", "derive_workflow_span_id", "install_log_filter",
    "operation_id_to_span_id", "w3c_client_context_extractor", "xray_context_extractor",
}


def test_the_public_names_are_the_official_packages() -> None:
    assert set(otel.__all__) == OFFICIAL_NAMES
    assert all(hasattr(otel, name) for name in otel.__all__)


def test_the_config_has_the_official_fields_in_order() -> None:
    fields = [field.name for field in attrs.fields(OtelPluginConfig)]
    assert fields == [
        "tracer_provider", "context_extractor", "instrument_name", "workflow_span_name",
        "enrich_logger",
    ]
    assert OtelPluginConfig().workflow_span_name == "Workflow"
    for factory in (otel.InvocationOtelPluginFactory, otel.ExecutionOtelPluginFactory):
        assert list(inspect.signature(factory).parameters) == ["config"]
        assert factory().config is None


def test_importing_durable_backend_does_not_import_opentelemetry() -> None:
    probe = (
        "import sys, durable_backend, durable_backend.plugin; "
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tracer_provider": "global"}, "must be an OpenTelemetry TracerProvider"),
        ({"context_extractor": 42}, "must be a callable taking InvocationStartInfo"),
        ({"instrument_name": ""}, "instrument_name must be a non-empty str"),
        ({"enrich_logger": "no"}, "enrich_logger"),
    ],
)
def test_bad_config_is_a_clear_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        OtelPluginConfig(**options)


def test_the_xray_header_is_parsed_strictly() -> None:
    parsed = parse_xray_header(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
    )
    assert parsed is not None
    assert parsed.trace_id == 0x5759E988BD862E3FE1BE46A994272793
    assert parsed.parent_span_id == 0x53995C3F42CD8AD8
    assert parsed.sampling is otel.Sampling.NOT_SAMPLED
    assert parsed.has_complete_remote_parent
    assert parse_xray_header("Root=2-bad;Parent=xyz") is None
    partial = parse_xray_header("Root=1-5759e988-bd862e3fe1be46a994272793")
    assert partial is not None and not partial.has_complete_remote_parent


def test_an_unsampled_trace_exports_nothing(
    twin: Twin, spans: Spans, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(lambda _: 1, name="one"))

    assert twin.run(scenario, plugins=[InvocationOtelPluginFactory(spans.config)]).status == (
        "SUCCEEDED"
    )
    assert spans.all == []


def test_a_provider_without_the_sdk_traces_nothing_and_says_why(
    twin: Twin, caplog: pytest.LogCaptureFixture
) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(lambda _: 1, name="one"))

    config = OtelPluginConfig(tracer_provider=NoOpTracerProvider())
    outcome = twin.run(scenario, plugins=[InvocationOtelPluginFactory(config)])
    assert outcome.status == "SUCCEEDED" and outcome.result == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("needs an OpenTelemetry SDK TracerProvider" in w for w in warnings), warnings
    caplog.clear()  # the warning is the point here, not a failure


_ENTRY_POINT_PROBE = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import durable_backend as db
from durable_backend.testing import run_workflow

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

@db.durable_execution
def handler(event: object, ctx: db.DurableContext) -> int:
    return ctx.step(lambda _: 1, name="one")

run_workflow(handler, {}).assert_succeeded()
spans = {span.context.span_id: span.name for span in exporter.get_finished_spans()}
(one,) = [span for span in exporter.get_finished_spans() if span.name == "one"]
print(spans[one.parent.span_id])
"""


@pytest.mark.parametrize(
    ("name", "parent"), [("otel-invocation", "Invocation"), ("otel-execution", "Workflow")]
)
def test_the_entry_points_load_a_view_with_the_global_provider(name: str, parent: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _ENTRY_POINT_PROBE],
        capture_output=True, text=True, check=True,
        env={**os.environ, "DURABLE_EXECUTION_PLUGINS": name},
    )
    assert out.stdout.strip() == parent, out.stderr
