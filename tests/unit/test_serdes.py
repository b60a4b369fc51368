"""SerDes: JSON default, typed round trips by annotation, error wrapping, the JSON fast path."""

from __future__ import annotations

import dataclasses
import inspect
import json
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from durable_backend._batch import BatchItem, BatchResult, CompletionReason
from durable_backend._config import BatchItemStatus
from durable_backend._errors import SerDesError
from durable_backend._models import ErrorObject
from durable_backend._serdes import (
    JSON_SERDES,
    JsonSerDes,
    SerDes,
    SerDesContext,
    TypedSerDes,
    deserialize,
    json_decode,
    serdes_for,
    serialize,
)

CTX = SerDesContext(operation_id="op-7", durable_execution_arn="arn:aws:lambda:x")


def round_trip(serdes: SerDes[Any] | None, value: object) -> Any:
    return deserialize(serdes, serialize(serdes, value, CTX), CTX)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_json_default_round_trips_json_values(value: object) -> None:
    assert round_trip(None, value) == value
    assert round_trip(JSON_SERDES, value) == value


def test_json_is_compact_and_readable_by_plain_json() -> None:
    text = serialize(None, {"a": [1, "x"]}, CTX)
    assert text == '{"a":[1,"x"]}'
    assert json.loads(text) == {"a": [1, "x"]}
    assert deserialize(None, None, CTX) is None


class Color(Enum):
    RED = "red"


@attrs.frozen
class Line:
    sku: str
    qty: int
    color: Color = Color.RED


@dataclasses.dataclass
class Order:
    id: UUID
    placed: datetime
    lines: list[Line]
    tags: tuple[str, ...] = ()
    due: date | None = None
    notes: dict[str, int] = dataclasses.field(default_factory=dict)


ORDER = Order(
    id=UUID("12345678-1234-5678-1234-567812345678"),
    placed=datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC),
    lines=[Line("a", 1), Line("b", 2, Color.RED)],
    tags=("x", "y"),
    due=date(2026, 2, 1),
    notes={"k": 1},
)


@pytest.mark.parametrize(
    ("annotation", "value"),
    [
        (Order, ORDER),
        (Line, Line("z", 3)),
        (list[Line], [Line("a", 1)]),
        (tuple[int, str], (1, "a")),
        (datetime, datetime(2026, 5, 6, tzinfo=UTC)),
        (Line | None, None),
        (dict[str, Line], {"first": Line("a", 1)}),
        (list[Decimal], [Decimal("1.10"), Decimal("0.3")]),
        (time, time(1, 2, 3)),
    ],
)
def test_typed_round_trip_by_annotation(annotation: Any, value: object) -> None:
    serdes = serdes_for(annotation, None)
    assert isinstance(serdes, TypedSerDes)
    back = round_trip(serdes, value)
    assert back == value
    assert type(back) is type(value)


def test_json_loses_tuples_which_is_why_annotations_matter() -> None:
    assert round_trip(None, (1, 2)) == [1, 2]
    assert round_trip(serdes_for(tuple[int, int], None), (1, 2)) == (1, 2)


