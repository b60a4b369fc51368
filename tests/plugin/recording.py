"""A plugin that records every hook it receives, for tests on both SDKs.

It imports nothing but ``plugin`` from whichever SDK runs it, so the same class records on the
official SDK (``aws_durable_execution_sdk_python.plugin``) and on ours.
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Any

HOOKS = (
    "on_invocation_start",
    "on_invocation_end",
    "on_operation_start",
    "on_operation_end",
    "on_operation_change",
    "on_user_function_start",
    "on_user_function_end",
)


def recording_factory(plugin_module: ModuleType) -> Any:
    """A factory whose plugins append ``(hook, info)`` to ``factory.events`` (all invocations,
    in order); built against ``plugin_module``, the official or our ``plugin``."""

    class RecordingPlugin(plugin_module.DurableInstrumentationPlugin):  # type: ignore[misc,name-defined]
        def __init__(self, factory: Any) -> None:
            self.factory = factory

    def hook(name: str) -> Any:
        def record(self: Any, info: Any) -> None:
            with self.factory.lock:
                self.factory.events.append((name, info))

        record.__name__ = name
        return record

    for name in HOOKS:
        setattr(RecordingPlugin, name, hook(name))

    class RecordingFactory:
        def __init__(self) -> None:
            self.events: list[tuple[str, Any]] = []
            self.lock = threading.Lock()
            self.infos: list[Any] = []

        def create_plugin(self, info: Any) -> Any:
            self.infos.append(info)
            return RecordingPlugin(self)

        def hooks(self, *names: str) -> list[tuple[str, Any]]:
            return [(name, info) for name, info in self.events if not names or name in names]

    return RecordingFactory()
