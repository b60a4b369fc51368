"""Trace and span ids derived from the execution, so every invocation (and every replay) of one
durable execution lands on the same trace with the same operation span ids."""

from __future__ import annotations

import contextvars
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator

_install_lock = threading.Lock()


def _hash64(namespace: str, *parts: str) -> int:
    """A non-zero 64-bit id (a zero span id is invalid in OpenTelemetry)."""
    digest = hashlib.blake2b(":".join((namespace, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") or 1


def derive_trace_id(execution_arn: str, execution_start_time: datetime) -> int:
    """The execution's trace id when the service propagated none: X-Ray shaped (its first 32
    bits are the execution's start in epoch seconds), the rest hashed from the ARN."""
    seconds = int(execution_start_time.timestamp()) & 0xFFFFFFFF
    digest = hashlib.blake2b(f"trace:{execution_arn}".encode(), digest_size=12).digest()
    return (seconds << 96) | int.from_bytes(digest, "big")


def operation_id_to_span_id(durable_execution_arn: str, operation_id: str) -> int:
    """The span id of one durable operation: the same in every invocation that reports it."""
    return _hash64("operation", durable_execution_arn, operation_id)


def derive_workflow_span_id(durable_execution_arn: str) -> int:
    """The span id of the execution's ``Workflow`` span."""
    if not durable_execution_arn:
        raise ValueError("an execution ARN is needed to derive the Workflow span id")
    return _hash64("workflow", durable_execution_arn)


def derive_execution_root_span_id(durable_execution_arn: str) -> int:
    """The span id of the synthetic ``DurableExecutionRoot`` that anchors a trace the service
    propagated no parent for."""
    if not durable_execution_arn:
        raise ValueError("an execution ARN is needed to derive the execution root span id")
    return _hash64("execution-root", durable_execution_arn)


class DeterministicIdGenerator(IdGenerator):
    """An ``IdGenerator`` that hands out the ids ``use_ids`` names, and otherwise defers to the
    generator it wraps. The override lives in a context variable, so threads and tasks of
    concurrent invocations never take each other's ids; it is spent by the first span started
    under it, so a span a processor starts meanwhile gets its own ids.
    """

    def __init__(self, fallback_id_generator: IdGenerator | None = None) -> None:
        self._fallback = fallback_id_generator or RandomIdGenerator()
        self._override: contextvars.ContextVar[tuple[int | None, int | None] | None] = (
            contextvars.ContextVar("durable_backend_otel_ids", default=None)
        )

    @classmethod
    def install_on_tracer(cls, tracer: SdkTracer) -> DeterministicIdGenerator:
        """The generator ``tracer`` uses, installed first if it has none. Tracers are cached
        per instrumentation scope, so concurrent invocations share one: the check and the
        install are one critical section, and everyone gets the generator the tracer holds."""
        with _install_lock:
            current = tracer.id_generator
            if isinstance(current, cls):
                return current
            generator = cls(current)
            tracer.id_generator = generator
            return generator

    @contextmanager
    def use_ids(self, *, trace_id: int | None, span_id: int | None) -> Iterator[None]:
        """Give the next span started in this context these ids (``None``: generate one)."""
        token = self._override.set((trace_id, span_id))
        try:
            yield
        finally:
            self._override.reset(token)

    def generate_trace_id(self) -> int:
        override = self._override.get()
        if override is not None and override[0] is not None:
            self._override.set((None, override[1]))
            return override[0]
        return self._fallback.generate_trace_id()

    def generate_span_id(self) -> int:
        override = self._override.get()
        if override is not None:
            self._override.set(None)
            if override[1] is not None:
                return override[1]
        return self._fallback.generate_span_id()

    def is_trace_id_random(self) -> bool:
        override = self._override.get()
        if override is not None:
            return False
        return self._fallback.is_trace_id_random()
