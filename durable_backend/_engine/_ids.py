"""Deterministic operation ids, identical to the official Python SDK's.

Matching its scheme keeps histories comparable across SDKs and lets AWS's tools read ours.
"""

from __future__ import annotations

from hashlib import blake2b


def operation_id(parent_id: str | None, position: int) -> str:
    """The id of the ``position``-th durable call (from 1) inside ``parent_id``'s context."""
    key = f"{parent_id}-{position}" if parent_id else str(position)
    return blake2b(key.encode()).hexdigest()[:64]


class IdSequence:
    """Hands out the ids of one context in call order; not thread-safe on purpose.

    Both drivers allocate ids on the calling thread or task at call time, which is what makes
    concurrent operations replay deterministically.
    """

    __slots__ = ("_parent_id", "_position")

    def __init__(self, parent_id: str | None) -> None:
        self._parent_id = parent_id
        self._position = 0

    @property
    def parent_id(self) -> str | None:
        return self._parent_id

    def next(self) -> str:
        self._position += 1
        return operation_id(self._parent_id, self._position)
