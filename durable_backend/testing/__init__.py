"""Test durable workflows locally: run in one call, stub steps and invokes by name, answer
callbacks, and assert on checkpoint calls and history.

```python
from durable_backend.testing import run_workflow

result = run_workflow(handler, {"order": 1}, stubs={"charge": {"ok": True}},
                      callbacks={"approval": {"approved": True}})
assert result.assert_succeeded() == {...}
result.assert_pure_replay()
```
"""

from durable_backend.local._recording import CheckpointCall, StateCall
from durable_backend.local._runner import PendingCallback
from durable_backend.testing._kit import (
    Workflow,
    WorkflowAssertionError,
    WorkflowResult,
    run_workflow,
    run_workflow_async,
)
from durable_backend.testing._stubs import StubbingContext

__all__ = [
    "CheckpointCall",
    "PendingCallback",
    "StateCall",
    "StubbingContext",
    "Workflow",
    "WorkflowAssertionError",
    "WorkflowResult",
    "run_workflow",
    "run_workflow_async",
]
