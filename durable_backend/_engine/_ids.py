"""The ids of one context, handed out in call order (the scheme is ``operation_id``'s)."""

from __future__ import annotations

from durable_backend._engine._checkpoints import SuspendExecution
from durable_backend._protocol import operation_id

__all__ = ["IdSequence", "operation_id"]


class IdSequence:
    """Hands out the ids of one context in call order; not thread-safe on purpose.

    Both drivers allocate ids on the calling thread or task at call time, which is what makes
    concurrent operations replay deterministically.

    ``suspended`` is set once a suspension reached this context's code. Code that caught it
    (a bare ``except:``) cannot start another operation here: ``next`` suspends again.
    """

    __slots__ = ("_parent_id", "_position", "suspended")

    def __init__(self, parent_id: str | None) -> None:
        self._parent_id = parent_id
        self._position = 0
        self.suspended: str | None = None

    @property
    def parent_id(self) -> str | None:
        return self._parent_id

    def next(self) -> str:
        if self.suspended is not None:
            raise SuspendExecution(
                f"{self.suspended}; an operation called after catching that suspension waits "
                "for the execution to resume"
            )
        self._position += 1
        return operation_id(self._parent_id, self._position)
