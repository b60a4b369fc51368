"""Spans through the OpenTelemetry SDK's in-memory exporter, and the engine tests' ``twin``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from durable_backend.otel import OtelPluginConfig
from tests.engine.conftest import Twin, twin  # noqa: F401 (the fixture)
from tests.support.service import MemoryBackend


class Spans:
    """What the exporter received, with the lookups the span-tree assertions need."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.config = OtelPluginConfig(tracer_provider=self.provider)

    @property
    def all(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.all if span.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, f"{len(found)} spans named {name!r}: {self.render()}"
        return found[0]

    def clear(self) -> None:
        self.exporter.clear()

    def render(self) -> str:
        """The exported spans as an indented tree (for assertion messages)."""
        by_id = {span.context.span_id: span for span in self.all}
        lines: list[str] = []

        def walk(span: ReadableSpan, depth: int) -> None:
            lines.append("  " * depth + f"{span.name} [{span.context.span_id:016x}]")
            for child in self.all:
                if child.parent is not None and child.parent.span_id == span.context.span_id:
                    walk(child, depth + 1)

        for span in self.all:
            if span.parent is None or span.parent.span_id not in by_id:
                walk(span, 0)
        return "\n" + "\n".join(lines)


@pytest.fixture
def spans() -> Iterator[Spans]:
    recorded = Spans()
    yield recorded
    recorded.provider.shutdown()


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def invoke_once(
    runner: Twin, scenario: Callable[..., Any], backend: MemoryBackend, arn: str, factory: Any
) -> dict[str, Any]:
    """One invocation of ``scenario`` with the plugin ``factory``, recorded by the service."""
    return runner.invoke(scenario, backend, arn, plugins=[factory])


_WATCHED = ("durable_backend.plugin", "durable_backend.otel", "opentelemetry")


@pytest.fixture(autouse=True)
def no_contained_plugin_failures(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A hook that raises is contained and logged, which would hide a broken span tree."""
    yield
    failures = [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(_WATCHED)
        and record.levelno >= logging.WARNING
    ]
    assert not failures, failures
