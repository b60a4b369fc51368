"""The strict determinism guard: clock and random calls in orchestration code are errors.

Orchestration code (the handler and its child contexts) runs again on every replay, so a value
it reads from the clock or a random source differs between runs, and so may the operations it
decides to call. While a guard is armed, a profile hook watches calls made *from the user's
own code* (not the standard library, installed packages or this SDK) to ``time.time``,
``datetime.now`` and friends, the module-level ``random`` functions and ``uuid.uuid1/4``, and
raises ``NondeterministicCallError`` naming the line. Only code marked as orchestration is
checked (the handler, child context and branch bodies, on whatever thread or task runs them);
inside a step those calls are fine, because a step's result is checkpointed once, and other
threads of the process are none of the guard's business.

A hook (``sys.setprofile``) rather than patching: ``from time import time`` or
``datetime.now`` (an immutable C type) cannot be patched after the fact. The hook costs a
Python call per function call, which is why only tests and the Replayer arm it.
"""

from __future__ import annotations

import datetime as _datetime
import functools
import inspect
import random
import sys
import sysconfig
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from durable_backend import _body_roles
from durable_backend._body_roles import ORCHESTRATION, call_in_role, current_role, in_role
from durable_backend._errors import NonDeterministicExecutionError

F = TypeVar("F", bound=Callable[..., Any])

_C_CALLS: dict[object, str] = {
    time.time: "time.time()",
    time.time_ns: "time.time_ns()",
    _datetime.datetime.now: "datetime.now()",
    _datetime.datetime.utcnow: "datetime.utcnow()",
    _datetime.datetime.today: "datetime.today()",
    _datetime.date.today: "date.today()",
    random.random: "random.random()",
    random.getrandbits: "random.getrandbits()",
}
_SHARED_RANDOM = random._inst  # what random.* functions use
_RANDOM_METHODS: dict[types.CodeType, str] = {
    value.__code__: f"random.{name}()"
    for name, value in vars(random.Random).items()
    if inspect.isfunction(value) and not name.startswith("_")
    and name not in ("seed", "getstate", "setstate")
}
_PY_CALLS: dict[types.CodeType, str] = {
    uuid.uuid4.__code__: "uuid.uuid4()",
    uuid.uuid1.__code__: "uuid.uuid1()",
    **_RANDOM_METHODS,
}
_NOT_USER_CODE = tuple(
    {
        *(sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")),
        str(Path(__file__).parent),
    }
)


class NondeterministicCallError(NonDeterministicExecutionError):
    """Orchestration code read the clock or a random source outside a step (strict mode)."""


class DeterminismGuard:
    """Arms the profile hook around handler runs and keeps the first violation."""

    def __init__(self) -> None:
        self.violation: NondeterministicCallError | None = None
        self._depth = 0
        self._saved: tuple[Any, Any] | None = None
        self._user_code: dict[types.CodeType, bool] = {}
        self._lock = threading.Lock()

    @contextmanager
    def armed(self) -> Iterator[None]:
        """Watch this thread and the threads it starts while the block runs."""
        with self._lock:
            if self._depth == 0:
                self._saved = (sys.getprofile(), threading.getprofile())
                sys.setprofile(self._hook)
                threading.setprofile(self._hook)
                _body_roles.marking = True
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._saved is not None:
                    sys.setprofile(self._saved[0])
                    threading.setprofile(self._saved[1])
                    _body_roles.marking = False

    def guarding(self, fn: F) -> F:
        """``fn`` (a handler function, sync or async) as orchestration code, with the guard
        armed while it runs."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                with self.armed():
                    return await in_role(ORCHESTRATION, fn(*args, **kwargs))

            return guarded_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            with self.armed():
                return call_in_role(ORCHESTRATION, fn, args, kwargs)

        return guarded  # type: ignore[return-value]

    def _hook(self, frame: types.FrameType, event: str, arg: Any) -> None:
        if self._depth == 0:
            return
        if event == "c_call":
            if type(arg) is types.BuiltinFunctionType and arg in _C_CALLS:
                self._found(_C_CALLS[arg], frame)
        elif event == "call":
            what = _PY_CALLS.get(frame.f_code)
            if what is not None and frame.f_back is not None:
                if frame.f_code in _RANDOM_METHODS and frame.f_locals.get("self") is not (
                    _SHARED_RANDOM
                ):
                    return  # the user's own seeded Random(...) is deterministic
                self._found(what, frame.f_back)

    def _found(self, what: str, caller: types.FrameType) -> None:
        code = caller.f_code
        user = self._user_code.get(code)
        if user is None:
            name = code.co_filename
            user = self._user_code[code] = not (
                name.startswith("<") or name.startswith(_NOT_USER_CODE)
            )
        if not user or current_role() != ORCHESTRATION:
            return
        error = NondeterministicCallError(
            f"{what} called in orchestration code at {code.co_filename}:{caller.f_lineno} "
            f"(in {code.co_name}). Orchestration code runs again on every replay, so it must "
            "not read the clock or a random source: use ctx.now(), ctx.random() or "
            "ctx.uuid4(), or move the call into a step."
        )
        if self.violation is None:
            self.violation = error
        raise error
