"""Which plugin factories a handler runs with (official ``plugin_discovery``).

``durable_execution(plugins=[...])`` names factories in code; the ``DURABLE_EXECUTION_PLUGINS``
environment variable adds installed ones by entry-point name (comma-separated), from the
``aws_durable_execution.plugins`` entry-point group, the official group, so a provider package
serves both SDKs. Everything is checked when the handler is decorated: a bad entry is a
``PluginLoadError`` that names it and says what to pass instead.

A factory class may opt into registration metadata with ``__durable_registration_api__ = 1``:
``exclusive_group`` (at most one registered factory per group) and
``on_registration_result(registered: bool)``, told whether its registration went through.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from durable_backend._errors import PluginLoadError
from durable_backend.plugin import DurableInstrumentationPluginFactory

if TYPE_CHECKING:
    from importlib import metadata

logger = logging.getLogger(__name__)

PLUGIN_ENTRY_POINT_GROUP = "aws_durable_execution.plugins"
PLUGIN_ENVIRONMENT_VARIABLE = "DURABLE_EXECUTION_PLUGINS"


def load_configured_plugins(
    explicit_plugins: Sequence[DurableInstrumentationPluginFactory] | None,
    *,
    environment: Mapping[str, str] | None = None,
) -> list[DurableInstrumentationPluginFactory]:
    """The explicit factories, in order, then those ``DURABLE_EXECUTION_PLUGINS`` names (a
    factory already passed explicitly is not added twice). Raises ``PluginLoadError``."""
    factories = list(explicit_plugins or [])
    candidates: list[object] = list(factories)
    try:
        for index, factory in enumerate(factories):
            if not _is_factory(factory):
                raise PluginLoadError(
                    f"plugins[{index}] must be a plugin factory (an object with a "
                    f"create_plugin(info) method returning a DurableInstrumentationPlugin), "
                    f"but is {_describe(factory)}. Pass a factory instance, for example "
                    "plugins=[MyPluginFactory()], not a plugin, a plugin class, a plain "
                    "callable or the factory class."
                )
        environment = os.environ if environment is None else environment
        for name in _configured_names(environment):
            factory = _load(name, candidates)
            if any(factory is known for known in factories):
                logger.warning(
                    "Skipping plugin %r from %s: the same factory is already registered",
                    name,
                    PLUGIN_ENVIRONMENT_VARIABLE,
                )
                continue
            factories.append(factory)
        _check_exclusive_groups(factories)
    except Exception:
        _notify(candidates, registered=False)
        raise
    _notify(factories, registered=True)
    return factories


def _configured_names(environment: Mapping[str, str]) -> list[str]:
    raw = environment.get(PLUGIN_ENVIRONMENT_VARIABLE)
    if raw is None or not raw.strip():
        return []
    names = [name.strip() for name in raw.split(",")]
    if not all(names):
        raise PluginLoadError(
            f"{PLUGIN_ENVIRONMENT_VARIABLE}={raw!r} has an empty name: give non-empty, "
            "comma-separated plugin names"
        )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise PluginLoadError(
            f"{PLUGIN_ENVIRONMENT_VARIABLE} names {', '.join(map(repr, duplicates))} more "
            "than once: name each plugin once"
        )
    return names


def _load(name: str, candidates: list[object]) -> DurableInstrumentationPluginFactory:
    from importlib import metadata

    try:
        found = list(metadata.entry_points(group=PLUGIN_ENTRY_POINT_GROUP))
    except Exception as error:
        raise PluginLoadError(
            f"Could not read the installed plugin providers (entry-point group "
            f"{PLUGIN_ENTRY_POINT_GROUP!r}): {error}"
        ) from error
    matching = [ep for ep in found if ep.name == name]
    if not matching:
        installed = ", ".join(sorted({ep.name for ep in found})) or "none"
        raise PluginLoadError(
            f"{PLUGIN_ENVIRONMENT_VARIABLE} names {name!r}, but no installed package provides "
            f"a plugin of that name in entry-point group {PLUGIN_ENTRY_POINT_GROUP!r} "
            f"(installed: {installed}). Install the provider package in the function's "
            "artifact or a layer, or fix the name."
        )
    if len(matching) > 1:
        owners = ", ".join(_distribution(ep) for ep in matching)
        raise PluginLoadError(
            f"Several installed packages provide plugin {name!r} in entry-point group "
            f"{PLUGIN_ENTRY_POINT_GROUP!r} ({owners}): remove all but one"
        )
    entry_point = matching[0]
    try:
        factory = entry_point.load()
    except Exception as error:
        raise PluginLoadError(
            f"Could not load plugin {name!r} from {entry_point.value!r} "
            f"({_distribution(entry_point)}): {error}"
        ) from error
    candidates.append(factory)
    if not _is_factory(factory):
        raise PluginLoadError(
            f"Plugin entry point {name!r} ({entry_point.value!r}) must name a plugin factory "
            f"(an object with a create_plugin(info) method), but it is {_describe(factory)}. "
            "Point it at a factory instance, not a plugin, a plugin class or the factory class."
        )
    return cast(DurableInstrumentationPluginFactory, factory)


def _distribution(entry_point: metadata.EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    name = dist.metadata.get("Name") if dist is not None else None
    return str(name) if name else "unknown distribution"


def _is_factory(value: object) -> bool:
    """A callable ``create_plugin`` that takes the info as its one argument. Read off a class,
    only a classmethod, a staticmethod or a callable attribute qualifies: an instance method
    would take the info as ``self``."""
    create = getattr(value, "create_plugin", None)
    if not callable(create):
        return False
    if isinstance(value, type) and inspect.isfunction(create):
        declared = inspect.getattr_static(value, "create_plugin", None)
        if not isinstance(declared, staticmethod):
            return False
    try:
        signature = inspect.signature(create)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(object())
    except TypeError:
        return False
    return True


def _describe(value: object) -> str:
    if isinstance(value, type):
        return f"the class {value.__module__}.{value.__qualname__}"
    if inspect.isroutine(value):
        qualname = getattr(value, "__qualname__", getattr(value, "__name__", "<unnamed>"))
        return f"the function {getattr(value, '__module__', '?')}.{qualname}"
    kind = type(value)
    return f"an instance of {kind.__module__}.{kind.__qualname__}"


def _factory_class(factory: object) -> type:
    return factory if isinstance(factory, type) else type(factory)


def _opted_in(cls: type) -> list[type]:
    """The classes of ``cls``'s MRO that declare ``__durable_registration_api__ = 1``; none
    when the nearest declaration is another value (it shadows an inherited opt-in)."""
    declaring = [klass for klass in cls.__mro__ if "__durable_registration_api__" in vars(klass)]
    if not declaring or not _version_1(declaring[0]):
        return []
    return [klass for klass in declaring if _version_1(klass)]


def _version_1(klass: type) -> bool:
    version = vars(klass)["__durable_registration_api__"]
    return type(version) is int and version == 1


def _check_exclusive_groups(factories: Sequence[object]) -> None:
    owners: dict[str, type] = {}
    for factory in factories:
        cls = _factory_class(factory)
        groups: list[str] = []
        for klass in _opted_in(cls):
            group: Any = getattr(klass, "exclusive_group", None)
            if group is None:
                continue
            if not isinstance(group, str) or not group.strip():
                raise PluginLoadError(
                    f"{cls.__module__}.{cls.__qualname__}.exclusive_group must be None or a "
                    f"non-empty string, not {group!r}"
                )
            if group not in groups:
                groups.append(group)
        for group in groups:
            previous = owners.get(group)
            if previous is cls:
                raise PluginLoadError(
                    f"{cls.__module__}.{cls.__qualname__} is registered twice in exclusive "
                    f"group {group!r}: register it once"
                )
            if previous is not None:
                raise PluginLoadError(
                    f"Plugins {previous.__module__}.{previous.__qualname__} and "
                    f"{cls.__module__}.{cls.__qualname__} are mutually exclusive (group "
                    f"{group!r}): keep one of them in plugins and {PLUGIN_ENVIRONMENT_VARIABLE}"
                )
            owners[group] = cls


def _notify(factories: Sequence[object], *, registered: bool) -> None:
    """Tell each opted-in factory whether its registration went through (failures logged)."""
    told: set[int] = set()
    for factory in factories:
        if id(factory) in told:
            continue
        told.add(id(factory))
        try:
            if not _opted_in(_factory_class(factory)):
                continue
            callback = getattr(factory, "on_registration_result", None)
            if callable(callback):
                callback(registered)
        except Exception:
            logger.exception("Plugin registration-result callback failed")


__all__ = [
    "PLUGIN_ENTRY_POINT_GROUP",
    "PLUGIN_ENVIRONMENT_VARIABLE",
    "load_configured_plugins",
]
