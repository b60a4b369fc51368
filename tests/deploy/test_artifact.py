"""The example app as ``sam build`` packaged it: every handler imports with only the artifact on
``sys.path``, one runs end to end under AWS's emulator through the real backend, and nothing
but the handlers and their runtime dependencies went in.

``nox -s package`` builds the artifact and runs this module with ``DURABLE_BACKEND_ARTIFACT``
set to the build directory; other runs skip it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode.decode import decode_str

from tests.e2e import _runs
from tests.support.emulator import REGION, Emulator

ARTIFACT_ENV = "DURABLE_BACKEND_ARTIFACT"
APP = Path(__file__).resolve().parents[2] / "examples" / "app"
# Development leftovers, never something a Lambda function needs: caches anywhere, and this
# repository's own folders and files at the top (third-party packages keep their subfolders).
CACHES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".durable", ".nox",
          ".venv", ".git", ".aws-sam"}
REPOSITORY = {"tests", "benchmarks", "examples", "noxfile.py", "pyproject.toml", "README.md",
              ".ci"}
# Imports the handler named argv[2] from the artifact at argv[1], alone on sys.path (``-I -S``
# leaves only the standard library; ``-B`` writes no caches into it), then calls it with the
# event on stdin, as Lambda would.
RUN_HANDLER = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
module, _, attr = sys.argv[2].rpartition(".")
handler = getattr(importlib.import_module(module), attr)
import durable_backend
assert durable_backend.__file__.startswith(sys.argv[1]), durable_backend.__file__
if sys.argv[3] == "import":
    print(type(handler).__name__)
else:
    print(json.dumps(handler(json.load(sys.stdin), None)))
"""

pytestmark = pytest.mark.skipif(
    ARTIFACT_ENV not in os.environ, reason="needs a sam build: run `nox -s package`"
)


def functions() -> dict[str, str]:
    """Logical id -> handler of every function in the app's template."""
    template, errors = decode_str((APP / "template.yaml").read_text())
    assert not errors and template is not None, errors
    default = template.get("Globals", {}).get("Function", {}).get("Handler")
    return {
        name: resource["Properties"].get("Handler", default)
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def artifact(function: str) -> Path:
    return Path(os.environ[ARTIFACT_ENV]) / function


def run_in_artifact(function: str, handler: str, mode: str, event: Any = None,
                    env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", RUN_HANDLER, str(artifact(function)), handler,
         mode],
        input=json.dumps(event), capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": os.environ["PATH"], **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("function", sorted(functions()))
def test_every_handler_imports_from_the_artifact_alone(function: str) -> None:
    kind = run_in_artifact(function, functions()[function], "import")
    assert kind in ("DurableHandler", "AsyncDurableHandler")


@pytest.mark.parametrize("function", sorted(functions()))
def test_artifact_holds_the_handlers_and_runtime_dependencies_only(function: str) -> None:
    root = artifact(function)
    caches = sorted(str(path.relative_to(root)) for path in root.rglob("*")
                    if path.name in CACHES or path.suffix == ".pyc")
    assert caches == []
    top = {path.name for path in root.iterdir()}
    assert top & REPOSITORY == set()
    assert {"checkout.py", "durable_backend", "boto3", "botocore", "attrs", "cattrs",
            "tenacity", "typing_extensions.py"} <= top
    assert "rich" not in top  # the CLI's extra is not a runtime dependency


@pytest.mark.emulator
def test_pricing_runs_end_to_end_under_the_emulator(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The artifact's own durable_backend checkpoints to the emulator, configured as in Lambda:
    region from AWS_REGION, the endpoint from AWS_ENDPOINT_URL_LAMBDA."""
    # Each invocation is a cold start in a fresh interpreter (boto3 imported anew).
    monkeypatch.setattr(_runs, "RUN_TIMEOUT_SECONDS", 120.0)
    lambda_env = {
        "AWS_REGION": REGION, "AWS_ENDPOINT_URL_LAMBDA": emulator.endpoint_url,
        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
    }

    def handler(event: dict[str, Any], _: object) -> dict[str, Any]:
        output: dict[str, Any] = json.loads(
            run_in_artifact("Pricing", functions()["Pricing"], "invoke", event, lambda_env)
        )
        return output

    basket = {"items": [{"sku": "apple", "qty": 3}, {"sku": "pear", "qty": 2}]}
    run = _runs.run_on_emulator(emulator, emulator.client(), handler, json.dumps(basket),
                          execution_name="artifact-pricing")
    assert (run.status, run.result, run.error) == ("SUCCEEDED", {"total": 310}, None)
    assert [key[0] for key in run.keys] == [
        "ExecutionStarted", "StepStarted", "StepSucceeded", "InvocationCompleted",
        "ExecutionSucceeded",
    ]
