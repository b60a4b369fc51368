"""The factories ``durable_execution(plugins=[...])`` takes: one fresh plugin per invocation."""

from __future__ import annotations

from typing import ClassVar

from durable_backend.otel._config import OtelPluginConfig
from durable_backend.otel._execution_view import ExecutionOtelPlugin
from durable_backend.otel._invocation_view import InvocationOtelPlugin
from durable_backend.plugin import InvocationStartInfo

_VIEW_GROUP = "durable-backend-otel-view"


class _ViewFactory:
    """What both views' factories share: the registration marks and the config they pass on."""

    __durable_registration_api__: ClassVar[int] = 1
    exclusive_group: ClassVar[str | None] = _VIEW_GROUP

    def __init__(self, config: OtelPluginConfig | None = None) -> None:
        self.config = config


class InvocationOtelPluginFactory(_ViewFactory):
    """Builds the per-invocation view's plugin for each invocation, with ``config``."""

    def create_plugin(self, info: InvocationStartInfo, /) -> InvocationOtelPlugin:
        return InvocationOtelPlugin(self.config)


class ExecutionOtelPluginFactory(_ViewFactory):
    """Builds the per-execution view's plugin for each invocation, with ``config``."""

    def create_plugin(self, info: InvocationStartInfo, /) -> ExecutionOtelPlugin:
        return ExecutionOtelPlugin(self.config)


INVOCATION_OTEL_PLUGIN_FACTORY = InvocationOtelPluginFactory()
"""The default-configured per-invocation view (entry point ``otel-invocation``)."""

EXECUTION_OTEL_PLUGIN_FACTORY = ExecutionOtelPluginFactory()
"""The default-configured per-execution view (entry point ``otel-execution``)."""
