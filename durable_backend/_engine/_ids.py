"""The ids of one context, handed out in call order (the scheme is ``operation_id``'s)."""

from __future__ import annotations

from durable_backend._protocol import operation_id

__all__ = ["IdSequence", "operation_id"]


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
