"""Instrumentation plugins, called from the flows: one place for both twins.

``Hooks`` belongs to one invocation (``Execution.hooks``; None without plugins, so a flow pays
one attribute test per operation). Flows report what happens, ``Hooks`` builds the official
infos and calls every plugin, containing what a plugin raises: a plugin cannot fail the
execution or keep the other plugins from a hook, and each failing hook is logged once.

When each hook fires, as in the official SDK:

- ``on_operation_start``: a START is queued (``Scope.commit``); ``is_replayed`` when the
  operation already existed (a step's next attempt). Replay meeting an operation still in
  progress (``Execution.lookup``) reports it with ``is_replayed`` and its recorded status.
- ``on_user_function_start`` / ``_end``: around each run of user code, on the thread or task
  that runs it, so a plugin may set context the user code then sees.
- ``on_operation_end``: when an operation's flow ends after this invocation finished it; for an
  operation the service finished while the execution was suspended, when replay meets it; for a
  context with no terminal checkpoint (virtual, or replaying its children), on every run of its
  body; anything else that ended unseen, before ``on_invocation_end``.
- ``on_operation_change``: the operations a checkpoint response changed, delivered at the next
  hook or before ``on_invocation_end`` (merged when several responses wait).
"""

from __future__ import annotations

import datetime
import functools
import inspect
import json
import logging
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from durable_backend._codec import event_converter
from durable_backend._engine._checkpoints import CheckpointFailed, SuspendExecution
from durable_backend._models import (
    DurableInvocationOutput,
    ErrorObject,
    Operation,
    OperationAction,
    OperationStatus,
    OperationType,
    OperationUpdate,
)
from durable_backend.plugin import (
    DurableInstrumentationPlugin,
    InvocationEndInfo,
    InvocationStartInfo,
    InvocationStatus,
    OperationChangeInfo,
    OperationEndInfo,
    OperationInfo,
    OperationStartInfo,
    PropagationInput,
    PropagationMetadata,
    UserFunctionEndInfo,
    UserFunctionOutcome,
    UserFunctionStartInfo,
)
from durable_backend.plugin import OperationType as PluginOperationType

if TYPE_CHECKING:
    from durable_backend._engine._execution import Execution

logger = logging.getLogger("durable_backend.plugin")

_CONTROL = (KeyboardInterrupt, SystemExit, GeneratorExit)
"""What a plugin may raise to stop the thread it runs on; everything else is contained."""

_FINISHING = frozenset({OperationAction.SUCCEED, OperationAction.FAIL})
_HOOKS = (
    "on_invocation_start",
    "on_invocation_end",
    "on_operation_start",
    "on_operation_end",
    "on_operation_change",
    "on_user_function_start",
    "on_user_function_end",
)
_USER_FUNCTION = frozenset({"on_user_function_start", "on_user_function_end"})


Q = TypeVar("Q")
R = TypeVar("R")


def reported(
    make: Callable[[Any, str, Q], Generator[Any, Any, R]],
) -> Callable[[Any, str, Q], Generator[Any, Any, R]]:
    """Marks ``make(scope, op_id, request)`` as an operation's flow: with plugins, its end is
    reported once the flow ends (``Hooks.settle``); without, the flow runs as it is."""

    @functools.wraps(make)
    def flow_of(scope: Any, op_id: str, request: Q, /) -> Any:
        flow = make(scope, op_id, request)
        hooks: Hooks | None = scope.execution.hooks
        return flow if hooks is None else hooks.observe(flow, op_id)

    return flow_of


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class PluginSet:
    """A handler's plugin factories (they outlive invocations) and the hook failures it has
    logged, so each failing (plugin, hook) is logged once, not on every invocation."""

    __slots__ = ("_logged", "factories")

    def __init__(self, factories: Sequence[Any]) -> None:
        self.factories = tuple(factories)
        self._logged: set[tuple[int, str]] = set()

    def contain(self, index: int, hook: str, error: BaseException) -> BaseException | None:
        """Log what plugin ``index`` raised in ``hook`` (the first time) and return the part
        that must propagate: KeyboardInterrupt, SystemExit or GeneratorExit."""
        control: BaseException | None
        contained: BaseException | None
        if isinstance(error, BaseExceptionGroup):
            control, contained = error.split(_CONTROL)
        elif isinstance(error, _CONTROL):
            control, contained = error, None
        else:
            control, contained = None, error
        if contained is not None and (index, hook) not in self._logged:
            self._logged.add((index, hook))
            factory = self.factories[index]
            logger.error(
                "Instrumentation plugin %s (plugins[%d]) raised in %s; ignored, and not "
                "logged again for this hook",
                _type_name(factory),
                index,
                hook,
                exc_info=contained,
            )
        return control


