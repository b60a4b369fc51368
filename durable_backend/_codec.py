"""cattrs converters for the two wire flavours of the same models.

* ``boto_converter``: the dicts boto3 takes and returns (timestamps as ``datetime``).
* ``event_converter``: the Lambda invocation event JSON (timestamps as epoch milliseconds).

Both rename snake_case attributes to the service's PascalCase, ignore keys a newer service may
add, and omit absent optionals on output. Structure functions are generated once at import, and
the hooks for optionals, enums and scalars are resolved once per type instead of dispatched per
value: a replay decodes every operation of the history, so this is the hot path.
"""

from __future__ import annotations

import functools
import json
import types
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

import attrs
from cattrs import Converter
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from durable_backend import _models as m

T = TypeVar("T")

_MODELS: tuple[type[Any], ...] = (
    m.ErrorObject,
    m.ExecutionDetails,
    m.ContextDetails,
    m.StepDetails,
    m.WaitDetails,
    m.CallbackDetails,
    m.ChainedInvokeDetails,
    m.Operation,
    m.ContextOptions,
    m.StepOptions,
    m.WaitOptions,
    m.CallbackOptions,
    m.ChainedInvokeOptions,
    m.OperationUpdate,
    m.CheckpointUpdatedExecutionState,
    m.CheckpointDurableExecutionOutput,
    m.GetDurableExecutionStateOutput,
    m.InitialExecutionState,
    m.DurableInvocationInput,
    m.DurableInvocationOutput,
)

_ENUMS: tuple[type[Enum], ...] = (
    m.OperationType,
    m.OperationAction,
    m.OperationStatus,
)
"""The models' enums. Registered class by class: cattrs would otherwise call the class
(``Enum.__call__``), several times the cost of the member lookup on a replay's hot path."""

_SPECIAL_NAMES = {"x_amzn_trace_id": "XAmznTraceId"}


def wire_name(attribute: str) -> str:
    """``parent_id`` -> ``ParentId``: the service's spelling of a model attribute."""
    special = _SPECIAL_NAMES.get(attribute)
    if special is not None:
        return special
    return "".join(part[:1].upper() + part[1:] for part in attribute.split("_"))


