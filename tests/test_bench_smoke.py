"""The benchmark suite must never rot: its smoke mode runs on every reachable backend.

These tests check that every workload runs through every system (raw floor, farmorm and its lean
variant, SQLAlchemy Core and ORM, Tortoise, Piccolo where it runs; raw pymongo and farmorm on
MongoDB, which runs on mongomock here) and
produces a positive throughput, that the PostgreSQL relation strategies agree on their result,
and that the hot-path micro-benchmarks run. They never look at speed: no timing thresholds, no
ratios compared to anything.
"""

from __future__ import annotations

import pytest

from benchmarks.runner import BACKENDS, TARGETS, evaluate_targets, format_table, run_backend, systems_for
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
    assert list(report["systems"]) == list(systems_for(backend)), "every system runs"
    results = report["results"]
    assert list(results) == list(OPS), "every workload runs, in order"
    for name, r in results.items():
        for system in systems_for(backend):
            assert r["ops_s"][system] > 0, f"{backend}/{name}: {system} produced no throughput"
        assert set(r["vs_raw"]) == set(systems_for(backend)) - {"raw"}
        assert all(v > 0 for v in r["vs_raw"].values())
    table = format_table(report)
    assert backend in table and "farmorm" in table
    # the target check covers every target that applies here (values are not judged in smoke mode)
    kinds = {t["kind"] for t in evaluate_targets(report)}
    expected = ({"raw"} if any(t[0] == backend for t in TARGETS) else set()) | (set() if backend == "mongo" else {"peer"})
    assert kinds == expected
    from benchmarks.report import markdown

    assert f"**{backend}**" in markdown([{"backends": {backend: report}}])


async def test_pg_relation_strategies_smoke() -> None:
    _usable("postgres")
    from benchmarks.pg_relation_strategies import CASES, run

    # run() raises if any one-statement strategy returns a different result than the batched one
    report = await run(smoke=True)
    for case, (_, _, strategies) in CASES.items():
        assert set(report["results"][case]) == set(strategies)
        assert all(r["ops"] > 0 for r in report["results"][case].values())


def test_micro_smoke() -> None:
    from benchmarks.micro import BENCHES, run

    report = run(smoke=True)
    assert [r["name"] for r in report] == [name for name, *_ in BENCHES]
    assert all(r["per_op_us"] > 0 for r in report)


async def test_typed_client_bench_smoke() -> None:
    from benchmarks.typed_client import run

    report = await run(smoke=True)
    assert [r["name"] for r in report["benches"]] == ["find_unique", "find_many_20", "transaction_fn", "attribute"]
    assert all(r["plain_us"] > 0 and r["typed_us"] > 0 for r in report["benches"])


def test_instructions_smoke() -> None:
    """``make bench-instructions`` runs: one counted operation per system under Callgrind."""
    import shutil

    _usable("postgres")
    if shutil.which("valgrind") is None or shutil.which("cc") is None:
        pytest.skip("valgrind and a C compiler are needed for benchmarks.instructions")
    from benchmarks.instructions import format_table, run

    report = run("postgres", ("raw", "farmorm"), ["get_by_pk"], smoke=True)
    counts = report["instructions_per_op"]
    assert set(counts) == {"raw", "farmorm"} and all(c["get_by_pk"] > 0 for c in counts.values())
    assert "get_by_pk" in report["overhead_per_op"]["farmorm"]
    assert "farmorm - raw" in format_table(report)
