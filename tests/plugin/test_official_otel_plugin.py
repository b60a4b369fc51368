"""A plugin written for the official 3.x API, unchanged: the official OTel package
(``aws-durable-execution-sdk-python-otel``) traces a workflow on our SDK once its import of
``aws_durable_execution_sdk_python.plugin`` resolves to ``durable_backend.plugin``, which is what
the import rewrite does to its one import. Run in a subprocess, so the alias stays there.

Not a test dependency, so skipped unless installed by hand: its entry points take the names
``durable_backend.otel`` registers (``otel-invocation``, ``otel-execution``), and with both
installed ``DURABLE_EXECUTION_PLUGINS=otel-invocation`` is ambiguous, which
``load_configured_plugins`` refuses, as the official SDK does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("aws_durable_execution_sdk_python_otel")

SCRIPT = '''
import json, sys
import durable_backend, durable_backend.plugin

sys.modules["aws_durable_execution_sdk_python"] = durable_backend
sys.modules["aws_durable_execution_sdk_python.plugin"] = durable_backend.plugin

import aws_durable_execution_sdk_python_otel as otel
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import durable_backend as db
from durable_backend.testing import run_workflow

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
factory = otel.ExecutionOtelPluginFactory(otel.OtelPluginConfig(tracer_provider=provider))


@db.durable_execution(plugins=[factory])
def handler(event: dict, ctx: db.DurableContext) -> str:
    ctx.step(lambda _: 1, name="one")
    ctx.wait(5, name="pause")
    ctx.run_in_child_context(lambda child: child.step(lambda _: 2, name="inner"), name="child")
    return "ok"


@db.durable_execution(plugins=[factory])
async def async_handler(event: dict, ctx: db.AsyncDurableContext) -> str:
    await ctx.step(lambda _: 1, name="one")
    await ctx.wait(5, name="pause")

    async def child(child_ctx: db.AsyncDurableContext) -> int:
        return await child_ctx.step(lambda _: 2, name="inner")

    await ctx.run_in_child_context(child, name="child")
    return "ok"


result = run_workflow(async_handler if sys.argv[1] == "async" else handler)
spans = exporter.get_finished_spans()
names = {span.context.span_id: span.name for span in spans}
print(json.dumps({
    "status": result.status.value,
    "traces": len({span.context.trace_id for span in spans}),
    "spans": sorted(
        [span.name, names.get(span.parent.span_id) if span.parent else None] for span in spans
    ),
}))
'''


@pytest.mark.parametrize("twin", ["sync", "async"])
def test_the_official_otel_plugin_traces_a_workflow_on_ours(twin: str, tmp_path: Path) -> None:
    script = tmp_path / "official_otel.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), twin], capture_output=True, text=True, check=False,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == "SUCCEEDED"
    assert report["traces"] == 1  # both invocations on one execution trace
    spans = [tuple(pair) for pair in report["spans"]]
    assert ("one", "Workflow") in spans and ("one attempt 1", "one") in spans
    assert ("pause", "Workflow") in spans and ("child", "Workflow") in spans
    assert ("inner", "child") in spans and ("inner attempt 1", "inner") in spans
    assert spans.count(("Invocation", "DurableExecutionRoot")) == 2
    assert ("Workflow", "DurableExecutionRoot") in spans
