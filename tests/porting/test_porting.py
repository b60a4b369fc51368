"""Code and tests written for the official SDK and its testing runner, ported by the rewrite
the README promises and nothing else:

    sed s/aws_durable_execution_sdk_python_testing/durable_backend.testing/
    sed s/aws_durable_execution_sdk_python/durable_backend/

Each module in ``official/`` is official-style code (a handler and its test against the official
``DurableFunctionTestRunner``), kept as text. It runs as written under the official SDK, which
proves it is the official API, and after the rewrite under ours: on our in-process runner
(LocalBackend), and on AWS's emulator, where the module's ``DurableFunctionTestRunner`` is
bound to ``EmulatorTestRunner`` and its handlers checkpoint to ``dex-local-runner`` over boto3.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.emulator import REGION, Emulator
from tests.support.emulator_runner import EmulatorTestRunner, child_context_runner

OFFICIAL = Path(__file__).parent / "official"
SOURCES = sorted(OFFICIAL.glob("*.txt"))


def port(source: str) -> str:
    """The whole port: the two import-prefix rewrites, in this order."""
    return source.replace("aws_durable_execution_sdk_python_testing", "durable_backend.testing") \
        .replace("aws_durable_execution_sdk_python", "durable_backend")


def _load(source: str, name: str, where: Path) -> ModuleType:
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


def _run_tests(module: ModuleType) -> int:
    tests = [fn for name, fn in inspect.getmembers(module, inspect.isfunction)
             if name.startswith("test_") and fn.__module__ == module.__name__]
    for test in tests:
        test()
    return len(tests)


def test_there_are_enough_ported_modules() -> None:
    assert len(SOURCES) >= 20
    for path in SOURCES:
        text = path.read_text()
        assert "aws_durable_execution_sdk_python" in text and "durable_backend" not in text


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_ported_module_runs_on_durable_backend(path: Path, tmp_path: Path) -> None:
    ported = port(path.read_text())
    assert "aws_durable_execution_sdk_python" not in ported
    module = _load(ported, f"ported_{path.stem}", tmp_path)
    assert _run_tests(module) >= 1


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_module_is_official_code(path: Path, tmp_path: Path) -> None:
    pytest.importorskip("aws_durable_execution_sdk_python_testing")
    module = _load(path.read_text(), f"official_{path.stem}", tmp_path)
    assert _run_tests(module) >= 1


@pytest.mark.emulator
@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_ported_module_runs_on_the_emulator(
    path: Path, tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A handler decorated without a client uses boto3's default one: point it at the emulator.
    for key, value in {"AWS_ENDPOINT_URL_LAMBDA": emulator.endpoint_url, "AWS_REGION": REGION,
                       "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(key, value)
    module = _load(port(path.read_text()), f"emulated_{path.stem}", tmp_path)
    runners = {"DurableFunctionTestRunner": functools.partial(EmulatorTestRunner, emulator),
               "DurableChildContextTestRunner": child_context_runner(emulator)}
    bound = [name for name in runners if hasattr(module, name)]
    assert bound, "the module uses no official test runner"
    for name in bound:
        setattr(module, name, runners[name])
    assert _run_tests(module) >= 1
