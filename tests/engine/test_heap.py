"""The garbage collector while an invocation reads a long operation log (``_engine/_heap.py``):
paused while the log is read, the log frozen while the handler replays it, everything as
the program left it once the invocation ends."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from durable_backend._engine import _heap
from tests.engine.conftest import Twin
from tests.support.service import MemoryBackend


class PagingRecorder(MemoryBackend):
    """Two operations per page, so a resumed invocation pages its log; records whether the
    collector ran automatically during each page."""

    def __init__(self) -> None:
        super().__init__(page_size=2)
        self.collecting_while_paging: list[bool] = []

    def get_execution_state(self, *args: Any, **kwargs: Any) -> Any:
        self.collecting_while_paging.append(gc.isenabled())
        return super().get_execution_state(*args, **kwargs)


@pytest.fixture(autouse=True)
def small_freeze_threshold(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(_heap, "FREEZE_AT", 4)
    assert gc.isenabled() and not gc.get_freeze_count()
    yield
    gc.enable()
    gc.unfreeze()


def scenario_probing_the_collector(seen: list[tuple[bool, bool]]) -> Any:
    """Three steps and a wait (so the second invocation reads five operations), then a step
    that looks at the collector while the handler runs."""

    def probe(_: Any) -> int:
        seen.append((gc.isenabled(), gc.get_freeze_count() > 0))
        return 0

    def scenario(event: Any, ctx: Any) -> Any:
        for i in range(3):
            yield ctx.step(lambda _, i=i: i, name=f"s{i}")
        yield ctx.wait(5, name="pause")
        return (yield ctx.step(probe, name="probe"))

    return scenario


def test_a_long_log_is_read_paused_and_replayed_frozen(twin: Twin) -> None:
    backend = PagingRecorder()
    seen: list[tuple[bool, bool]] = []
    outcome = twin.run(scenario_probing_the_collector(seen), backend=backend)
    assert outcome.status == "SUCCEEDED" and len(outcome.outputs) == 2
    assert backend.collecting_while_paging and not any(backend.collecting_while_paging)
    assert seen == [(True, True)]  # collecting again, the log frozen out of its way
    assert gc.isenabled() and not gc.get_freeze_count()  # all undone at the end


def test_the_collector_is_left_as_the_program_set_it(twin: Twin) -> None:
    gc.disable()
    gc.freeze()  # the program's own freeze: neither undone nor added to
    frozen = gc.get_freeze_count()
    seen: list[tuple[bool, bool]] = []
    outcome = twin.run(scenario_probing_the_collector(seen), backend=PagingRecorder())
    assert outcome.status == "SUCCEEDED"
    assert seen == [(False, True)]
    # none frozen by the invocation remain, and the program's own stay frozen
    assert not gc.isenabled() and 0 < gc.get_freeze_count() <= frozen
