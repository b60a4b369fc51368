"""The example app as ``sam build`` packaged it: every handler imports with only the artifact on
``sys.path``, one runs end to end under AWS's emulator through the real backend, and nothing
but the handlers and their runtime dependencies went in, as wheels for the functions' Lambda
runtime (the build runs on any Python 3.11 or later, so it must not pick the building Python's).

``nox -s package`` builds the artifact and runs this module with ``DURABLE_BACKEND_ARTIFACT``
set to the build directory; other runs skip it. The handlers run on the session's Python (the
artifact's code is pure Python; its wheels' tags and markers are checked for the runtime's).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from email.parser import HeaderParser
from importlib.metadata import Distribution, distributions
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode.decode import decode_str
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, parse_tag
from packaging.utils import canonicalize_name

from tests.e2e import _runs
from tests.support.emulator import REGION, Emulator

ARTIFACT_ENV = "DURABLE_BACKEND_ARTIFACT"
REPOSITORY = Path(__file__).resolve().parents[2]
APP = REPOSITORY / "examples" / "app"
# Development leftovers, never something a Lambda function needs, anywhere in the artifact.
CACHES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".durable", ".nox",
          ".venv", ".git", ".aws-sam"}
# Lambda's python3.x runtimes from 3.12 on run on Amazon Linux 2023 (glibc 2.34); the app's
# functions run on x86_64 (the template sets no Architectures).
LAMBDA_PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(34, 4, -1)]
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


def function_properties(key: str) -> dict[str, Any]:
    """Logical id -> the property ``key`` (or its Globals default) of every function in the
    app's template."""
    template, errors = decode_str((APP / "template.yaml").read_text())
    assert not errors and template is not None, errors
    default = template.get("Globals", {}).get("Function", {}).get(key)
    return {
        name: resource["Properties"].get(key, default)
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def functions() -> dict[str, str]:
    """Logical id -> handler of every function in the app's template."""
    return function_properties("Handler")


def runtime_python(function: str) -> str:
    """The Python version of the function's Lambda runtime (``python3.13`` -> ``3.13``)."""
    runtime: str = function_properties("Runtime")[function]
    return runtime.removeprefix("python")


def artifact(function: str) -> Path:
    return Path(os.environ[ARTIFACT_ENV]) / function


def installed(function: str) -> dict[str, Distribution]:
    """Canonical name -> distribution of every package installed in the function's artifact."""
    return {canonicalize_name(dist.metadata["Name"]): dist
            for dist in distributions(path=[str(artifact(function))])}


def lambda_requirements(dist: Distribution, python: str) -> Iterator[Requirement]:
    """What ``dist`` requires on Lambda's Python ``python`` for x86_64 Linux (no extras)."""
    environment = {"python_version": python, "python_full_version": f"{python}.0",
                   "implementation_name": "cpython", "platform_python_implementation": "CPython",
                   "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
                   "platform_machine": "x86_64"}
    for line in dist.requires or []:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            yield requirement


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
    handlers = {f"{handler.rpartition('.')[0]}.py" for handler in functions().values()}
    packaged = {Path(str(file)).parts[0] for dist in installed(function).values()
                for file in dist.files or []}
    assert sorted(top - handlers - packaged) == []  # no scripts (bin/), no repository files
    assert {"checkout.py", "durable_backend", "boto3", "botocore", "attrs", "cattrs",
            "tenacity", "typing_extensions.py"} <= top
    assert "rich" not in top  # the CLI's extra is not a runtime dependency


@pytest.mark.parametrize("function", sorted(functions()))
def test_artifact_holds_durable_backend_from_this_checkout(function: str) -> None:
    def sources(package: Path) -> dict[str, bytes]:
        return {str(path.relative_to(package)): path.read_bytes() for path in package.rglob("*")
                if path.is_file() and "__pycache__" not in path.parts}

    built = sources(artifact(function) / "durable_backend")
    assert built == sources(REPOSITORY / "durable_backend")


@pytest.mark.parametrize("function", sorted(functions()))
def test_artifact_dependencies_are_resolved_for_the_lambda_runtime(function: str) -> None:
    """Exactly durable_backend's dependency closure as the runtime's Python evaluates the
    markers, each a wheel the runtime can load: a build that resolved or picked wheels for the
    building Python (3.11, say) fails here."""
    python = runtime_python(function)
    dists = installed(function)
    closure, todo = {"durable-backend"}, ["durable-backend"]
    while todo:
        name = todo.pop()
        for requirement in lambda_requirements(dists[name], python):
            wanted = canonicalize_name(requirement.name)
            assert wanted in dists, f"{name} needs {requirement}, not in the artifact"
            assert requirement.specifier.contains(dists[wanted].version, prereleases=True), (
                f"{name} needs {requirement}, the artifact has {dists[wanted].version}")
            if wanted not in closure:
                closure.add(wanted)
                todo.append(wanted)
    assert sorted(closure) == sorted(dists)

    version = tuple(map(int, python.split(".")))
    abi = f"cp{python.replace('.', '')}"
    supported = {*cpython_tags(version, [abi], LAMBDA_PLATFORMS),
                 *compatible_tags(version, abi, LAMBDA_PLATFORMS)}
    for name, dist in dists.items():
        wheel = HeaderParser().parsestr(dist.read_text("WHEEL") or "")
        tags: set[Tag] = {tag for line in wheel.get_all("Tag", []) for tag in parse_tag(line)}
        assert tags & supported, f"{name}'s wheel {sorted(map(str, tags))} is not for {abi}"
        for requires_python in dist.metadata.get_all("Requires-Python") or []:
            assert python in SpecifierSet(requires_python), f"{name}: {requires_python}"


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
