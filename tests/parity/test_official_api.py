"""API parity with the official ``aws-durable-execution-sdk-python`` 3.x, module by module.

For every public module of the official package, every public name must exist in ours; every
function, constructor and method must accept the official parameters (names, order, kinds and
defaults; ours may only add keyword-only parameters with defaults); every enum member, dataclass
field, method and property must exist. The differences we keep on purpose are listed, each with
its reason, in ``tests/parity/differences.py``; any other difference fails, and so does a listed
difference that no longer exists.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, ParamSpec, TypeVar

import attrs
import pytest

from tests.parity.differences import DIFFERENCES, NAMES_ONLY

OFFICIAL = "aws_durable_execution_sdk_python"
OURS = "durable_backend"
MODULES = [
    "config",
    "context",
    "execution",
    "retries",
    "waits",
    "types",
    "serdes",
    "exceptions",
    "logger",
    "concurrency.models",
    "lambda_service",
    "plugin",
    "plugin_discovery",
]


def public_names(module: ModuleType) -> list[str]:
    """Names the official module itself defines at top level (classes, functions, constants),
    not the names it imports, type variables or its module logger."""
    tree = ast.parse(Path(module.__file__ or "").read_text())
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names.extend(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return [
        name
        for name in dict.fromkeys(names)
        if not name.startswith("_")
        and name != "logger"
        and not isinstance(getattr(module, name), TypeVar | ParamSpec)
    ]


REQUIRED = "<required>"


def normalized(value: Any) -> Any:
    """A value comparable across the two SDKs' classes: enums by name, dataclass and attrs
    instances by type name and fields, callables as such."""
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    elif attrs.has(type(value)):
        fields = attrs.asdict(value, recurse=False)
    elif callable(value):
        return "<callable>"
    else:
        return value
    return (type(value).__name__, {k: normalized(v) for k, v in fields.items()})


def same_value(ours: Any, theirs: Any) -> bool:
    """Equal, where a field the official value has and ours lacks must be None there."""
    if isinstance(ours, tuple) and isinstance(theirs, tuple) and len(ours) == len(theirs) == 2:
        (our_type, our_fields), (their_type, their_fields) = ours, theirs
        if isinstance(our_fields, dict) and isinstance(their_fields, dict):
            return our_type == their_type and all(
                (key in our_fields and same_value(our_fields[key], value))
                or (key not in our_fields and value is None)
                for key, value in their_fields.items()
            )
    return bool(ours == theirs)


def effective_defaults(cls: Any) -> dict[str, Any]:
    """Field defaults that come from a factory, which a signature does not show."""
    if dataclasses.is_dataclass(cls):
        return {
            f.name: f.default_factory()
            for f in dataclasses.fields(cls)
            if f.default_factory is not dataclasses.MISSING
        }
    if attrs.has(cls):
        return {
            f.name: f.default.factory()
            for f in attrs.fields(cls)
            if isinstance(f.default, attrs.Factory) and not f.default.takes_self
        }
    return {}


def parameters(fn: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    """(name, kind, normalized default) of each parameter; raises when not inspectable."""
    factories = effective_defaults(fn) if inspect.isclass(fn) else {}
    found = []
    for param in inspect.signature(fn).parameters.values():
        default = factories.get(param.name, param.default)
        found.append(
            (param.name, param.kind, REQUIRED if default is param.empty else normalized(default))
        )
    return found


def signature_differences(official: Callable[..., Any], ours: Callable[..., Any]) -> list[str]:
    """What ``ours`` lacks to accept every call the official signature accepts."""
    try:
        theirs = parameters(official)
    except (TypeError, ValueError):
        return []
    try:
        mine = parameters(ours)
    except (TypeError, ValueError):
        return ["no inspectable signature"]
    var_keyword = any(kind is inspect.Parameter.VAR_KEYWORD for _, kind, _ in mine)
    problems: list[str] = []
    for index, (name, kind, default) in enumerate(theirs):
        if kind is inspect.Parameter.KEYWORD_ONLY:
            match = next((p for p in mine if p[0] == name), None)
            if match is None and var_keyword:
                continue
        else:
            match = mine[index] if index < len(mine) else None
        if match is None:
            problems.append(f"missing parameter {name!r}")
            continue
        our_name, our_kind, our_default = match
        names_match = our_name == name or name.startswith("_")  # `_` is never passed by name
        defaults_match = default == REQUIRED or same_value(our_default, default)
        if not (names_match and our_kind is kind and defaults_match):
            problems.append(
                f"parameter {index} is {our_name}: {our_kind.description} = {our_default}, "
                f"official {name}: {kind.description} = {default}"
            )
    official_names = {name for name, _, _ in theirs}
    for name, kind, default in mine[len(theirs) :]:
        if name in official_names or kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            continue
        if kind is not inspect.Parameter.KEYWORD_ONLY or default == REQUIRED:
            problems.append(f"extra parameter {name!r} must be keyword-only with a default")
    return problems


def fields_of(cls: type) -> list[str]:
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls)]
    return []


def has_field(cls: type, name: str) -> bool:
    if attrs.has(cls) and name in attrs.fields_dict(cls):
        return True
    return any(
        name in vars(klass) or name in getattr(klass, "__slots__", ()) for klass in cls.__mro__
    )


def own_members(cls: type) -> Iterator[tuple[str, Any]]:
    """Public methods and properties the official class defines itself."""
    for name, value in vars(cls).items():
        if name.startswith("_") or isinstance(cls, enum.EnumMeta):
            continue
        if isinstance(value, property | classmethod | staticmethod) or inspect.isfunction(value):
            yield name, value


def class_differences(key: str, official: type, ours: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(ours, type):
        yield key, f"is {type(ours).__name__}, not a class"
        return
    if issubclass(official, enum.Enum):
        for member in official.__members__:
            if not (issubclass(ours, enum.Enum) and member in ours.__members__):
                yield f"{key}.{member}", "missing enum member"
        return
    is_protocol = getattr(official, "_is_protocol", False)
    if not is_protocol and official.__init__ is not object.__init__:
        problems = signature_differences(official, ours)
        if problems:
            yield f"{key}()", "; ".join(problems)
    for field in fields_of(official):
        if not has_field(ours, field):
            yield f"{key}.{field}", "missing field"
    for name, value in own_members(official):
        if not hasattr(ours, name):
            yield f"{key}.{name}", "missing member"
            continue
        mine = inspect.getattr_static(ours, name)
        if isinstance(value, property):
            continue
        theirs_fn = getattr(official, name)
        ours_fn = getattr(ours, name)
        if isinstance(mine, property):
            yield f"{key}.{name}()", "is a property, official is a method"
            continue
        problems = signature_differences(theirs_fn, ours_fn)
        if problems:
            yield f"{key}.{name}()", "; ".join(problems)


def module_differences(module: str) -> dict[str, str]:
    official = importlib.import_module(f"{OFFICIAL}.{module}" if module else OFFICIAL)
    ours = importlib.import_module(f"{OURS}.{module}" if module else OURS)
    names = list(official.__all__) if not module else public_names(official)
    found: dict[str, str] = {}
    for name in names:
        key = f"{module or '<root>'}.{name}"
        if name not in vars(ours):
            found[key] = "missing"
            continue
        theirs_value, ours_value = getattr(official, name), getattr(ours, name)
        if not module or module in NAMES_ONLY:
            continue  # the root's names are compared in the modules that define them
        if inspect.isclass(theirs_value):
            found.update(class_differences(key, theirs_value, ours_value))
        elif inspect.isfunction(theirs_value):
            problems = signature_differences(theirs_value, ours_value)
            if problems:
                found[f"{key}()"] = "; ".join(problems)
    return found


ALL_MODULES = ["", *MODULES]


@pytest.fixture(scope="module")
def differences() -> dict[str, str]:
    found: dict[str, str] = {}
    for module in ALL_MODULES:
        found.update(module_differences(module))
    return found


@pytest.mark.parametrize("module", ALL_MODULES, ids=[m or "<root>" for m in ALL_MODULES])
def test_every_difference_from_the_official_module_is_deliberate(
    module: str, differences: dict[str, str]
) -> None:
    prefix = f"{module or '<root>'}."
    unlisted = {
        key: why
        for key, why in differences.items()
        if key.startswith(prefix) and key not in DIFFERENCES
    }
    assert unlisted == {}, "differences from the official SDK not in tests/parity/differences.py"


def test_every_listed_difference_still_exists(differences: dict[str, str]) -> None:
    stale = sorted(set(DIFFERENCES) - set(differences))
    assert stale == [], "listed differences that are gone: remove them from differences.py"


def test_every_listed_difference_has_a_reason() -> None:
    assert all(len(reason) > 20 for reason in DIFFERENCES.values())
