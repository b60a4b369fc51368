"""The deployable example app (examples/app): its template lints clean with cfn-lint (which
reads SAM), and its functions run locally as they would deployed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.api import lint

from durable_backend.execution import AsyncDurableHandler
from durable_backend.testing import run_workflow
from examples.app.functions import checkout

APP = Path(__file__).resolve().parents[2] / "examples" / "app"
BASKET = {"items": [{"sku": "apple", "qty": 3}, {"sku": "pear", "qty": 2}]}


def test_template_lints_clean() -> None:
    findings = lint((APP / "template.yaml").read_text())
    assert findings == [], "\n".join(str(match) for match in findings)


def test_cfn_lint_rejects_what_sam_rejects(tmp_path: Path) -> None:
    """The lint is real: Policies under Globals (the old template's mistake) is an error."""
    template = (APP / "template.yaml").read_text()
    broken = tmp_path / "template.yaml"
    broken.write_text(template.replace(
        "    AutoPublishAlias: live\n",
        "    AutoPublishAlias: live\n    Policies:\n      - AWSLambdaBasicExecutionRole\n", 1,
    ))
    assert [match.rule.id for match in lint(broken.read_text())] == ["E3724"]


@pytest.mark.parametrize(("approved", "status"), [(True, "paid"), (False, "declined")])
def test_checkout_invokes_pricing_and_waits_for_approval(approved: bool, status: str) -> None:
    result = run_workflow(
        checkout.checkout, BASKET, functions={"pricing": checkout.pricing},
        callbacks={"approval": {"approved": approved}},
    )
    assert result.assert_succeeded()["status"] == status
    assert result.result["total"] == 310
    assert "ChainedInvokeSucceeded" in result.history_types()
    result.assert_pure_replay()


def test_pricing_rejects_unknown_skus() -> None:
    failed = run_workflow(checkout.pricing, {"items": [{"sku": "kiwi", "qty": 1}]})
    assert "unknown SKUs" in (failed.assert_failed().error_message or "")
    assert isinstance(checkout.checkout, AsyncDurableHandler)


def test_cli_without_rich_says_how_to_install_it() -> None:
    """The Lambda runtime needs no rich; the CLI without it gives one line, not a traceback."""
    blocked = "import sys; sys.modules['rich'] = None; import runpy; " \
              "runpy.run_module('durable_backend', run_name='__main__')"
    proc = subprocess.run([sys.executable, "-c", blocked, "list"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "durable-backend: the CLI needs rich, from the cli extra: "
        "pip install 'durable_backend[cli]'"
    ]
