"""Sessions: tests, lint, typecheck, package (default) and bench (on demand)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "package"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"
APP = Path(__file__).parent / "examples" / "app"
ARTIFACT = Path(__file__).parent / ".nox" / "sam-build"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    # the README test type-checks every README block with mypy and pyright
    session.install("-e", ".[test,typecheck]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.8")
    session.run("ruff", "check", "durable_backend", "tests", "examples", "benchmarks", "noxfile.py")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[test,typecheck]")
    session.run("mypy", "--strict", "durable_backend")
    session.run("mypy", "--strict", "tests/typing")
    session.run("pyright", "--pythonpath", f"{session.bin}/python")


# The example app, built as a user builds it, then checked (tests/deploy/test_artifact.py).
# aws-sam-cli pins its own boto3, so it gets a virtualenv of its own; uv, where installed,
# resolves its many pins in seconds where pip takes minutes. The app's Makefile installs the
# functions' python3.13 wheels with this virtualenv's pip (BUILD_PYTHON), from Python 3.11.
@nox.session(python=PYTHON, venv_backend="uv|virtualenv")
def sam_build(session: nox.Session) -> None:
    session.install("aws-sam-cli", "pip")
    shutil.rmtree(ARTIFACT, ignore_errors=True)
    with session.chdir(APP):
        session.run("sam", "build", "--build-dir", str(ARTIFACT),
                    env={"SAM_CLI_TELEMETRY": "0", "BUILD_PYTHON": f"{session.bin}/python"})


@nox.session(python=PYTHON, venv_backend="uv|virtualenv", requires=["sam_build"])
def package(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("pytest", "tests/deploy/test_artifact.py", *session.posargs,
                env={"DURABLE_BACKEND_ARTIFACT": str(ARTIFACT)})


FIRST_WAVE = "532bad0"
"""The first wave's last commit: issue #15's absolute CPU targets were measured on its code."""


# Benchmarks: each SDK in its own virtualenv, then one joined report (benchmarks/README.md).
# `nox -s bench [-- --quick]` runs them all; `nox -s bench_<sdk> [-- --quick]` runs one SDK.
def _bench(session: nox.Session, sdk: str, *install: str) -> None:
    session.install(*install)
    session.run("python", "-m", f"benchmarks.run_{sdk}", *session.posargs)


@nox.session(python=PYTHON)
def bench_official(session: nox.Session) -> None:
    _bench(session, "official", "aws-durable-execution-sdk-python>=3,<4")


@nox.session(python=PYTHON)
def bench_fork(session: nox.Session) -> None:
    _bench(session, "fork", "async-durable-execution>=2,<3")


@nox.session(python=PYTHON)
def bench_ours(session: nox.Session) -> None:
    _bench(session, "ours", "-e", ".")


@nox.session(python=PYTHON)
def bench_first_wave(session: nox.Session) -> None:
    """The first wave's package (benchmarks/run_first_wave.py), built from this repository's
    history, run from a directory that holds only the benchmarks, so it imports that package
    and not this checkout's."""
    tmp = Path(session.create_tmp()).resolve()
    tree, runner = tmp / "first-wave", tmp / "runner"
    for old in (tree, runner):
        shutil.rmtree(old, ignore_errors=True)
    tree.mkdir()
    runner.mkdir()
    session.run("git", "archive", "-o", str(tmp / "first-wave.tar"), FIRST_WAVE, external=True)
    session.run("tar", "-xf", str(tmp / "first-wave.tar"), "-C", str(tree), external=True)
    session.install(str(tree))
    (runner / "benchmarks").symlink_to(Path("benchmarks").resolve())
    session.chdir(runner)
    session.run("python", "-m", "benchmarks.run_first_wave", *session.posargs)


@nox.session(python=PYTHON)
def bench_plugins(session: nox.Session) -> None:
    session.install("-e", ".")
    session.run("python", "-m", "benchmarks.plugin_cost", *session.posargs)


@nox.session(python=PYTHON)
def bench_report(session: nox.Session) -> None:
    session.install("rich>=13.7")
    session.run("python", "-m", "benchmarks.report", *session.posargs)


@nox.session(python=False)
def bench(session: nox.Session) -> None:
    for name in (
        "bench_official", "bench_fork", "bench_ours", "bench_first_wave", "bench_plugins",
        "bench_report",
    ):
        session.notify(name, session.posargs)
