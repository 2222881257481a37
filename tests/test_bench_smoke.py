"""The benchmark suite must never rot: its smoke mode runs in-process on every reachable backend.

These tests check that every workload runs on both systems (raw floor and farmorm) and produces
a positive throughput, and that the PostgreSQL relation strategies agree on their result. They
never look at speed: no timing thresholds, no ratios.
"""

from __future__ import annotations

import pytest

from benchmarks.runner import BACKENDS, format_table, run_backend
from benchmarks.workloads import OPS

from .conftest import backend_problem, required_backends, selected_backends


def _usable(backend: str) -> None:
    if backend not in selected_backends() and backend not in required_backends():
        pytest.skip(f"{backend} is not in FARMORM_BACKENDS")
    problem = backend_problem(backend)
    if problem:
        pytest.skip(problem)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_bench_smoke(backend: str) -> None:
    _usable(backend)
    report = await run_backend(backend, smoke=True)
    assert report["backend"] == backend
    assert report["mode"] == "smoke"
    results = report["results"]
    assert list(results) == list(OPS), "every workload runs, in order"
    for name, r in results.items():
        assert r["raw_ops"] > 0, f"{backend}/{name}: raw floor produced no throughput"
        assert r["farmorm_ops"] > 0, f"{backend}/{name}: farmorm produced no throughput"
        assert r["time_ratio"] > 0
    assert backend in format_table(report)


async def test_pg_relation_strategies_smoke() -> None:
    _usable("postgres")
    from benchmarks.pg_relation_strategies import CASES, run

    # run() raises if any one-statement strategy returns a different result than the batched one
    report = await run(smoke=True)
    for case, (_, _, strategies) in CASES.items():
        assert set(report["results"][case]) == set(strategies)
        assert all(r["ops"] > 0 for r in report["results"][case].values())
