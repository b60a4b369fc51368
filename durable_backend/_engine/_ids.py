"""The ids of one context, handed out in call order (the scheme is ``operation_id``'s)."""

from __future__ import annotations

from durable_backend._engine._checkpoints import SuspendExecution
from durable_backend._protocol import operation_id

__all__ = ["IdSequence", "operation_id"]


class IdSequence:
    """Hands out the ids of one context in call order; not thread-safe on purpose.

    Both drivers allocate ids on the calling thread or task at call time, which is what makes
    concurrent operations replay deterministically. The ids are prefixed by the context's own
    id; its operations report ``parent_id``, which differs only for a virtual context.

    ``suspended`` is set once a suspension reached this context's code. Code that caught it
    (a bare ``except:``) cannot start another operation here: ``next`` suspends again.
    """

    __slots__ = ("_position", "_prefix", "parent_id", "suspended")

    def __init__(self, prefix: str | None) -> None:
        self._prefix = prefix
        self.parent_id = prefix
        self._position = 0
        self.suspended: str | None = None

    @classmethod
    def virtual(cls, prefix: str, parent_id: str | None) -> IdSequence:
        """The ids of a virtual context: prefixed by its id, reporting its caller's parent."""
        ids = cls(prefix)
        ids.parent_id = parent_id
        return ids

    @property
    def prefix(self) -> str | None:
        """The id this context's operation ids derive from (its own operation id)."""
        return self._prefix

    def next(self) -> str:
        if self.suspended is not None:
            raise SuspendExecution(
                f"{self.suspended}; an operation called after catching that suspension waits "
                "for the execution to resume"
            )
        self._position += 1
        return operation_id(self._prefix, self._position)
