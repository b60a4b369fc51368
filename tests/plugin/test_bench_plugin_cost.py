"""The plugin-cost benchmark runs, on tiny N, for every variant (not timed: it checks the
plumbing and that each run did its work)."""

from __future__ import annotations

import pytest

from benchmarks.plugin_cost import PLUGINS, run_once


@pytest.mark.parametrize("twin", ["sync", "async"])
@pytest.mark.parametrize("replay", [False, True])
@pytest.mark.parametrize("variant", sorted(PLUGINS))
def test_each_variant_runs(twin: str, replay: bool, variant: str) -> None:
    assert run_once(twin, PLUGINS[variant], 3, replay) >= 0
