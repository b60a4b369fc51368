"""Replay-safe values: ``ctx.now()``, ``ctx.random()`` and ``ctx.uuid4()``.

The cheapest design that stays correct differs per value (benchmarks/replay_safe_cost.py
measures each):

- random numbers and uuids need no record at all. They are derived from the execution ARN,
  the context and a per-context draw counter, so every replay draws the same sequence and
  no two executions or contexts share one. Zero checkpoint updates. Not for secrets: anyone
  who knows the ARN can recompute them.
- the clock cannot be derived, so ``now()`` records what it read as a STEP (subtype ``Now``)
  with a lone SUCCEED. The update is queued, not awaited: it rides along with the next batch
  (no call of its own), and because the queue commits in order, nothing that followed the
  read can be durable while the read itself is lost.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from hashlib import blake2b
from typing import Any
from uuid import UUID

from durable_backend._engine._effects import Effect
from durable_backend._engine._flows import Scope
from durable_backend._models import OperationAction, OperationType

NOW_SUB_TYPE = "Now"
_FLOAT_BITS = 53


def draw(arn: str, parent_id: str | None, index: int) -> bytes:
    """16 bytes that depend only on the execution, the context and the draw's index."""
    return blake2b(f"{arn}|{parent_id or ''}|{index}".encode(), digest_size=16).digest()


def draw_float(arn: str, parent_id: str | None, index: int) -> float:
    """A float in [0, 1) with 53 random bits, like ``random.random()``."""
    bits = int.from_bytes(draw(arn, parent_id, index)[:8], "big") >> (64 - _FLOAT_BITS)
    return bits / (1 << _FLOAT_BITS)


def draw_uuid(arn: str, parent_id: str | None, index: int) -> UUID:
    """A version 4 UUID."""
    return UUID(bytes=draw(arn, parent_id, index), version=4)


def now_flow(
    scope: Scope, op_id: str, clock: Callable[[], float] = time.time
) -> Generator[Effect, Any, datetime]:
    """The recorded clock reading at this position, or a new one queued for the next batch."""
    op = scope.execution.lookup(op_id, OperationType.STEP, NOW_SUB_TYPE, None)
    details = op.step_details if op is not None else None
    if details is not None and details.result is not None:
        return datetime.fromisoformat(json.loads(details.result))
    moment = datetime.fromtimestamp(clock(), tz=UTC)
    update = scope.update(
        op_id,
        OperationType.STEP,
        OperationAction.SUCCEED,
        NOW_SUB_TYPE,
        None,
        payload=json.dumps(moment.isoformat()),
    )
    yield scope.commit((update,), durable=False)
    return moment
