"""Log correlation: the trace and span of the durable work that emitted a record, on the record.

A handler outlives every invocation and several invocations may run at once in one process, so
the filter holds no invocation: each invocation claims the threads and tasks that run its code
(a context variable, set from its hooks), and a record resolves to the invocation that claimed
the place it was emitted from, while that invocation is open. A record from an unclaimed thread
stays unstamped rather than being stamped with some other execution's trace.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import weakref
from typing import Protocol

from opentelemetry.trace import SpanContext


class _Correlates(Protocol):
    def get_current_span_context(self) -> SpanContext | None: ...


_lock = threading.Lock()
_open: weakref.WeakSet[_Correlates] = weakref.WeakSet()
_claim: contextvars.ContextVar[weakref.ref[_Correlates] | None] = contextvars.ContextVar(
    "durable_backend_otel_invocation", default=None
)


def bind_invocation(plugin: _Correlates) -> None:
    """Mark ``plugin``'s invocation open and claim this thread or task for it."""
    claim = _claim.get()
    if claim is not None and claim() is plugin:
        return
    with _lock:
        _open.add(plugin)
    _claim.set(weakref.ref(plugin))


def unbind_invocation(plugin: _Correlates) -> None:
    """Close ``plugin``'s invocation: claims on other threads then resolve to nothing."""
    with _lock:
        _open.discard(plugin)
    claim = _claim.get()
    if claim is not None and claim() is plugin:
        _claim.set(None)


def _claimant() -> _Correlates | None:
    claim = _claim.get()
    plugin = claim() if claim is not None else None
    if plugin is None:
        return None
    with _lock:
        return plugin if plugin in _open else None


class OtelContextLogFilter(logging.Filter):
    """Stamps ``traceId`` (32 hex), ``spanId`` (16 hex) and ``otelTraceSampled`` on each record
    emitted inside an open invocation: the attempt span inside a step, the context span inside
    a child context or branch, the Invocation span elsewhere. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        plugin = _claimant()
        span_context = plugin.get_current_span_context() if plugin is not None else None
        if span_context is not None and span_context.is_valid:
            record.traceId = format(span_context.trace_id, "032x")
            record.spanId = format(span_context.span_id, "016x")
            record.otelTraceSampled = span_context.trace_flags.sampled
        return True


def install_log_filter(target_logger: logging.Logger | None = None) -> OtelContextLogFilter | None:
    """Attach one ``OtelContextLogFilter`` to each handler of ``target_logger`` (default: the
    root logger, where Lambda's handler lives), once; None when it has no handler."""
    target = target_logger if target_logger is not None else logging.getLogger()
    with _lock:
        installed: OtelContextLogFilter | None = None
        for handler in target.handlers:
            found = next((f for f in handler.filters if isinstance(f, OtelContextLogFilter)), None)
            if found is None:
                installed = installed or OtelContextLogFilter()
                handler.addFilter(installed)
            else:
                installed = installed or found
        return installed
