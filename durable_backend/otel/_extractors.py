"""Where an invocation's trace context comes from: the X-Ray header Lambda sets, by default."""

from __future__ import annotations

import os
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, TypeAlias

from attrs import frozen

if TYPE_CHECKING:
    from durable_backend.plugin import InvocationStartInfo

_TRACE_HEADER = "_X_AMZN_TRACE_ID"


class Sampling(Enum):
    """The sampling decision the service propagated, if any."""

    SAMPLED = "sampled"
    NOT_SAMPLED = "not_sampled"
    UNDECIDED = "undecided"


@frozen
class ExtractedContext:
    """Trace context propagated to an invocation: the trace, the parent span, the decision."""

    trace_id: int | None
    parent_span_id: int | None
    sampling: Sampling = Sampling.UNDECIDED

    @property
    def has_valid_trace_id(self) -> bool:
        return self.trace_id is not None and 0 < self.trace_id < 2**128

    @property
    def has_valid_parent_span_id(self) -> bool:
        return self.parent_span_id is not None and 0 < self.parent_span_id < 2**64

    @property
    def has_complete_remote_parent(self) -> bool:
        return self.has_valid_trace_id and self.has_valid_parent_span_id


ContextExtractor: TypeAlias = Callable[["InvocationStartInfo"], ExtractedContext | None]


def _hex(value: str | None, digits: int) -> int | None:
    if value is None or len(value) != digits:
        return None
    try:
        number = int(value, 16)
    except ValueError:
        return None
    return number or None


def parse_xray_header(header: str) -> ExtractedContext | None:
    """``Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=0|1`` as an ``ExtractedContext``;
    None when it names none of the three."""
    fields = dict(
        (key.strip(), value.strip())
        for key, sep, value in (part.partition("=") for part in header.split(";"))
        if sep
    )
    root = fields.get("Root", "").split("-")
    trace_id = _hex(root[1] + root[2], 32) if len(root) == 3 and root[0] == "1" else None
    parent = _hex(fields.get("Parent"), 16)
    sampling = {"1": Sampling.SAMPLED, "0": Sampling.NOT_SAMPLED}.get(
        fields.get("Sampled", ""), Sampling.UNDECIDED
    )
    if trace_id is None and parent is None and sampling is Sampling.UNDECIDED:
        return None
    return ExtractedContext(trace_id=trace_id, parent_span_id=parent, sampling=sampling)


def xray_context_extractor(info: InvocationStartInfo) -> ExtractedContext | None:
    """The trace context in ``_X_AMZN_TRACE_ID``, which Lambda sets for each invocation (the
    durable service fills it from a chained invoke's ``XAmznTraceId``)."""
    header = os.environ.get(_TRACE_HEADER)
    return parse_xray_header(header) if header else None


def w3c_client_context_extractor(info: InvocationStartInfo) -> ExtractedContext | None:
    """Reserved for W3C ``traceparent`` propagation, which the service does not offer yet: None."""
    return None
