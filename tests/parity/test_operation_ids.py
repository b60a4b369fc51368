"""Operation ids match the official SDK's, so a history recorded by either SDK replays on the
other: the same official-style workflow runs on both (each with its own in-process testing
runner) and every operation, nested ones included, must have the same id under the same name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.porting._porting import load, port

pytest.importorskip("aws_durable_execution_sdk_python_testing")

WORKFLOW = '''
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import MapConfig, NestingType
from aws_durable_execution_sdk_python_testing import DurableFunctionTestRunner


def double(ctx, item, index, items):
    return ctx.step(lambda _: item * 2, f"double {item}")


def branch(label):
    def run(ctx):
        return ctx.step(lambda _: label, f"branch {label}")
    return run


@durable_execution
def handler(event, context: DurableContext):
    context.step(lambda _: 1, "first")
    nested = context.map([10, 20, 30], double, "nested")
    flat = context.map([1, 2], double, "flat", MapConfig(nesting_type=NestingType.FLAT))
    branches = context.parallel([branch("a"), branch("b")], "branches")
    inner = context.run_in_child_context(lambda child: child.step(lambda _: 3, "inner"), "child")
    return [nested.get_results(), flat.get_results(), branches.get_results(), inner]


def run():
    with DurableFunctionTestRunner(handler=handler) as runner:
        result = runner.run(input="{}", execution_timeout=30)
    operations = result.get_all_operations()
    return str(result.status), {(op.name, op.operation_id) for op in operations}, len(operations)
'''


def test_every_operation_id_matches_the_official_sdk(tmp_path: Path) -> None:
    official = load(WORKFLOW, "official_ids", tmp_path)
    ours = load(port(WORKFLOW), "ours_ids", tmp_path)

    their_status, their_ids, their_count = official.run()
    my_status, my_ids, my_count = ours.run()

    assert their_status.endswith("SUCCEEDED") and my_status.endswith("SUCCEEDED")
    assert their_count >= 14  # steps, map items, branches and contexts, nested ones included
    assert my_count == their_count
    assert my_ids == their_ids
