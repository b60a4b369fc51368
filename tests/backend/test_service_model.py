"""Our wire models against botocore's own ``lambda`` service model: no member left behind."""

from __future__ import annotations

import inspect
import types
import typing
from enum import Enum
from typing import Any

import attrs
import botocore.session
import pytest
from botocore.model import ListShape, ServiceModel, Shape, StructureShape

from durable_backend import _models as m
from durable_backend._backend import AsyncDurableBackend, DurableBackend
from durable_backend._codec import wire_name


@pytest.fixture(scope="module")
def service() -> ServiceModel:
    return botocore.session.get_session().get_service_model("lambda")


def _unwrap(hint: Any) -> Any:
    """``X | None`` -> ``X``; ``tuple[X, ...]`` -> ``X``."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if typing.get_origin(hint) is tuple:
        hint = typing.get_args(hint)[0]
    return hint


def _compare(cls: type[Any], shape: StructureShape, path: str, checked: set[str]) -> None:
    checked.add(shape.name)
    hints = typing.get_type_hints(cls)
    ours = {wire_name(a.name): a.name for a in attrs.fields(cls)}
    missing = sorted(set(shape.members) - set(ours))
    assert not missing, f"{cls.__name__} lacks {missing} of botocore's {shape.name} ({path})"
    unknown = sorted(set(ours) - set(shape.members))
    assert not unknown, f"{cls.__name__} has {unknown} not in botocore's {shape.name} ({path})"
    for member, member_shape in shape.members.items():
        hint = _unwrap(hints[ours[member]])
        target: Shape = member_shape.member if isinstance(member_shape, ListShape) else member_shape
        if isinstance(target, StructureShape):
            _compare(hint, target, f"{path}.{member}", checked)
        elif getattr(target, "enum", None):
            assert isinstance(hint, type) and issubclass(hint, Enum), f"{path}.{member}"
            assert sorted(e.value for e in hint) == sorted(target.enum), f"{path}.{member}"


@pytest.mark.parametrize(
    ("cls", "shape_name"),
    [
        (m.Operation, "Operation"),
        (m.OperationUpdate, "OperationUpdate"),
        (m.ErrorObject, "ErrorObject"),
        (m.CheckpointUpdatedExecutionState, "CheckpointUpdatedExecutionState"),
    ],
)
def test_model_covers_shape(service: ServiceModel, cls: type[Any], shape_name: str) -> None:
    shape = service.shape_for(shape_name)
    assert isinstance(shape, StructureShape)
    _compare(cls, shape, shape_name, set())


def test_every_details_and_options_shape_is_walked(service: ServiceModel) -> None:
    checked: set[str] = set()
    for cls, name in ((m.Operation, "Operation"), (m.OperationUpdate, "OperationUpdate")):
        shape = service.shape_for(name)
        assert isinstance(shape, StructureShape)
        _compare(cls, shape, name, checked)
    expected = {
        f"{kind}{suffix}"
        for kind in ("Context", "Step", "Callback", "ChainedInvoke")
        for suffix in ("Details", "Options")
    } | {"ExecutionDetails", "WaitDetails", "WaitOptions", "ErrorObject"}
    assert expected <= checked


@pytest.mark.parametrize(
    ("cls", "operation"),
    [
        (m.CheckpointDurableExecutionOutput, "CheckpointDurableExecution"),
        (m.GetDurableExecutionStateOutput, "GetDurableExecutionState"),
    ],
)
def test_response_shapes(service: ServiceModel, cls: type[Any], operation: str) -> None:
    output = service.operation_model(operation).output_shape
    assert isinstance(output, StructureShape)
    _compare(cls, output, operation, set())


REQUEST_PARAMETERS = {
    ("CheckpointDurableExecution", "checkpoint"): {
        "DurableExecutionArn": "arn",
        "CheckpointToken": "checkpoint_token",
        "Updates": "updates",
        "ClientToken": "client_token",
    },
    ("CheckpointDurableExecution", "batch_checkpoint"): {
        "DurableExecutionArn": "arn",
        "CheckpointToken": "checkpoint_token",
        "Updates": "updates",
        "ClientToken": "client_token",
    },
    ("GetDurableExecutionState", "get_execution_state"): {
        "DurableExecutionArn": "arn",
        "CheckpointToken": "checkpoint_token",
        "Marker": "next_marker",
        "MaxItems": "max_items",
    },
}


@pytest.mark.parametrize(("operation", "method"), list(REQUEST_PARAMETERS))
@pytest.mark.parametrize("protocol", [DurableBackend, AsyncDurableBackend])
def test_request_members_reach_the_protocols(
    service: ServiceModel, operation: str, method: str, protocol: type[Any]
) -> None:
    mapping = REQUEST_PARAMETERS[(operation, method)]
    request = service.operation_model(operation).input_shape
    assert set(request.members) == set(mapping), f"{operation} request members changed"
    parameters = inspect.signature(getattr(protocol, method)).parameters
    assert set(mapping.values()) <= set(parameters), f"{protocol.__name__}.{method}"


@pytest.mark.parametrize(
    ("enum", "shape_name"),
    [
        (m.OperationType, "OperationType"),
        (m.OperationAction, "OperationAction"),
        (m.OperationStatus, "OperationStatus"),
        (m.ExecutionStatus, "ExecutionStatus"),
    ],
)
def test_enums_match(service: ServiceModel, enum: type[Enum], shape_name: str) -> None:
    assert sorted(e.value for e in enum) == sorted(service.shape_for(shape_name).enum)