def _type_name(value: object) -> str:
    kind = value if isinstance(value, type) else type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _identity(op: Operation | OperationUpdate) -> dict[str, Any]:
    """The fields every operation info starts with."""
    return {
        "operation_id": op.id,
        "operation_type": PluginOperationType(op.type.value),
        "sub_type": op.sub_type,
        "name": op.name,
        "parent_id": op.parent_id,
    }


class Hooks:
    """One invocation's plugins and what they have been told."""

    __slots__ = (
        "_changes",
        "_delivering",
        "_echoed",
        "_ended",
        "_execution",
        "_finishing",
        "_infos",
        "_plugins",
        "_queued_ends",
        "_seen",
        "_set",
        "_start",
        "_terminal_at_start",
        "_updated",
        "_wanted",
        "execution_operations",
    )

    def __init__(
        self,
        plugin_set: PluginSet,
        start: InvocationStartInfo,
        execution: Execution,
        updated_ids: Iterable[str],
    ) -> None:
        self._set = plugin_set
        self._start = start
        self._execution = execution
        self.execution_operations = operations = execution.operations
        self._updated = frozenset(updated_ids)
        self._terminal_at_start = {op.id for op in operations.values() if op.status.is_terminal}
        self._seen: set[str] = set()
        self._ended: set[str] = set()
        self._echoed: set[str] = set()
        self._finishing: dict[str, OperationUpdate] = {}
        self._queued_ends: dict[str, OperationEndInfo] = {}
        self._changes: list[list[Operation]] = []
        self._delivering: dict[str, object] = {}
        self._plugins: list[tuple[int, DurableInstrumentationPlugin]] = []
        self._wanted: frozenset[str] = frozenset()
        self._infos: dict[str, tuple[Operation, OperationInfo]] = {}

    # -- the invocation ------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        plugin_set: PluginSet,
        execution: Execution,
        request_id: str | None,
        updated_ids: Sequence[str],
    ) -> Hooks:
        """Make each factory's plugin for this invocation and call ``on_invocation_start``."""
        operations = execution.operations
        infos = operation_infos(operations)
        root = execution.execution_operation
        start = InvocationStartInfo(
            request_id=request_id,
            execution_arn=execution.arn,
            is_first_invocation=all(
                op.type is OperationType.EXECUTION for op in operations.values()
            ),
            execution_start_time=root.start_timestamp if root is not None else None,
            execution_input=_decoded_input(execution.input_payload),
            operations=infos,
            updated_operations={i: infos[i] for i in updated_ids if i in infos},
        )
        hooks = cls(plugin_set, start, execution, updated_ids)
        for index, factory in enumerate(plugin_set.factories):
            try:
                plugin = factory.create_plugin(start)
            except BaseException as error:
                control = plugin_set.contain(index, "create_plugin", error)
                if control is not None:
                    raise control from None
                continue
            if not isinstance(plugin, DurableInstrumentationPlugin):
                plugin_set.contain(
                    index,
                    "create_plugin",
                    TypeError(
                        f"create_plugin returned {_type_name(plugin)}, not a "
                        "DurableInstrumentationPlugin; this invocation runs without it"
                    ),
                )
                continue
            hooks._plugins.append((index, plugin))
        hooks._wanted = frozenset(
            hook
            for hook in _HOOKS
            for _, plugin in hooks._plugins
            if getattr(type(plugin), hook, None) is not getattr(DurableInstrumentationPlugin, hook)
        )
        created, hooks._plugins = hooks._plugins, []
        try:
            for entry in created:  # a plugin gets the other hooks once it got this one
                hooks._plugins.append(entry)
                hooks._call("on_invocation_start", start, only=entry)
        except BaseException as error:  # a plugin stopped the thread: end what started
            hooks.invocation_end(None, error)
            raise
        return hooks

    def invocation_end(
        self, output: dict[str, Any] | None, error: BaseException | None = None
    ) -> None:
        """``on_invocation_end``, after everything else: the output the handler returns, or
        RETRY with the error it raises."""
        self._drain()
        if output is None:
            ending = DurableInvocationOutput(
                status=InvocationStatus.RETRY.value,
                error=ErrorObject.from_exception(error) if error is not None else None,
            )
        else:
            ending = event_converter.structure(output, DurableInvocationOutput)
        info = InvocationEndInfo.from_durable_execution_invocation_output(
            self._start, ending, self._snapshot(self._committed())
        )
        self._call("on_invocation_end", info, finish=True)

    # -- operations ----------------------------------------------------------------------

    def queued(self, updates: Iterable[OperationUpdate]) -> None:
        """Updates about to be queued: a START is ``on_operation_start``; a SUCCEED or FAIL is
        remembered, for the end hook once the operation's flow ends."""
        for update in updates:
            action = update.action
            if action is OperationAction.START and "on_operation_start" in self._wanted:
                self._call(
                    "on_operation_start",
                    OperationStartInfo(
                        **_identity(update),
                        start_time=None,
                        is_replayed=update.id in self.execution_operations,
                        status=OperationStatus.STARTED,
                    ),
                )
            elif action in _FINISHING and update.type is not OperationType.EXECUTION:
                self._finishing[update.id] = update

    def looked_up(self, op: Operation) -> None:
        """Replay met a recorded operation: one the service finished while the execution was
        suspended ends now; one still in progress is reported started (``is_replayed``)."""
        if op.id in self._seen or op.type is OperationType.EXECUTION:
            return
        self._seen.add(op.id)
        if op.id in self._updated:
            if op.status.is_terminal:
                self._end(op.id, functools.partial(_end_info, op))
        elif (
            not op.status.is_terminal
            and op.status is not OperationStatus.READY
            and "on_operation_start" in self._wanted
        ):
            self._call(
                "on_operation_start",
                OperationStartInfo(
                    **_identity(op),
                    start_time=op.start_timestamp,
                    is_replayed=True,
                    status=op.status,
                ),
            )

    def settle(self, op_id: str) -> None:
        """An operation's flow ended (returned or raised): ``on_operation_end`` if this
        invocation finished it, or saw it finish."""
        if op_id in self._ended:
            return
        finishing = self._finishing.pop(op_id, None)
        stored = self.execution_operations.get(op_id)
        if stored is not None and stored.status.is_terminal and (
            finishing is not None or op_id not in self._terminal_at_start
        ):
            self._end(op_id, functools.partial(_end_info, stored))
        elif finishing is not None:
            ended = self._queued_ends[op_id] = _queued_end_info(finishing, stored)
            self._end(op_id, ended)

    def observe(self, flow: Any, op_id: str) -> Any:
        """``flow``, followed by ``settle(op_id)`` unless it suspended or could not
        checkpoint."""
        try:
            value = yield from flow
        except (SuspendExecution, CheckpointFailed):
            raise
        except BaseException:
            self.settle(op_id)
            raise
        self.settle(op_id)
        return value

    def user_function(
        self, fn: Callable[..., Any], identity: OperationUpdate, attempt: int | None
    ) -> Callable[..., Any]:
        """``fn`` between ``on_user_function_start`` and ``_end``, on whatever thread or task
        runs it (an ``async def`` stays one)."""
        if not self._wanted & _USER_FUNCTION:
            return fn
        return _UserFunction(self, identity, attempt, False, None).wrap(fn)

    def context_body(
        self,
        body: Callable[..., Any],
        identity: OperationUpdate,
        op: Operation | None,
        *,
        internal: bool,
        virtual: bool,
    ) -> Callable[..., Any]:
        """A child context's body (``internal``: a flow of ours) between the user-function
        hooks. A context with no terminal checkpoint to write (virtual, or replaying its
        children) also reports its end when the body returns or raises."""
        recorded = op is not None and op.status.is_terminal
        end_context = True if recorded else (False if virtual else None)
        if not self._wanted & _USER_FUNCTION and (
            end_context is None or "on_operation_end" not in self._wanted
        ):
            return body
        run = _UserFunction(self, identity, None if op is not None else 1, recorded, end_context)
        return run.wrap_flow(body) if internal else run.wrap(body)

    def propagation(
        self, op_id: str, parent_id: str | None, function_name: str
    ) -> str | None:
        """``provide_propagation_metadata`` for a chained invoke about to start: the first
        non-blank trace header a plugin offers (a different one from a later plugin is logged
        as a conflict)."""
        info = PropagationInput(
            execution_arn=self._start.execution_arn or "",
            operation_id=op_id,
            target_function_name=function_name,
            parent_operation_id=parent_id,
        )
        chosen: str | None = None
        for index, plugin in self._plugins:
            try:
                metadata = plugin.provide_propagation_metadata(info)
                if metadata is None:
                    continue
                if not isinstance(metadata, PropagationMetadata):
                    raise TypeError(
                        f"provide_propagation_metadata returned {_type_name(metadata)}, "
                        "not PropagationMetadata or None"
                    )
                value = metadata.x_amzn_trace_id
                if value is not None and not isinstance(value, str):
                    raise TypeError("PropagationMetadata.x_amzn_trace_id must be a str or None")
            except BaseException as error:
                control = self._set.contain(index, "provide_propagation_metadata", error)
                if control is not None:
                    raise control from None
                continue
            if value is None or not value.strip():
                continue
            if chosen is None:
                chosen = value
            elif value != chosen:
                logger.warning(
                    "Instrumentation plugin %s (plugins[%d]) offers another trace header for "
                    "chained invoke %s; the first plugin's is kept",
                    _type_name(plugin),
                    index,
                    op_id,
                )
        return chosen

    def changing(self, index: dict[str, Operation], ops: Sequence[Operation]) -> None:
        """A checkpoint response is about to be applied to ``index``: remember what it changes,
        for ``on_operation_change`` (sent from a flow, never from the checkpoint call)."""
        if "on_operation_change" not in self._wanted:
            return
        changed = [
            op for op in ops if (old := index.get(op.id)) is None or old.status is not op.status
        ]
        if changed:
            self._changes.append(changed)

    # -- internals -----------------------------------------------------------------------

    def _end(self, op_id: str, info: OperationEndInfo | Callable[[], OperationEndInfo]) -> None:
        """``on_operation_end`` once per operation (``info`` built only if a plugin wants it)."""
        if op_id in self._ended:
            return
        self._ended.add(op_id)
        if "on_operation_end" in self._wanted:
            self._call("on_operation_end", info if isinstance(info, OperationEndInfo) else info())

    def _snapshot(self, committed: bool = False) -> dict[str, OperationInfo]:
        """The operation map; once everything queued is ``committed``, with the ends this
        invocation checkpointed that no response echoed (the service leaves out the children
        of a context that completed)."""
        infos = {op_id: self._info(op) for op_id, op in list(self.execution_operations.items())}
        if not committed:
            return infos
        for op_id, ended in self._queued_ends.items():
            known = infos.get(op_id)
            if known is None or not known.status.is_terminal:
                infos[op_id] = OperationInfo(**attrs.asdict(ended, recurse=False))
        return infos

    def _committed(self) -> bool:
        """Whether everything this invocation queued was checkpointed."""
        queue = self._execution.queue
        return queue.failure is None and queue.committed == queue.queued

    def _info(self, op: Operation) -> OperationInfo:
        """``OperationInfo.from_operation``, made once per version of an operation."""
        cached = self._infos.get(op.id)
        if cached is None or cached[0] is not op:
            cached = self._infos[op.id] = (op, OperationInfo.from_operation(op))
        return cached[1]

    def _drain(self) -> None:
        """What no flow reported: changes, then operations that ended unseen. Once everything
        queued is committed, the ends of flows that did not finish reporting are reported, and
        an end no response echoed (the service leaves out the children of a context that
        completed) is a change too."""
        self._deliver_changes()
        if self._committed():
            for op_id in list(self._finishing):
                self.settle(op_id)
            snapshot = self._snapshot(committed=True)
            unechoed = {
                op_id: snapshot[op_id]
                for op_id in self._queued_ends
                if op_id not in self._echoed and op_id in snapshot
            }
            if unechoed:
                self._call(
                    "on_operation_change",
                    OperationChangeInfo(self._start.execution_arn, unechoed, snapshot),
                )
        for op in list(self.execution_operations.values()):
            if (
                op.status.is_terminal
                and op.type is not OperationType.EXECUTION
                and op.id not in self._terminal_at_start
                and op.id not in self._ended
            ):
                self._end(op.id, functools.partial(_end_info, op))

    def _deliver_changes(self) -> None:
        """Send the waiting change notifications, merged, from one caller at a time (a
        ``setdefault`` claims the slot: atomic, with no lock in the engine)."""
        if not self._changes:
            return
        owner = object()
        if self._delivering.setdefault("owner", owner) is not owner:
            return
        try:
            while self._changes:
                latest: dict[str, Operation] = {}
                while self._changes:
                    for op in self._changes.pop(0):
                        latest[op.id] = op
                current = self.execution_operations
                self._echoed.update(
                    op_id for op_id, op in latest.items() if op.status.is_terminal
                )
                self._call(
                    "on_operation_change",
                    OperationChangeInfo(
                        execution_arn=self._start.execution_arn,
                        updated_operations={
                            op_id: OperationInfo.from_operation(current.get(op_id, changed))
                            for op_id, changed in latest.items()
                        },
                        operations=self._snapshot(),
                    ),
                    deliver=False,
                )
        finally:
            del self._delivering["owner"]

    def _call(
        self,
        hook: str,
        info: Any,
        *,
        finish: bool = False,
        deliver: bool = True,
        only: tuple[int, DurableInstrumentationPlugin] | None = None,
    ) -> None:
        """``hook(info)`` on every plugin (or ``only`` one), in registration order.
        ``finish``: every plugin gets it even if one raises KeyboardInterrupt or SystemExit
        (re-raised after)."""
        if hook not in self._wanted:
            return
        if deliver and self._changes:
            self._deliver_changes()
        held: BaseException | None = None
        for index, plugin in self._plugins if only is None else (only,):
            try:
                getattr(plugin, hook)(info)
            except BaseException as error:
                control = self._set.contain(index, hook, error)
                if control is None:
                    continue
                if not finish:
                    raise control from None
                held = held or control
        if held is not None:
            raise held


