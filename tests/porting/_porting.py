"""Loading the official-style texts in ``official/`` ported, and running their tests on our
in-process runner (LocalBackend) or on AWS's emulator."""

from __future__ import annotations

import functools
import importlib.util
import inspect
import sys
import warnings
from pathlib import Path
from types import ModuleType

import pytest

from tests.parity.differences import PORTING
from tests.support.emulator import REGION, Emulator, EmulatorStalledError
from tests.support.emulator_runner import (
    EmulatorTestRunner,
    child_context_runner,
)

OFFICIAL = Path(__file__).parent / "official"
SOURCES = sorted(OFFICIAL.glob("*.txt"))
WHERE = ["local", pytest.param("emulator", marks=pytest.mark.emulator)]
"""Where the ported tests run: our in-process runner, and AWS's emulator."""


def port(source: str) -> str:
    """The whole port: the two import-prefix rewrites, in this order."""
    return source.replace("aws_durable_execution_sdk_python_testing", "durable_backend.testing") \
        .replace("aws_durable_execution_sdk_python", "durable_backend")


def load(source: str, name: str, where: Path) -> ModuleType:
    path = where / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_ported(path: Path, where: Path, prefix: str = "ported") -> ModuleType:
    ported = port(path.read_text())
    assert "aws_durable_execution_sdk_python" not in ported
    return load(ported, f"{prefix}_{path.stem}", where)


def expect_difference(path: Path, request: pytest.FixtureRequest) -> None:
    """Run the test as a strict expected failure if ``path`` shows a behaviour difference
    listed in ``tests/parity/differences.py`` (``PORTING``): it fails once the difference
    is gone, so the entry goes with it."""
    reason = PORTING.get(path.stem)
    if reason is not None:
        request.node.add_marker(pytest.mark.xfail(reason=reason, strict=True))


def run_tests(module: ModuleType) -> int:
    """Run the module's tests; one the emulator stalls (``EmulatorStalledError``) runs once
    more, so its quirk does not fail our SDK."""
    tests = [fn for name, fn in inspect.getmembers(module, inspect.isfunction)
             if name.startswith("test_") and fn.__module__ == module.__name__]
    for test in tests:
        try:
            test()
        except EmulatorStalledError as stalled:
            warnings.warn(f"ran {test.__name__} again: {stalled}", stacklevel=1)
            test()
    return len(tests)


def bind_emulator(module: ModuleType, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the module's tests on the emulator: its official runners become emulator runners,
    and handlers decorated without a client get boto3's default one, pointed at the emulator."""
    for key, value in {"AWS_ENDPOINT_URL_LAMBDA": emulator.endpoint_url, "AWS_REGION": REGION,
                       "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(key, value)
    runners = {"DurableFunctionTestRunner": functools.partial(EmulatorTestRunner, emulator),
               "DurableChildContextTestRunner": child_context_runner(emulator)}
    bound = [name for name in runners if hasattr(module, name)]
    assert bound, f"{module.__name__} uses no official test runner"
    for name in bound:
        setattr(module, name, runners[name])
