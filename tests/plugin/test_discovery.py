"""``plugins=`` checks and ``DURABLE_EXECUTION_PLUGINS`` entry-point loading, with real entry
points: a distribution's ``*.dist-info`` on ``sys.path``, read by ``importlib.metadata``."""

from __future__ import annotations

import logging
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import durable_backend as db
from durable_backend import plugin
from durable_backend.exceptions import PluginLoadError
from durable_backend.plugin_discovery import (
    PLUGIN_ENTRY_POINT_GROUP,
    PLUGIN_ENVIRONMENT_VARIABLE,
    load_configured_plugins,
)
from tests.engine.conftest import Twin
from tests.plugin.recording import recording_factory

PROVIDER = '''
from durable_backend import plugin


class Recorder(plugin.DurableInstrumentationPlugin):
    def __init__(self, factory):
        self.factory = factory

    def on_invocation_start(self, info):
        self.factory.seen.append(("start", info.execution_arn))

    def on_operation_end(self, info):
        self.factory.seen.append(("end", info.name))


class RecorderFactory:
    def __init__(self):
        self.seen = []

    def create_plugin(self, info):
        return Recorder(self)


class ClassFactory:
    @classmethod
    def create_plugin(cls, info):
        return plugin.DurableInstrumentationPlugin()


class InstanceMethodFactory:
    def create_plugin(self, info):
        return plugin.DurableInstrumentationPlugin()


FACTORY = RecorderFactory()
OTHER = RecorderFactory()
'''


def install(root: Path, dist: str, module: str, entries: dict[str, str]) -> None:
    """A distribution ``dist`` with ``module`` and entry points in the plugin group."""
    (root / f"{module}.py").write_text(PROVIDER)
    info = root / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entries.items())
    (info / "entry_points.txt").write_text(f"[{PLUGIN_ENTRY_POINT_GROUP}]\n{lines}\n")


@pytest.fixture
def provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An installed provider ``demo-plugins`` (module ``demo_plugins_mod``)."""
    install(
        tmp_path,
        "demo_plugins",
        "demo_plugins_mod",
        {
            "recorder": "demo_plugins_mod:FACTORY",
            "other": "demo_plugins_mod:OTHER",
            "class-factory": "demo_plugins_mod:ClassFactory",
            "plugin-class": "demo_plugins_mod:Recorder",
            "factory-class": "demo_plugins_mod:InstanceMethodFactory",
            "broken": "demo_plugins_mod:MISSING",
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("demo_plugins_mod", None)
    import demo_plugins_mod  # type: ignore[import-not-found]

    yield demo_plugins_mod
    sys.modules.pop("demo_plugins_mod", None)


def test_the_group_and_variable_are_the_official_ones() -> None:
    assert PLUGIN_ENTRY_POINT_GROUP == "aws_durable_execution.plugins"
    assert PLUGIN_ENVIRONMENT_VARIABLE == "DURABLE_EXECUTION_PLUGINS"


def test_environment_plugins_run_after_explicit_ones(
    twin: Twin, provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PLUGIN_ENVIRONMENT_VARIABLE, " recorder , class-factory")
    explicit = provider.RecorderFactory()

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(lambda _: 1, name="one"))

    outcome = twin.run(scenario, plugins=[explicit])
    assert outcome.status == "SUCCEEDED"
    assert provider.FACTORY.seen == explicit.seen == [("start", outcome.arn), ("end", "one")]
    factories = load_configured_plugins([explicit])
    assert factories == [explicit, provider.FACTORY, provider.ClassFactory]


def test_a_factory_both_explicit_and_configured_registers_once(
    provider: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(PLUGIN_ENVIRONMENT_VARIABLE, "recorder,other")
    with caplog.at_level(logging.WARNING, logger="durable_backend.plugin_discovery"):
        factories = load_configured_plugins([provider.FACTORY])
    assert factories == [provider.FACTORY, provider.OTHER]
    assert "'recorder'" in caplog.text and "already registered" in caplog.text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nope", "no installed package provides a plugin of that name"),
        ("recorder,,other", "has an empty name"),
        ("recorder, recorder", "names 'recorder' more than once"),
        ("plugin-class", "the class demo_plugins_mod.Recorder"),
        ("factory-class", "the class demo_plugins_mod.InstanceMethodFactory"),
        ("broken", "Could not load plugin 'broken' from 'demo_plugins_mod:MISSING'"),
    ],
)
def test_bad_configuration_fails_when_the_handler_is_decorated(
    provider: Any, monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv(PLUGIN_ENVIRONMENT_VARIABLE, value)
    with pytest.raises(PluginLoadError, match=message) as raised:

        @db.durable_execution
        def handler(event: Any, ctx: db.DurableContext) -> None: ...

    if value == "nope":
        # every installed name is listed, these test providers among them (and, with the otel
        # extra, durable_backend's own otel-invocation and otel-execution)
        listed = str(raised.value).split("installed: ", 1)[1]
        for name in ("broken", "class-factory", "factory-class", "other"):
            assert name in listed


def test_two_providers_of_one_name_are_refused(
    provider: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    second = tmp_path / "second"
    second.mkdir()
    install(
        second, "other_plugins", "other_plugins_mod", {"recorder": "other_plugins_mod:FACTORY"}
    )
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.setenv(PLUGIN_ENVIRONMENT_VARIABLE, "recorder")
    with pytest.raises(PluginLoadError, match="Several installed packages provide plugin"):
        load_configured_plugins(None)


class PluginNotFactory(plugin.DurableInstrumentationPlugin):
    pass


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        (PluginNotFactory(), "an instance of tests.plugin.test_discovery.PluginNotFactory"),
        (PluginNotFactory, "the class tests.plugin.test_discovery.PluginNotFactory"),
        (lambda info: PluginNotFactory(), "the function tests.plugin.test_discovery.<lambda>"),
    ],
)
def test_explicit_entries_must_be_factories(entry: Any, named: str) -> None:
    with pytest.raises(PluginLoadError, match=r"plugins\[1\] must be a plugin factory") as raised:
        db.durable_execution(plugins=[recording_factory(plugin), entry])
    assert named in str(raised.value)


def test_exclusive_groups_and_registration_results(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PLUGIN_ENVIRONMENT_VARIABLE, raising=False)
    told: list[tuple[str, bool]] = []

    class View:
        __durable_registration_api__ = 1
        exclusive_group = "trace-view"

        def create_plugin(self, info: Any) -> plugin.DurableInstrumentationPlugin:
            return plugin.DurableInstrumentationPlugin()

        def on_registration_result(self, registered: bool) -> None:
            told.append((type(self).__name__, registered))

    class InvocationView(View):
        pass

    class ExecutionView(View):
        pass

    class Legacy:
        exclusive_group = "trace-view"  # not opted in: ignored

        def create_plugin(self, info: Any) -> plugin.DurableInstrumentationPlugin:
            return plugin.DurableInstrumentationPlugin()

    assert len(load_configured_plugins([InvocationView(), Legacy()])) == 2
    assert told == [("InvocationView", True)]
    told.clear()
    with pytest.raises(PluginLoadError, match=r"mutually exclusive \(group 'trace-view'"):
        load_configured_plugins([InvocationView(), ExecutionView()])
    assert told == [("InvocationView", False), ("ExecutionView", False)]
    with pytest.raises(PluginLoadError, match="registered twice in exclusive group"):
        load_configured_plugins([InvocationView(), InvocationView()])


def test_the_provider_module_text_is_plain_python() -> None:
    compile(textwrap.dedent(PROVIDER), "provider", "exec")
