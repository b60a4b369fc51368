"""The web console in a real headless Chromium (Debian's package), driven by Playwright.

CI installs Chromium (``.ci/run``) and sets ``DURABLE_REQUIRE_BROWSER=1``, so there a missing
browser fails instead of skipping. A screenshot of the execution page is saved under
``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from durable_backend import cli
from durable_backend._console import LocalSource, serve
from durable_backend.local._backend import LocalBackend
from durable_backend.local._runner import derive_function_name
from tests.console import _workflow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", Path(__file__).parents[2] / "test-artifacts"))
TARGET = "tests.console._workflow:handler"
ITEMS = 30

if not Path(CHROMIUM).exists():
    if os.environ.get("DURABLE_REQUIRE_BROWSER"):
        raise RuntimeError(f"Chromium is required here but missing at {CHROMIUM}")
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def database(tmp_path: Path) -> str:
    path = str(tmp_path / "console.db")
    assert cli.main(["run", "examples.order_workflow:handler", "--input",
                     '{"order_id": "o-7", "amount": 42}', "--name", "small-order",
                     "--db", path, "--quiet"]) == 0
    assert cli.main(["run", TARGET, "--input", json.dumps({"items": ITEMS}),
                     "--name", "needs-approval", "--db", path, "--quiet"]) == 0
    return path


@pytest.fixture
def console(database: str) -> Iterator[tuple[str, LocalSource]]:
    source = LocalSource(database, {derive_function_name(*TARGET.split(":")): _workflow.handler})
    server = serve(source, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}/", source
    server.shutdown()
    server.server_close()
    source.join(timeout=30)


@pytest.fixture
def page(console: tuple[str, LocalSource]) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(15_000)
        yield page
        browser.close()


def _pending_callback_id(database: str) -> str:
    with LocalBackend(database, read_only=True) as backend:
        (row,) = [r for r in backend.list_executions()["DurableExecutions"]
                  if r["DurableExecutionName"] == "needs-approval"]
        events = backend.history_events(row["DurableExecutionArn"])
    (started,) = [e for e in events if e["EventType"] == "CallbackStarted"]
    callback_id: str = started["CallbackStartedDetails"]["CallbackId"]
    return callback_id


def test_the_list_shows_every_execution_and_filters_by_status(
    page: Any, console: tuple[str, LocalSource]
) -> None:
    url, _ = console
    page.goto(url)
    rows = page.locator("#executions tbody tr")
    sync_api.expect(rows).to_have_count(2)
    sync_api.expect(page.locator("#executions")).to_contain_text("small-order")
    sync_api.expect(page.locator("#executions")).to_contain_text("needs-approval")
    page.select_option("#filter-status", "SUCCEEDED")
    sync_api.expect(rows).to_have_count(1)
    sync_api.expect(rows.first).to_contain_text("small-order")
    page.select_option("#filter-status", "")
    page.fill("#filter-function", "order_workflow")
    sync_api.expect(rows).to_have_count(1)
    sync_api.expect(rows.first).to_contain_text("small-order")


def test_an_execution_page_draws_the_map_retry_wait_and_callback_and_answers_it(
    page: Any, console: tuple[str, LocalSource], database: str
) -> None:
    url, _ = console
    callback_id = _pending_callback_id(database)
    page.goto(url)
    page.locator("#executions tbody tr", has_text="needs-approval").click()
    sync_api.expect(page.locator("#exec-status")).to_have_text("RUNNING")
    timeline = page.locator("#timeline")
    sync_api.expect(timeline.locator('.op-row[data-name="fan-out"]')).to_contain_text("Map")
    # a big map shows its first items and counts the rest
    sync_api.expect(timeline).to_contain_text(f"show {ITEMS - 20} more items")
    sync_api.expect(timeline.locator('.op-row[data-name="fetch"]')).to_contain_text("2 attempts")
    sync_api.expect(timeline.locator('.op-row[data-kind="Wait"]')).to_contain_text("cool-off")
    sync_api.expect(page.locator(".callback .callback-id")).to_have_text(callback_id)
    timeline.locator('.op-row[data-name="fetch"] .op-label').click()
    sync_api.expect(timeline).to_contain_text("upstream reset the connection")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-execution.png"), full_page=True)

    page.fill(".callback textarea.callback-result", '{"approved": true, "by": "ada"}')
    page.click(".callback button.succeed")
    sync_api.expect(page.locator("#exec-status")).to_have_text("SUCCEEDED", timeout=30_000)
    outcome = json.loads(page.locator("#exec-outcome").inner_text())
    assert outcome == {
        "total": sum(2 * i for i in range(ITEMS)),
        "fetched": "ok on attempt 2",
        "decision": {"approved": True, "by": "ada"},
    }
    sync_api.expect(page.locator(".callback")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "console-finished.png"), full_page=True)
