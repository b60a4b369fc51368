import datetime
from typing import Any, assert_type

import durable_backend as db
from durable_backend.execution import AsyncDurableHandler, DurableHandler
from durable_backend.plugin import (
    DurableInstrumentationPlugin,
    DurableInstrumentationPluginFactory,
    ErrorObject,
    InvocationEndInfo,
    InvocationStartInfo,
    InvocationStatus,
    OperationEndInfo,
    OperationInfo,
    OperationStatus,
    OperationType,
    PropagationInput,
    PropagationMetadata,
    UserFunctionEndInfo,
    UserFunctionOutcome,
    UserFunctionStartInfo,
)
from durable_backend.plugin_discovery import load_configured_plugins


class Tracer(DurableInstrumentationPlugin):
    def on_operation_end(self, info: OperationEndInfo) -> None:
        assert_type(info.operation_type, OperationType)
        assert_type(info.status, OperationStatus)
        assert_type(info.end_time, datetime.datetime | None)
        assert_type(info.error, ErrorObject | None)
        assert_type(info.attempt, int | None)

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        assert_type(info.outcome, UserFunctionOutcome)
        assert_type(info.is_replay_children, bool)

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        assert_type(info.status, InvocationStatus)
        assert_type(info.execution_result, str | None)
        assert_type(info.operations, dict[str, OperationInfo])

    def provide_propagation_metadata(self, info: PropagationInput) -> PropagationMetadata | None:
        return PropagationMetadata(x_amzn_trace_id=f"Root={info.operation_id}")


class TracerFactory:
    def create_plugin(self, info: InvocationStartInfo) -> Tracer:
        assert_type(info.updated_operations, dict[str, OperationInfo])
        assert_type(info.execution_input, Any)
        return Tracer()


factory: DurableInstrumentationPluginFactory = TracerFactory()


@db.durable_execution(plugins=[TracerFactory()])
def handler(event: dict[str, int], ctx: db.DurableContext) -> int:
    return event["n"]


@db.durable_execution(plugins=[factory])
async def async_handler(event: dict[str, int], ctx: db.AsyncDurableContext) -> int:
    return event["n"]


def check(start: UserFunctionStartInfo) -> None:
    assert_type(handler, DurableHandler[dict[str, int], int])
    assert_type(async_handler, AsyncDurableHandler[dict[str, int], int])
    assert_type(load_configured_plugins([factory]), list[DurableInstrumentationPluginFactory])
    end = UserFunctionEndInfo.from_start_info(start, None)
    assert_type(end, UserFunctionEndInfo)
    assert_type(UserFunctionOutcome.from_error(None), UserFunctionOutcome)


def check_reexported_wire_names(status: OperationStatus, error: ErrorObject) -> None:
    """The official plugin module re-exports these, and the official OTel package imports
    them from there."""
    assert_type(status, OperationStatus)
    assert_type(error.type, str | None)
