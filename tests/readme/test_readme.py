"""Every ```python block of README.md runs, and type-checks under mypy --strict and pyright.

Blocks run in a fresh namespace each (after ``from tests.readme.stand_ins import *``, the
stand-ins for the outside systems they call), in a directory holding an exported history
under ``tests/histories``, with ``user_code/`` (the user's own ``orders`` module) importable.
A block's ``test_*`` functions are called, and the handlers it defines run through the
testing kit with the inputs below. All blocks are type-checked in one mypy call and one
pyright call.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from durable_backend._timeline import json_default
from durable_backend.testing import run_workflow
from examples import order_workflow

ROOT = Path(__file__).resolve().parents[2]
USER_CODE = Path(__file__).resolve().parent / "user_code"
PRELUDE = "from tests.readme.stand_ins import *  # noqa: F403\n"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)

RUNS: dict[str, tuple[object, Callable[[Any], bool]]] = {
    # handler name: (input, what its result must satisfy)
    "handler": ({"order_id": "o-1", "url": "https://example.com"},
                lambda result: bool({"receipt", "page", "status", "order_id"} & set(result))),
    "fan_out": ({"items": [1, 2, 3]}, lambda result: result == [2, 4, 6]),
    "fan_out_async": ({"items": [1, 2, 3]}, lambda result: result == [2, 4, 6]),
    "book_trip": ({}, lambda result: result["status"] == "cancelled"),
    "pay": ({"order": "o-1"}, lambda result: result == "charged o-1"),
}
CALLBACKS = {"approve": "yes"}
"""Answers for the callbacks a block names (``name="approve"``)."""


def blocks() -> list[str]:
    return BLOCK.findall((ROOT / "README.md").read_text())


def numbered() -> Iterator[tuple[int, str]]:
    yield from enumerate(blocks(), start=1)


def test_the_readme_has_python_blocks() -> None:
    assert len(blocks()) >= 6


@pytest.mark.parametrize(("number", "source"), list(numbered()))
def test_block_runs(
    number: int, source: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # as in Lambda, for boto3.client()
    monkeypatch.syspath_prepend(str(USER_CODE))
    histories = tmp_path / "tests" / "histories"
    histories.mkdir(parents=True)
    small_order = run_workflow(order_workflow.handler, {"order_id": "o-1", "amount": 5})
    (histories / "o-1.json").write_text(
        json.dumps({"Events": list(small_order.history)}, default=json_default)
    )
    monkeypatch.chdir(tmp_path)
    module = f"readme_block_{number}"  # handlers defined here run; imported ones do not
    namespace: dict[str, Any] = {"__name__": module}
    exec(compile(PRELUDE + source, f"README.md python block {number}", "exec"), namespace)
    for name, value in list(namespace.items()):
        if name.startswith("test_") and callable(value):
            value()
        elif name in RUNS and getattr(getattr(value, "fn", None), "__module__", "") == module:
            event, check = RUNS[name]
            callbacks = {key: answer for key, answer in CALLBACKS.items()
                         if f'name="{key}"' in source}
            result = run_workflow(value, event, callbacks=callbacks).assert_succeeded()
            assert check(result), f"block {number}: {name} returned {result!r}"


def test_blocks_type_check(tmp_path: Path) -> None:
    files = []
    for number, source in numbered():
        path = tmp_path / f"readme_block_{number}.py"
        path.write_text(PRELUDE + source)
        files.append(str(path))
    env_path = {"MYPYPATH": os.pathsep.join((str(ROOT), str(USER_CODE)))}
    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental",
         "--cache-dir", str(tmp_path / ".mypy_cache"), *files],
        capture_output=True, text=True, cwd=tmp_path, env={**_env(), **env_path}, check=False,
    )
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(
        {"extraPaths": [str(ROOT), str(USER_CODE)], "pythonVersion": "3.11",
         "typeCheckingMode": "standard"}
    ))
    pyright = subprocess.run(
        [str(Path(sys.executable).parent / "pyright"), "--pythonpath", sys.executable,
         "-p", str(tmp_path), *files],
        capture_output=True, text=True, cwd=tmp_path, env=_env(), check=False,
    )
    assert pyright.returncode == 0, pyright.stdout + pyright.stderr


def _env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("MYPY")}