def test_pydantic_models_round_trip() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Item(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        name: str
        when: datetime

    value = Item(name="a", when=datetime(2026, 1, 1, tzinfo=UTC))
    assert round_trip(serdes_for(Item, None), value) == value
    assert round_trip(serdes_for(list[Item], None), [value]) == [value]


@pytest.mark.parametrize(
    "annotation",
    [None, type(None), Any, object, inspect.Signature.empty, int, str, float, bool, dict, list],
)
def test_plain_annotations_use_json(annotation: object) -> None:
    assert serdes_for(annotation, None) is JSON_SERDES


@attrs.frozen
class HasOpaque:
    thing: Opaque


class Opaque:
    pass


def test_type_with_unrebuildable_field_is_an_error() -> None:
    with pytest.raises(SerDesError, match=r"HasOpaque.*cannot be rebuilt.*Opaque"):
        serdes_for(HasOpaque, None)


def test_unresolved_string_annotation_and_unknown_class_fall_back_to_json() -> None:
    class Opaque:
        pass

    assert serdes_for("Order", None) is JSON_SERDES
    assert serdes_for(Opaque, None) is JSON_SERDES


def test_explicit_serdes_wins_and_typed_serdes_are_cached() -> None:
    explicit = JsonSerDes()
    assert serdes_for(Order, explicit) is explicit
    assert serdes_for(Order, None) is serdes_for(Order, None)
    assert serdes_for(list[Line], None) is serdes_for(list[Line], None)


def test_batch_result_round_trips_typed_and_as_json_dict() -> None:
    result = BatchResult(
        [
            BatchItem(0, BatchItemStatus.SUCCEEDED, Line("a", 1)),
            BatchItem(1, BatchItemStatus.FAILED, error=ErrorObject("boom", "ValueError")),
            BatchItem(2, BatchItemStatus.STARTED),
        ],
        CompletionReason.MIN_SUCCESSFUL_REACHED,
    )
    typed = serdes_for(BatchResult[Line], None)
    assert round_trip(typed, result) == result
    text = serialize(typed, result, CTX)
    assert json.loads(text)["completionReason"] == "MIN_SUCCESSFUL_REACHED"
    untyped = deserialize(serdes_for(BatchResult, None), text, CTX)
    assert untyped.all[0].result == {"sku": "a", "qty": 1, "color": "red"}
    # Plain JSON writes the same dict form, so the result of a handler can be a BatchResult.
    assert serialize(None, untyped, CTX) == text
    assert BatchResult.from_dict(deserialize(None, text, CTX)) == untyped


def test_unserializable_value_raises_serdes_error_naming_operation_and_type() -> None:
    with pytest.raises(SerDesError) as caught:
        serialize(None, ORDER, CTX, operation_name="charge")
    message = str(caught.value)
    assert "operation 'charge'" in message and "op-7" not in message  # the name, not the id
    assert f"{__name__}.Order" in message
    assert "Annotate the function's return type" in message
    assert isinstance(caught.value.__cause__, TypeError)
    with pytest.raises(SerDesError, match=r"unnamed operation \(id op-7\)"):
        serialize(None, ORDER, CTX)


def test_typed_serialize_of_wrong_value_raises_serdes_error() -> None:
    with pytest.raises(SerDesError, match=r"Could not serialize the set result .* TypedSerDes"):
        serialize(serdes_for(Line, None), {1, 2}, CTX)


def test_bad_stored_data_raises_serdes_error_with_details() -> None:
    with pytest.raises(SerDesError) as caught:
        deserialize(serdes_for(Line, None), '{"sku": "a"}', CTX, operation_name="load")
    message = str(caught.value)
    assert "'load'" in message and "Line" in message and "qty" in message
    with pytest.raises(SerDesError, match="Could not deserialize"):
        deserialize(None, "{not json", CTX)


class Exploding:
    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        raise SerDesError("custom failure")

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        raise RuntimeError("disk gone")


class ReturnsBytes:
    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        return b"x"  # type: ignore[return-value]

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        return data


def test_user_serdes_errors() -> None:
    with pytest.raises(SerDesError, match=r"^custom failure$"):
        serialize(Exploding(), 1, CTX)
    with pytest.raises(SerDesError, match="with Exploding: disk gone"):
        deserialize(Exploding(), "1", CTX)
    with pytest.raises(SerDesError, match=r"ReturnsBytes\.serialize returned bytes, not str"):
        serialize(ReturnsBytes(), 1, CTX)


def test_user_serdes_receives_context() -> None:
    seen: list[SerDesContext] = []

    class Recording:
        def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
            seen.append(serdes_context)
            return str(value)

        def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
            seen.append(serdes_context)
            return int(data)

    assert round_trip(Recording(), 5) == 5
    assert seen == [CTX, CTX]


@given(json_values)
def test_fast_json_decode_agrees_with_json_loads(value: object) -> None:
    text = json.dumps(value)
    assert json_decode(text) == json.loads(text)
    assert json_decode(f" {text}\n") == json.loads(f" {text}\n")


@pytest.mark.parametrize("text", ["", "1 2", "[1,", "{} x", " "])
def test_fast_json_decode_reports_bad_input_like_json_loads(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as ours:
        json_decode(text)
    with pytest.raises(json.JSONDecodeError) as stdlib:
        json.loads(text)
    assert str(ours.value) == str(stdlib.value)
