"""``benchmarks.stream_rss`` must never rot: its code runs on tiny counts on every reachable SQL backend.

Each mode runs in its own interpreter and must read every seeded row; the memory figures are
checked for shape only (no thresholds: the measured figures are in docs/performance.md).
"""

from __future__ import annotations

import pytest

from benchmarks.stream_rss import BACKENDS, MODES, format_table, run_backend

from .conftest import backend_problem, required_backends, selected_backends


@pytest.mark.parametrize("backend", BACKENDS)
async def test_stream_rss_smoke(backend: str) -> None:
    if backend not in selected_backends() and backend not in required_backends():
        pytest.skip(f"{backend} is not in FARMORM_BACKENDS")
    problem = backend_problem(backend)
    if problem:
        pytest.skip(problem)
    report = await run_backend(backend, rows=120, batch_size=50)
    assert list(report["results"]) == list(MODES)
    for r in report["results"].values():
        assert r["rows"] == 120  # run_backend also refuses a short read
        assert r["peak_rss_kb"] >= r["rss_before_kb"] > 0
    assert f"| {backend} | 120 | stream (batch_size=50) |" in format_table([report])
