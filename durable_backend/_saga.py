"""Sagas: forward steps that register compensations, undone in reverse order on failure.

Every forward action and every compensation is an ordinary durable step, so a crash in the
middle of compensating replays the completed compensations from their checkpoints and resumes
with the next one. Nothing here knows whether the context is sync or async beyond the two
thin classes at the bottom.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, TypeVar

import attrs
from attrs import frozen

from durable_backend._config import StepConfig
from durable_backend._context import AsyncDurableContext, DurableContext
from durable_backend._engine import error_object
from durable_backend._errors import DurableExecutionsError
from durable_backend._models import ErrorObject
from durable_backend._timeline import SAGA_COMPENSATION, SAGA_STEP
from durable_backend.types import StepContext

T = TypeVar("T")
C = TypeVar("C", DurableContext, AsyncDurableContext)


@frozen
class Compensation:
    """The outcome of one compensating action."""

    name: str
    succeeded: bool
    error: ErrorObject | None = None


class SagaError(DurableExecutionsError):
    """A saga failed and was compensated; ``compensations`` says how each undo went."""

    def __init__(self, message: str, compensations: tuple[Compensation, ...]) -> None:
        super().__init__(message)
        self.compensations = compensations

    @property
    def fully_compensated(self) -> bool:
        return all(c.succeeded for c in self.compensations)


class _Registered:
    __slots__ = ("action", "name", "result")

    def __init__(self, name: str, action: Callable[[StepContext, Any], Any], result: Any) -> None:
        self.name = name
        self.action = action
        self.result = result


class _SagaBase(Generic[C]):
    __slots__ = ("_compensation_config", "_ctx", "_name", "_registered")

    def __init__(
        self, ctx: C, *, name: str = "saga", compensation_config: StepConfig | None = None
    ) -> None:
        self._ctx: C = ctx
        self._name = name
        self._compensation_config = _labelled(compensation_config, SAGA_COMPENSATION)
        self._registered: list[_Registered] = []

    def _register(
        self, name: str | None, compensate: Callable[[StepContext, Any], Any], result: Any
    ) -> None:
        label = name or f"step {len(self._registered) + 1}"
        self._registered.append(_Registered(label, compensate, result))

    def _pending(self) -> list[tuple[str, Callable[[StepContext], Any]]]:
        """Compensation steps in reverse order of their forward steps."""
        return [
            (
                f"{self._name}: compensate {entry.name}",
                _bind(entry.action, entry.result),
            )
            for entry in reversed(self._registered)
        ]

    def _failure(self, error: BaseException, outcomes: list[Compensation]) -> SagaError:
        undone = sum(o.succeeded for o in outcomes)
        return SagaError(
            f"{self._name} failed ({type(error).__name__}: {error}); compensated "
            f"{undone} of {len(outcomes)} completed step(s) in reverse order",
            tuple(outcomes),
        )


def _labelled(config: StepConfig | None, sub_type: str) -> StepConfig:
    """``config`` with the saga's sub-type, so a timeline can show the saga's steps together
    (a sub-type the caller chose wins)."""
    config = config or StepConfig()
    return config if config.sub_type else attrs.evolve(config, sub_type=sub_type)


def _bind(action: Callable[[StepContext, Any], T], result: Any) -> Callable[[StepContext], T]:
    return lambda step_ctx: action(step_ctx, result)


class Saga(_SagaBase[DurableContext]):
    """``with Saga(ctx) as saga: saga.step(do, compensate=undo)``; undoes on any exception."""

    __slots__ = ()

    def step(
        self,
        func: Callable[[StepContext], T],
        *,
        compensate: Callable[[StepContext, T], object],
        name: str | None = None,
        config: StepConfig | None = None,
    ) -> T:
        result: T = self._ctx.step(func, name=name, config=_labelled(config, SAGA_STEP))
        self._register(name, compensate, result)
        return result

    def __enter__(self) -> Saga:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is None or not isinstance(error, Exception):
            return
        outcomes: list[Compensation] = []
        for label, undo in self._pending():
            try:
                self._ctx.step(undo, name=label, config=self._compensation_config)
            except Exception as failure:
                outcomes.append(Compensation(label, False, error_object(failure)))
            else:
                outcomes.append(Compensation(label, True))
        raise self._failure(error, outcomes) from error


class AsyncSaga(_SagaBase[AsyncDurableContext]):
    """``async with AsyncSaga(ctx) as saga: await saga.step(do, compensate=undo)``."""

    __slots__ = ()

    async def step(
        self,
        func: Callable[[StepContext], Any],
        *,
        compensate: Callable[[StepContext, Any], object],
        name: str | None = None,
        config: StepConfig | None = None,
    ) -> Any:
        result = await self._ctx.step(func, name=name, config=_labelled(config, SAGA_STEP))
        self._register(name, compensate, result)
        return result

    async def __aenter__(self) -> AsyncSaga:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is None or not isinstance(error, Exception):
            return
        outcomes: list[Compensation] = []
        for label, undo in self._pending():
            try:
                await self._ctx.step(undo, name=label, config=self._compensation_config)
            except Exception as failure:
                outcomes.append(Compensation(label, False, error_object(failure)))
            else:
                outcomes.append(Compensation(label, True))
        raise self._failure(error, outcomes) from error
