"""Serialization of checkpointed values (official ``serdes``).

A ``SerDes`` turns a value into the string stored for an operation and back. With none
configured, a function annotated with a richer return type (attrs, dataclass, pydantic,
``datetime``, ...) gets a serdes that rebuilds that type; anything else is plain JSON.
"""

from __future__ import annotations

from typing import Any, TypeVar

from durable_backend._serdes import JSON_SERDES, JsonSerDes, JsonValue, SerDes, SerDesContext
from durable_backend._serdes import deserialize as _deserialize
from durable_backend._serdes import serialize as _serialize

T = TypeVar("T")


class PassThroughSerDes(SerDes[str]):
    """Stores a string as it is: for payloads that are already serialized."""

    def serialize(self, value: str, serdes_context: SerDesContext) -> str:
        return value

    def deserialize(self, data: str, serdes_context: SerDesContext) -> str:
        return data


DEFAULT_JSON_SERDES: SerDes[Any] = JSON_SERDES


def serialize(
    serdes: SerDes[T] | None, value: T, operation_id: str, durable_execution_arn: str
) -> str:
    """``serdes.serialize`` (plain JSON when None); any failure is a ``SerDesError``."""
    return _serialize(serdes, value, SerDesContext(operation_id, durable_execution_arn))


def deserialize(
    serdes: SerDes[T] | None, data: str, operation_id: str, durable_execution_arn: str
) -> T:
    """``serdes.deserialize`` (plain JSON when None); any failure is a ``SerDesError``."""
    value: T = _deserialize(serdes, data, SerDesContext(operation_id, durable_execution_arn))
    return value


__all__ = [
    "DEFAULT_JSON_SERDES",
    "JsonSerDes",
    "JsonValue",
    "PassThroughSerDes",
    "SerDes",
    "SerDesContext",
    "deserialize",
    "serialize",
]
