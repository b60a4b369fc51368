"""Serialization of operation results and payloads to the strings the service stores.

A step's result is checkpointed as a string and, on replay, rebuilt from that string. The engine
therefore hands the *deserialized* value back on the first run too, so both runs return equal
values. Which serdes applies is decided once per call site by ``serdes_for``:

* an explicit ``serdes`` in the operation's config wins;
* a function annotated with a richer return type (attrs class, dataclass, pydantic model,
  ``datetime``, ``tuple[int, str]``, ...) gets a cached ``TypedSerDes`` that rebuilds that type;
* anything else (unannotated, ``Any``, plain JSON types) gets ``JSON_SERDES``: plain JSON, the
  same bytes the official SDK writes for JSON values.
"""

from __future__ import annotations

import inspect
import json
import types
from collections.abc import Callable
from datetime import time
from decimal import Decimal
from typing import Any, Protocol, TypeAlias, TypeVar, get_args, get_origin
from uuid import UUID

from attrs import frozen
from cattrs import BaseValidationError, Converter, transform_error
from cattrs.errors import StructureHandlerNotFoundError
from cattrs.preconf.json import make_converter

from durable_backend._batch import BatchItem, BatchResult, CompletionReason
from durable_backend._codec import from_wire, to_wire
from durable_backend._config import BatchItemStatus
from durable_backend._errors import RetryableSerDesError, SerDesError
from durable_backend._models import ErrorObject

T = TypeVar("T")

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
"""What JSON decodes to: an invoke's result when no serdes names a richer type."""


@frozen
class SerDesContext:
    """Which operation a value belongs to, for serdes that store data elsewhere (S3, ...)."""

    operation_id: str = ""
    durable_execution_arn: str = ""


class SerDes(Protocol[T]):
    """Turns a value into the string checkpointed for it, and back (official method names)."""

    def serialize(self, value: T, serdes_context: SerDesContext) -> str: ...

    def deserialize(self, data: str, serdes_context: SerDesContext) -> T: ...


def _encode_default(value: object) -> object:
    """Only called for values plain JSON cannot encode, so it costs nothing on the hot path."""
    if isinstance(value, BatchResult):
        return value.to_dict()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_encode_default)
_DECODER = json.JSONDecoder()


def json_encode(value: Any) -> str:
    """``json.dumps`` with our separators; an int (the commonest step result) is written as the
    encoder writes it, without building the encoder's per-call machinery."""
    if value.__class__ is int:
        return int.__repr__(value)
    return _ENCODER.encode(value)


_raw_decode = _DECODER.raw_decode


def json_decode(data: str) -> Any:
    """``json.loads`` for the payloads we wrote ourselves: the scanner alone, a third of the
    cost; surrounding whitespace or garbage goes through the full decoder and its errors.
    """
    try:
        value, end = _raw_decode(data)
    except ValueError:
        return _DECODER.decode(data)
    if end != len(data):
        return _DECODER.decode(data)
    return value


class JsonSerDes:
    """Plain JSON. Tuples come back as lists and dict keys as strings: annotate the return type
    (or pass a serdes) when that matters.
    """

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        return json_encode(value)

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        return json_decode(data)


JSON_SERDES = JsonSerDes()


class BatchResultSerDes:
    """A map/parallel result in the official dict form, the default for the whole batch."""

    def serialize(self, value: BatchResult[Any], serdes_context: SerDesContext) -> str:
        return _ENCODER.encode(value.to_dict())

    def deserialize(self, data: str, serdes_context: SerDesContext) -> BatchResult[Any]:
        return BatchResult.from_dict(json_decode(data))


BATCH_SERDES = BatchResultSerDes()


def _is_pydantic_model(tp: Any) -> bool:
    return isinstance(tp, type) and hasattr(tp, "model_validate") and hasattr(tp, "model_dump")


def _is_batch_result(tp: Any) -> bool:
    return tp is BatchResult or get_origin(tp) is BatchResult


def _make_converter() -> Converter:
    """cattrs' JSON preset (datetimes as ISO strings, ...), UUID/Decimal/time as strings,
    pydantic models if present,
    plus ``BatchResult[T]`` in the official dict form with each result rebuilt as ``T``.
    """
    converter = make_converter()

    def item_type(tp: Any) -> Any:
        args = get_args(tp)
        return args[0] if args else Any

    def structure_batch(tp: Any) -> Callable[[Any, Any], Any]:
        structure_item = converter.get_structure_hook(item_type(tp))
        result_type = item_type(tp)

        def structure(data: Any, _: Any) -> BatchResult[Any]:
            items = [
                BatchItem(
                    index=item["index"],
                    status=BatchItemStatus(item["status"]),
                    result=None
                    if item.get("result") is None
                    else structure_item(item["result"], result_type),
                    error=from_wire(item["error"], ErrorObject) if item.get("error") else None,
                )
                for item in data["all"]
            ]
            return BatchResult(items, CompletionReason(data["completionReason"]))

        return structure

    def unstructure_batch(tp: Any) -> Callable[[Any], Any]:
        unstructure_item = converter.get_unstructure_hook(item_type(tp))

        def unstructure(value: BatchResult[Any]) -> dict[str, Any]:
            return {
                "all": [
                    {
                        "index": item.index,
                        "status": item.status.value,
                        "result": None if item.result is None else unstructure_item(item.result),
                        "error": to_wire(item.error) if item.error is not None else None,
                    }
                    for item in value.all
                ],
                "completionReason": value.completion_reason.value,
            }

        return unstructure

    converter.register_structure_hook_factory(_is_batch_result, structure_batch)
    converter.register_unstructure_hook_factory(_is_batch_result, unstructure_batch)

    def structure_pydantic(tp: Any) -> Callable[[Any, Any], Any]:
        return lambda data, _: tp.model_validate(data)

    def unstructure_pydantic(_: Any) -> Callable[[Any], Any]:
        return lambda value: value.model_dump(mode="json")

    for exact in (UUID, Decimal):  # as strings, so no precision is lost
        converter.register_structure_hook(exact, lambda data, tp: tp(data))
        converter.register_unstructure_hook(exact, str)
    converter.register_structure_hook(time, lambda data, _: time.fromisoformat(data))
    converter.register_unstructure_hook(time, time.isoformat)
    converter.register_structure_hook_factory(_is_pydantic_model, structure_pydantic)
    converter.register_unstructure_hook_factory(_is_pydantic_model, unstructure_pydantic)
    return converter