@functools.lru_cache(maxsize=64)
def _from_epoch_ms(value: int) -> datetime:
    # Cached: a fast step's START and SUCCEED land in one call, so its two timestamps (and
    # often its neighbours') are the same millisecond.
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _epoch_ms_to_datetime(value: Any, _: type[Any]) -> datetime:
    if value.__class__ is int:
        return _from_epoch_ms(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    raise TypeError(f"expected epoch milliseconds, got {type(value).__name__}")


def _optional_epoch_ms_to_datetime(value: Any, _: type[Any]) -> datetime | None:
    # Every operation carries two optional timestamps: the common case is read in one call.
    if value.__class__ is int:
        return _from_epoch_ms(value)
    return None if value is None else _epoch_ms_to_datetime(value, datetime)


def _datetime_to_epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _boto_datetime(value: Any, _: type[Any]) -> datetime:
    if isinstance(value, datetime):
        return value
    return _epoch_ms_to_datetime(value, datetime)


def _optional_boto_datetime(value: Any, _: type[Any]) -> datetime | None:
    if value is None or value.__class__ is datetime:
        return value
    return _boto_datetime(value, datetime)


def _is_homogeneous_tuple(cls: Any) -> bool:
    """``tuple[X, ...]``: structured with X's hook resolved once, not through cattrs' general
    tuple hook, which works out the element type and dispatches on it for every tuple (every
    page of operations an invocation decodes)."""
    args = typing.get_args(cls)
    return typing.get_origin(cls) is tuple and len(args) == 2 and args[1] is Ellipsis


def _is_optional(cls: Any) -> bool:
    args = typing.get_args(cls)
    return (
        typing.get_origin(cls) in (typing.Union, types.UnionType)
        and len(args) == 2
        and type(None) in args
    )


def _is_exactly(scalar: type[Any]) -> Callable[[Any], bool]:
    return lambda cls: cls is scalar


def _structure_enum(cls: type[Enum]) -> Callable[[Any, type[Any]], Enum]:
    members = cls._value2member_map_

    def structure(value: Any, _: type[Any]) -> Enum:
        try:
            return members[value]
        except (KeyError, TypeError):
            return cls(value)

    return structure


def _structure_scalar(cls: type[Any], optional: bool = False) -> Callable[[Any, type[Any]], Any]:
    if optional:

        def structure(value: Any, _: type[Any]) -> Any:
            return value if value is None or value.__class__ is cls else cls(value)

    else:

        def structure(value: Any, _: type[Any]) -> Any:
            return value if value.__class__ is cls else cls(value)

    return structure


def _objects_only(
    model: type[Any], structure: Callable[[Any, type[Any]], Any], optional: bool = False
) -> Callable[[Any, type[Any]], Any]:
    """``structure`` for objects only (and None, when ``optional``). cattrs would read a list
    or a string given for an object as an object with every field absent (``StepDetails:
    [...]`` as no details at all); the service never sends one, so it is malformed input, and
    named as such. One wrapper does both checks: a replay decodes every operation's details."""
    name = model.__name__

    def checked(value: Any, cls: type[Any]) -> Any:
        if value.__class__ is not dict:
            if value is None and optional:
                return None
            if not isinstance(value, Mapping):
                raise TypeError(f"{name} must be an object, got {type(value).__name__}")
        return structure(value, model)

    return checked


def _build(structure_datetime: Callable[[Any, type[Any]], datetime],
           structure_optional_datetime: Callable[[Any, type[Any]], datetime | None],
           unstructure_datetime: Callable[[datetime], Any]) -> Converter:
    converter = Converter(
        detailed_validation=False,
        unstruct_collection_overrides={tuple: list},
    )

    def structure_homogeneous(cls: Any) -> Callable[[Any, type[Any]], Any]:
        item = typing.get_args(cls)[0]
        hook = converter.get_structure_hook(item)

        def structure(value: Any, _: type[Any]) -> tuple[Any, ...]:
            return tuple([hook(element, item) for element in value])

        return structure

    generated: dict[type[Any], Callable[[Any, type[Any]], Any]] = {}

    def structure_optional(cls: Any) -> Callable[[Any, type[Any]], Any]:
        inner = next(arg for arg in typing.get_args(cls) if arg is not type(None))
        if inner in (str, int):
            return _structure_scalar(inner, optional=True)
        if inner is datetime:
            return structure_optional_datetime
        if inner in generated:
            return _objects_only(inner, generated[inner], optional=True)
        hook = converter.get_structure_hook(inner)

        def structure(value: Any, _: type[Any]) -> Any:
            return None if value is None else hook(value, inner)

        return structure

    converter.register_structure_hook(datetime, structure_datetime)
    for scalar in (str, int):
        # Exact types only: str-valued enums must not pick up the str hook.
        converter.register_structure_hook_func(_is_exactly(scalar), _structure_scalar(scalar))
    for enum in _ENUMS:
        converter.register_structure_hook(enum, _structure_enum(enum))
    converter.register_structure_hook_factory(_is_optional, structure_optional)
    converter.register_structure_hook_factory(_is_homogeneous_tuple, structure_homogeneous)
    converter.register_unstructure_hook(datetime, unstructure_datetime)
    converter.register_unstructure_hook_func(
        lambda cls: isinstance(cls, type) and issubclass(cls, Enum), lambda value: value.value
    )
    for model in _MODELS:
        renames = {a.name: override(rename=wire_name(a.name)) for a in attrs.fields(model)}
        structure = make_dict_structure_fn(model, converter, **renames)  # type: ignore[arg-type]
        generated[model] = structure
        converter.register_structure_hook(model, _objects_only(model, structure))
        converter.register_unstructure_hook(
            model,
            make_dict_unstructure_fn(
                model, converter, _cattrs_omit_if_default=True, **renames  # type: ignore[arg-type]
            ),
        )
    return converter


boto_converter: Converter = _build(_boto_datetime, _optional_boto_datetime, lambda value: value)
event_converter: Converter = _build(
    _epoch_ms_to_datetime, _optional_epoch_ms_to_datetime, _datetime_to_epoch_ms
)


def to_wire(value: Any, converter: Converter = boto_converter) -> dict[str, Any]:
    """Unstructure one model into a wire dict, absent optionals omitted."""
    result: dict[str, Any] = converter.unstructure(value)
    return result


def from_wire(data: Mapping[str, Any], cls: type[T], converter: Converter = boto_converter) -> T:
    """Structure a wire dict into ``cls``, ignoring keys a newer service added."""
    return converter.structure(data, cls)


def utf8_size(text: str) -> int:
    """The bytes ``text`` takes in UTF-8: what the service's payload limits count.

    A custom serdes may return any text, so characters are not bytes; lone surrogates (which
    the service would refuse anyway) are counted as the three bytes they would take.
    """
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def json_string_size(text: str) -> int:
    """The bytes ``text`` takes as a JSON string in the handler's response, as the Lambda
    runtime's ``json.dumps`` writes it: quotes, backslash escapes and ``\\uXXXX`` for non-ASCII
    included (an upper bound if a runtime leaves UTF-8 unescaped)."""
    return len(json.dumps(text))
