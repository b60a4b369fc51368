"""Code and tests written for the official SDK and its testing runner, ported by the rewrite
the README promises and nothing else:

    sed s/aws_durable_execution_sdk_python_testing/durable_backend.testing/
    sed s/aws_durable_execution_sdk_python/durable_backend/

Each module in ``official/`` is official-style code (handlers and their tests against the
official ``DurableFunctionTestRunner``), kept as text. It runs as written under the official
SDK, which proves it is the official API, and after the rewrite under ours: on our in-process
runner (LocalBackend), and on AWS's emulator, where the module's runners are bound to
``EmulatorTestRunner`` and its handlers checkpoint to ``dex-local-runner`` over boto3.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.parity.differences import PORTING
from tests.porting._porting import (
    SOURCES,
    WHERE,
    bind_emulator,
    expect_difference,
    load,
    load_ported,
    run_tests,
)


def test_there_are_enough_ported_modules() -> None:
    assert len(SOURCES) >= 20
    assert set(PORTING) <= {path.stem for path in SOURCES}
    for path in SOURCES:
        text = path.read_text()
        assert "aws_durable_execution_sdk_python" in text and "durable_backend" not in text


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_ported_module_runs_on_durable_backend(
    path: Path, where: str, tmp_path: Path, request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expect_difference(path, request)
    module = load_ported(path, tmp_path, prefix=where)
    if where == "emulator":
        bind_emulator(module, request.getfixturevalue("emulator"), monkeypatch)
    assert run_tests(module) >= 1


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_module_is_official_code(path: Path, tmp_path: Path) -> None:
    pytest.importorskip("aws_durable_execution_sdk_python_testing")
    module = load(path.read_text(), f"official_{path.stem}", tmp_path)
    assert run_tests(module) >= 1