_CONVERTER = _make_converter()


class TypedSerDes:
    """JSON that rebuilds values of type ``tp`` through cattrs (attrs, dataclasses, generics...)."""

    def __init__(self, tp: Any, converter: Converter = _CONVERTER) -> None:
        self.tp = tp
        self._unstructure = converter.get_unstructure_hook(tp)
        self._structure = converter.get_structure_hook(tp)

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        return _ENCODER.encode(self._unstructure(value))

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        return self._structure(json_decode(data), self.tp)

    def __repr__(self) -> str:
        return f"TypedSerDes({self.tp!r})"


_PLAIN_JSON: frozenset[object] = frozenset(
    {None, types.NoneType, Any, object, inspect.Signature.empty, str, int, float, bool, dict, list}
)
_TYPED: dict[object, SerDes[Any]] = {}


def _typed_or_json(annotation: object) -> SerDes[Any]:
    """A ``TypedSerDes``, or plain JSON for a type cattrs cannot rebuild (an arbitrary class).

    A rebuildable type with a field cattrs cannot rebuild is an error, not a silent downgrade.
    """
    try:
        return TypedSerDes(annotation)
    except StructureHandlerNotFoundError as error:
        if error.type_ is annotation:
            return JSON_SERDES
        raise SerDesError(
            f"Results annotated {annotation!r} cannot be rebuilt: it contains {error.type_!r}, "
            "which has no structure hook. Use a supported type or set a serdes in the "
            "operation's config."
        ) from error


def serdes_for(return_annotation: object | None, explicit: SerDes[Any] | None) -> SerDes[Any]:
    """The serdes for a result annotated ``return_annotation`` (resolved, not a string).

    Cached per annotation, so calling it on every operation costs a dict lookup. A string
    (unresolved forward reference) or a type cattrs cannot rebuild falls back to JSON.
    """
    if explicit is not None:
        return explicit
    try:
        if return_annotation in _PLAIN_JSON or isinstance(return_annotation, str):
            return JSON_SERDES
        cached = _TYPED.get(return_annotation)
    except TypeError:  # an unhashable annotation object: build, don't cache
        return _typed_or_json(return_annotation)
    if cached is None:
        cached = _TYPED[return_annotation] = _typed_or_json(return_annotation)
    return cached


def _describe(value: object) -> str:
    kind = type(value)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def _where(ctx: SerDesContext, operation_name: str | None) -> str:
    """An operation by the name its author gave it; by id only when it has none."""
    if operation_name:
        return f"operation {operation_name!r}"
    return f"unnamed operation (id {ctx.operation_id or '?'})"


def serialize(
    serdes: SerDes[Any] | None,
    value: object,
    ctx: SerDesContext,
    *,
    operation_name: str | None = None,
) -> str:
    """``serdes.serialize`` (plain JSON when None); failures become a ``SerDesError``."""
    active = JSON_SERDES if serdes is None else serdes
    try:
        data: object = active.serialize(value, ctx)
    except (SerDesError, RetryableSerDesError):
        raise
    except Exception as error:
        hint = (
            " Annotate the function's return type or set a serdes in the operation's config."
            if active is JSON_SERDES
            else ""
        )
        raise SerDesError(
            f"Could not serialize the {_describe(value)} result of {_where(ctx, operation_name)} "
            f"with {type(active).__name__}: {error}.{hint}"
        ) from error
    if not isinstance(data, str):
        raise SerDesError(
            f"{type(active).__name__}.serialize returned {_describe(data)}, not str, "
            f"for {_where(ctx, operation_name)}"
        )
    return data


def deserialize(
    serdes: SerDes[Any] | None,
    data: str | None,
    ctx: SerDesContext,
    *,
    operation_name: str | None = None,
    subject: str | None = None,
) -> Any:
    """``serdes.deserialize`` (plain JSON when None; a missing payload is ``None``) with failures
    as a ``SerDesError`` saying where (``subject``, or the operation's stored result).
    """
    if data is None:
        return None
    if serdes is None:
        serdes = JSON_SERDES
    try:
        return serdes.deserialize(data, ctx)
    except (SerDesError, RetryableSerDesError):
        raise
    except Exception as error:
        target = f" into {serdes.tp!r}" if isinstance(serdes, TypedSerDes) else ""
        detail = (
            "; ".join(transform_error(error))
            if isinstance(error, BaseValidationError)
            else str(error)
        )
        raise SerDesError(
            f"Could not deserialize "
            f"{subject or 'the stored result of ' + _where(ctx, operation_name)}{target} "
            f"with {type(serdes).__name__}: {detail}"
        ) from error
