"""Test durable workflows locally: run in one call, stub steps and invokes by name, answer
callbacks, and assert on checkpoint calls and history.

```python
from durable_backend.testing import run_workflow

result = run_workflow(handler, {"order": 1}, stubs={"charge": {"ok": True}},
                      callbacks={"approval": {"approved": True}})
assert result.assert_succeeded() == {...}
result.assert_pure_replay()
```

Gate a deploy on recorded histories (see ``Replayer``)::

    assert_replays(handler, "tests/histories")
"""

from durable_backend._determinism import NondeterministicCallError
from durable_backend.local._recording import CheckpointCall, StateCall
from durable_backend.local._runner import PendingCallback
from durable_backend.testing._histories import (
    History,
    HistoryFormatError,
    histories_from_aws,
    histories_from_directory,
    histories_from_sqlite,
    history_from_json,
    operations_from_events,
)
from durable_backend.testing._kit import (
    UnknownNameError,
    Workflow,
    WorkflowAssertionError,
    WorkflowResult,
    run_workflow,
    run_workflow_async,
)
from durable_backend.testing._replayer import (
    Divergence,
    Replayer,
    ReplayIncompatibleError,
    ReplayResult,
    assert_replays,
)
from durable_backend.testing._stubs import StubbingContext
from durable_backend.testing._test_runner import (
    CallbackOperation,
    ContextOperation,
    DurableChildContextTestRunner,
    DurableFunctionsTestError,
    DurableFunctionTestResult,
    DurableFunctionTestRunner,
    ExecutionOperation,
    InvokeOperation,
    Operation,
    StepOperation,
    WaitOperation,
)

__all__ = [
    "CallbackOperation",
    "ContextOperation",
    "DurableChildContextTestRunner",
    "DurableFunctionTestResult",
    "DurableFunctionTestRunner",
    "DurableFunctionsTestError",
    "ExecutionOperation",
    "InvokeOperation",
    "Operation",
    "StepOperation",
    "WaitOperation",
    "CheckpointCall",
    "Divergence",
    "History",
    "HistoryFormatError",
    "NondeterministicCallError",
    "PendingCallback",
    "ReplayIncompatibleError",
    "ReplayResult",
    "Replayer",
    "StateCall",
    "StubbingContext",
    "UnknownNameError",
    "Workflow",
    "WorkflowAssertionError",
    "WorkflowResult",
    "assert_replays",
    "histories_from_aws",
    "histories_from_directory",
    "histories_from_sqlite",
    "history_from_json",
    "operations_from_events",
    "run_workflow",
    "run_workflow_async",
]