class _UserFunction:
    """One run of user code and the two hooks around it."""

    __slots__ = ("_attempt", "_end_context", "_hooks", "_identity", "_replay_children", "_start")

    def __init__(
        self,
        hooks: Hooks,
        identity: OperationUpdate,
        attempt: int | None,
        is_replay_children: bool,
        end_context: bool | None,
    ) -> None:
        self._hooks = hooks
        self._identity = identity
        self._attempt = attempt
        self._replay_children = is_replay_children
        self._end_context = end_context
        self._start: UserFunctionStartInfo | None = None

    def started(self) -> None:
        op = self._identity
        self._start = UserFunctionStartInfo(
            **_identity(op),
            start_time=_now(),
            is_replayed=False,
            status=OperationStatus.STARTED,
            is_replay_children=self._replay_children,
            attempt=self._attempt,
        )
        self._hooks._call("on_user_function_start", self._start)

    def ended(self, error: BaseException | None) -> None:
        assert self._start is not None
        wire_error = None
        if isinstance(error, SuspendExecution) or (
            error is not None and not isinstance(error, Exception)
        ):
            outcome = UserFunctionOutcome.INCOMPLETE
        elif error is not None:
            outcome = UserFunctionOutcome.FAILED
            wire_error = ErrorObject.from_exception(error)
        else:
            outcome = UserFunctionOutcome.SUCCEEDED
        hooks = self._hooks
        hooks._call(
            "on_user_function_end",
            UserFunctionEndInfo.from_start_info(self._start, wire_error, outcome=outcome),
        )
        if self._end_context is not None and outcome is not UserFunctionOutcome.INCOMPLETE:
            op = self._identity
            failed = outcome is UserFunctionOutcome.FAILED
            hooks._call(
                "on_operation_end",
                OperationEndInfo(
                    **_identity(op),
                    start_time=None,
                    end_time=_now(),
                    status=OperationStatus.FAILED if failed else OperationStatus.SUCCEEDED,
                    error=wire_error,
                    is_replayed=self._end_context,
                ),
            )

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):

            async def run_async(*args: Any) -> Any:
                self.started()
                try:
                    value = await fn(*args)
                except BaseException as error:
                    self.ended(error)
                    raise
                self.ended(None)
                return value

            return run_async

        def run_sync(*args: Any) -> Any:
            self.started()
            try:
                value = fn(*args)
            except BaseException as error:
                self.ended(error)
                raise
            if inspect.isawaitable(value):
                return self._finish_later(value)
            self.ended(None)
            return value

        return run_sync

    def wrap_flow(self, body: Callable[..., Any]) -> Callable[..., Any]:
        def flow(*args: Any) -> Any:
            self.started()
            try:
                value = yield from body(*args)
            except BaseException as error:
                self.ended(error)
                raise
            self.ended(None)
            return value

        return flow

    async def _finish_later(self, awaitable: Any) -> Any:
        try:
            value = await awaitable
        except BaseException as error:
            self.ended(error)
            raise
        self.ended(None)
        return value


def operation_infos(operations: dict[str, Operation]) -> dict[str, OperationInfo]:
    """The plugin view of an operation map (a plain dict, as the official SDK hands out)."""
    return {op_id: OperationInfo.from_operation(op) for op_id, op in list(operations.items())}


def _end_info(op: Operation) -> OperationEndInfo:
    return OperationEndInfo(**attrs.asdict(OperationInfo.from_operation(op), recurse=False))


def _queued_end_info(update: OperationUpdate, stored: Operation | None) -> OperationEndInfo:
    """The end of an operation whose terminal checkpoint is queued, not yet landed."""
    failed = update.action is OperationAction.FAIL
    return OperationEndInfo(
        **_identity(update),
        start_time=stored.start_timestamp if stored is not None else None,
        end_time=_now(),
        result=None if failed else update.payload,
        status=OperationStatus.FAILED if failed else OperationStatus.SUCCEEDED,
        error=update.error,
        is_replayed=False,
    )


def _decoded_input(payload: str | None) -> Any:
    """The execution input as JSON values (``{}`` when empty), a copy of the plugin's own."""
    if payload is None or not payload.strip():
        return {}
    try:
        return json.loads(payload)
    except ValueError:
        return None

