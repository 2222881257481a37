"""D. Retryable concurrency conflicts (RELIABILITY.md T17-T23).

Real conflicts, forced into one interleaving with events (K5): a serialization failure under
SERIALIZABLE (write skew), a deadlock, MySQL's lock wait timeout with its statement-only
rollback, PostgreSQL's lock_timeout / statement_timeout, SQLite's concurrent writers. Each is
checked for its normalized code and native code, for what was rolled back, and for how
``orm.transaction(fn, retries=n)`` re-runs it: retryable codes re-run the whole function with
jittered, capped backoff; every other code runs exactly once.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from typing import Any, Awaitable, Callable

import anyio
import pytest

import farmorm.runtime.transaction as txmod
from farmorm import Orm, OrmError, define_schema, model
from farmorm import fields as f
from farmorm.core.errors import (
    CODES,
    DEADLOCK,
    LOCK_TIMEOUT,
    QUERY_TIMEOUT,
    RETRYABLE_CODES,
    TRANSACTION_ABORTED,
    TRANSACTION_CONFLICT,
    make_error,
)

from .harness import raw, requires, within

DOCTORS = define_schema(
    doctor=model(table="doctors", fields={"id": f.id(), "name": f.string().unique(), "on_call": f.boolean()}),
)
ACCTS = define_schema(
    acct=model(table="accts", fields={"id": f.id(), "n": f.integer().unique(), "balance": f.integer()}),
    note=model(table="notes", fields={"id": f.id(), "who": f.string()}),
)


class Sleeps:
    """Records the backoff delays ``transaction(fn, retries=)`` sleeps between attempts."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.delays: list[float] = []
        real = txmod.backoff

        def recording(attempt: int) -> float:
            delay = real(attempt)
            self.delays.append(delay)
            return delay

        monkeypatch.setattr(txmod, "backoff", recording)


async def _doctors(rig: Any) -> Orm:
    orm = await rig.orm(DOCTORS, seed=False)
    await orm.doctor.create_many(data=[{"name": "alice", "on_call": True}, {"name": "bob", "on_call": True}])
    return orm


def _go_off_call(name: str, both_read: anyio.Event, readers: list[str], attempts: list[str]) -> Callable[[Orm], Awaitable[None]]:
    """The isolation-tester "two doctors on call" transaction: leave if someone else stays."""

    async def fn(tx: Orm) -> None:
        attempts.append(name)
        on_call = await tx.doctor.count(where={"on_call": True})
        readers.append(name)
        if len(readers) >= 2:
            both_read.set()
        with anyio.fail_after(10):
            await both_read.wait()
        if on_call >= 2:
            await tx.doctor.update(where={"name": name}, data={"on_call": False})

    return fn


# ----------------------------------------------------------------------------------------- T17


@pytest.mark.parametrize("retries", [0, 5], ids=["no-retries", "retries=5"])
async def test_t17_write_skew_under_serializable(rig: Any, backend: str, retries: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    requires(backend, "server", "transactions")
    if backend == "mongo":
        pytest.skip("mongo: snapshot transactions detect write-write conflicts only; write skew needs a real server case")
    orm = await _doctors(rig)
    sleeps = Sleeps(monkeypatch)
    both_read = anyio.Event()
    readers: list[str] = []
    attempts: list[str] = []
    outcomes: dict[str, BaseException | None] = {}

    async def run(name: str) -> None:
        try:
            await orm.transaction(_go_off_call(name, both_read, readers, attempts), isolation="serializable",
                                  retries=retries)
            outcomes[name] = None
        except OrmError as exc:
            outcomes[name] = exc

    async with within(30, "two serializable transactions"):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run, "alice")
            tg.start_soon(run, "bob")
    errors = [e for e in outcomes.values() if e is not None]
    on_call = await orm.doctor.count(where={"on_call": True})
    assert on_call >= 1, "write skew: both doctors went off call under SERIALIZABLE"
    if retries == 0:
        assert len(errors) == 1, outcomes
        err = errors[0]
        assert isinstance(err, OrmError) and err.retryable
        if backend == "postgres":
            assert err.code == TRANSACTION_CONFLICT and err.meta["original_code"] == "40001"
        else:  # InnoDB SERIALIZABLE: shared read locks, so the two writers deadlock instead
            assert err.code in (DEADLOCK, LOCK_TIMEOUT) and err.meta["original_code"] in (1213, 1205)
        assert on_call == 1 and len(attempts) == 2 and sleeps.delays == []
    else:
        assert errors == [], outcomes
        assert on_call == 1  # the loser re-ran from the start, saw one doctor left and stayed
        assert len(attempts) == 3  # one re-run, not a statement retry
        assert len(sleeps.delays) == 1 and 0 < sleeps.delays[0] <= txmod.BACKOFF_CAP * 1.5


async def test_t17_read_committed_allows_write_skew_control(rig: Any, backend: str) -> None:
    """The control: under READ COMMITTED the anomaly happens, so the test above can fail."""
    requires(backend, "server", "transactions")
    if backend == "mongo":
        pytest.skip("mongo: no READ COMMITTED level")
    orm = await _doctors(rig)
    both_read = anyio.Event()
    readers: list[str] = []
    attempts: list[str] = []
    async with within(30, "two read committed transactions"):
        async with anyio.create_task_group() as tg:
            for name in ("alice", "bob"):
                async def one(n: str = name) -> None:
                    await orm.transaction(_go_off_call(n, both_read, readers, attempts), isolation="read_committed")
                tg.start_soon(one)
    assert await orm.doctor.count(where={"on_call": True}) == 0


def test_t17_backoff_is_jittered_exponential_and_capped() -> None:
    firsts = {round(txmod.backoff(1), 6) for _ in range(50)}
    assert len(firsts) > 10  # jittered: concurrent losers do not retry in lockstep
    assert all(0 < d <= txmod.BACKOFF_BASE * 1.5 for d in firsts)
    assert max(txmod.backoff(4) for _ in range(50)) > txmod.BACKOFF_BASE * 1.5  # grows with attempts
    assert all(txmod.backoff(40) <= txmod.BACKOFF_CAP * 1.5 for _ in range(50))  # capped


# ----------------------------------------------------------------------------------------- T18


async def _accts(rig: Any) -> Orm:
    orm = await rig.orm(ACCTS, seed=False)
    await orm.acct.create_many(data=[{"n": 1, "balance": 100}, {"n": 2, "balance": 100}])
    return orm


@pytest.mark.parametrize("retries", [0, 3], ids=["no-retries", "retries=3"])
async def test_t18_deadlock_victim_is_rolled_back_whole(rig: Any, backend: str, retries: int) -> None:
    requires(backend, "sql")
    orm = await _accts(rig)
    first_locks = anyio.Event()
    second_locks = anyio.Event()
    outcomes: dict[str, BaseException | None] = {}
    attempts: list[str] = []

    def transfer(who: str, mine: int, other: int, locked: anyio.Event, wait_for: anyio.Event) -> Callable[[Orm], Awaitable[None]]:
        async def fn(tx: Orm) -> None:
            attempts.append(who)
            await tx.note.create(data={"who": who})  # the victim's first write must vanish
            await tx.acct.update(where={"n": mine}, data={"balance": 90})
            locked.set()
            if backend != "sqlite":  # SQLite: BEGIN IMMEDIATE serializes writers, no interleaving
                with anyio.move_on_after(5):
                    await wait_for.wait()
            await tx.acct.update(where={"n": other}, data={"balance": 110})

        return fn

    async def run(who: str, *args: Any) -> None:
        try:
            await orm.transaction(transfer(who, *args), retries=retries)
            outcomes[who] = None
        except OrmError as exc:
            outcomes[who] = exc

    async with within(40, "two transactions locking in opposite orders"):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run, "t1", 1, 2, first_locks, second_locks)
            tg.start_soon(run, "t2", 2, 1, second_locks, first_locks)
    errors = {k: v for k, v in outcomes.items() if v is not None}
    notes = sorted(r["who"] for r in await orm.note.find_many())
    if backend == "sqlite":
        assert errors == {} and notes == ["t1", "t2"] and len(attempts) == 2
        return
    if retries == 0:
        assert len(errors) == 1, outcomes
        (victim, err), = errors.items()
        assert isinstance(err, OrmError) and err.code == DEADLOCK and err.retryable
        assert err.meta["original_code"] == {"postgres": "40P01", "mysql": 1213}[backend]
        survivor = "t1" if victim == "t2" else "t2"
        assert notes == [survivor]  # the victim's first write is not visible
    else:
        assert errors == {} and notes == ["t1", "t2"] and len(attempts) == 3
    # both connections are reusable
    for _ in range(10):
        assert await orm.acct.count() == 2


# ----------------------------------------------------------------------------------------- T19


@pytest.mark.parametrize("retries", [0, 2], ids=["no-retries", "retries=2"])
async def test_t19_mysql_lock_wait_timeout_does_not_commit_half_a_transaction(rig: Any, backend: str,
                                                                             retries: int) -> None:
    """InnoDB's 1205 rolls back only the waiting statement and keeps the transaction open.
    farmorm maps it to LOCK_TIMEOUT and marks the transaction aborted: the next statement raises
    TRANSACTION_ABORTED, and row Y written before the wait is never committed. (The
    innodb_rollback_on_timeout=ON variant needs a server restart; it rolls back more, not less.)"""
    if backend != "mysql":
        pytest.skip(f"{backend}: 1205's statement-only rollback is InnoDB's (PostgreSQL: T20)")
    orm = await _accts(rig)
    admin = await rig.admin()
    attempts: list[int] = []

    async def fn(tx: Orm) -> None:
        attempts.append(1)
        await raw(tx, "SET SESSION innodb_lock_wait_timeout = 1")
        await tx.note.create(data={"who": "Y"})
        with pytest.raises(OrmError) as lock:
            await tx.acct.update(where={"n": 1}, data={"balance": 0})
        assert lock.value.code == LOCK_TIMEOUT and lock.value.meta["original_code"] == 1205
        if retries:
            raise lock.value  # let the retry loop see it
        await tx.note.create(data={"who": "after"})  # refused: the transaction is aborted

    release = anyio.Event()

    async def holder() -> None:
        async with admin.hold_lock("accts", 1):
            with anyio.fail_after(20):
                await release.wait()

    async with within(40, "lock wait timeout"):
        async with anyio.create_task_group() as tg:
            tg.start_soon(holder)
            await anyio.sleep(0.3)
            if retries:
                async def release_after_first() -> None:
                    while not attempts:
                        await anyio.sleep(0.05)
                    await anyio.sleep(1.5)  # after the first 1 s wait timed out
                    release.set()
                tg.start_soon(release_after_first)

                async def fn_retry(tx: Orm) -> None:
                    attempts.append(1)
                    await raw(tx, "SET SESSION innodb_lock_wait_timeout = 1")
                    await tx.note.create(data={"who": "Y"})
                    await tx.acct.update(where={"n": 1}, data={"balance": 0})

                await orm.transaction(fn_retry, retries=retries)
            else:
                with pytest.raises(OrmError) as info:
                    await orm.transaction(fn)
                release.set()
    await orm.transaction(lambda tx: raw(tx, "SET SESSION innodb_lock_wait_timeout = 50"))
    notes = [r["who"] for r in await orm.note.find_many()]
    if retries:
        assert len(attempts) >= 2 and notes == ["Y"]  # exactly once, from the attempt that committed
        assert (await orm.acct.find_unique(where={"n": 1}))["balance"] == 0
    else:
        assert info.value.code == TRANSACTION_ABORTED and info.value.meta["original_code"] == 1205
        assert notes == []  # row Y was not committed without X
        assert len(attempts) == 1


# ----------------------------------------------------------------------------------------- T20


async def test_t20_lock_timeout_is_retried_query_timeout_is_not(rig: Any, backend: str) -> None:
    """PostgreSQL: 55P03 -> LOCK_TIMEOUT (retryable, re-run), 57014 -> QUERY_TIMEOUT (not re-run);
    later statements in the aborted transaction give TRANSACTION_ABORTED (25P02); the pooled
    connection is clean afterwards (the rig's assert_clean at teardown)."""
    requires(backend, "server")
    if backend == "mongo":
        pytest.skip("mongo: maxTimeMS needs a real server")
    orm = await _accts(rig)
    admin = await rig.admin()
    attempts: list[str] = []

    def waiting(setting: str) -> Callable[[Orm], Awaitable[None]]:
        async def fn(tx: Orm) -> None:
            attempts.append(setting)
            await raw(tx, setting)
            await tx.acct.update(where={"n": 1}, data={"balance": 1})

        return fn

    if backend == "postgres":
        lock_setting, stmt_setting = "SET LOCAL lock_timeout = '200ms'", "SET LOCAL statement_timeout = '200ms'"
    else:
        lock_setting, stmt_setting = "SET SESSION innodb_lock_wait_timeout = 1", "SET SESSION max_statement_time = 0.3"
    async with admin.hold_lock("accts", 1):
        with pytest.raises(OrmError) as lock:
            await orm.transaction(waiting(lock_setting), retries=2)
        assert lock.value.code == LOCK_TIMEOUT and attempts == [lock_setting] * 3
        attempts.clear()
        with pytest.raises(OrmError) as slow:
            await orm.transaction(waiting(stmt_setting), retries=2)
        assert slow.value.code == QUERY_TIMEOUT and attempts == [stmt_setting]  # never re-run

        # the aborted state: a caught timeout, then another statement
        with pytest.raises(OrmError) as aborted:
            async with orm.transaction() as tx:
                await raw(tx, lock_setting)
                with pytest.raises(OrmError):
                    await tx.acct.update(where={"n": 1}, data={"balance": 2})
                await tx.acct.count()
        assert aborted.value.code == TRANSACTION_ABORTED
    if backend == "mysql":
        await orm.transaction(lambda tx: raw(tx, "SET SESSION max_statement_time = 0, innodb_lock_wait_timeout = 50"))
    assert (await orm.acct.find_unique(where={"n": 1}))["balance"] == 100
    assert await admin.open_transactions() == []


# ----------------------------------------------------------------------------------------- T21

COUNTER = define_schema(counter=model(table="counters", fields={"id": f.id(), "name": f.string().unique(),
                                                                 "n": f.integer()}))

_WRITER = textwrap.dedent("""
    import sqlite3, sys
    path, times = sys.argv[1], int(sys.argv[2])
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    for _ in range(times):
        conn.execute("BEGIN IMMEDIATE")
        (n,) = conn.execute("SELECT n FROM counters WHERE name = 'c'").fetchone()
        conn.execute("UPDATE counters SET n = ? WHERE name = 'c'", (n + 1,))
        conn.execute("COMMIT")
    conn.close()
""")


async def test_t21_sqlite_concurrent_writers_lose_no_increment(rig: Any, backend: str) -> None:
    """Several ORMs (one connection each) and a second process increment one counter with
    read-modify-write transactions: farmorm's BEGIN IMMEDIATE plus the busy timeout serialize
    them, so the count is exact and "database is locked" never appears."""
    requires(backend, "sql")
    if backend != "sqlite":
        pytest.skip(f"{backend}: SQLite's file locking case")
    tasks, each, proc_times = 8, 25, 100
    first = await rig.orm(COUNTER, seed=False)
    await first.counter.create(data={"name": "c", "n": 0})
    orms = [first] + [await rig.orm(COUNTER, seed=False, push=False) for _ in range(tasks - 1)]
    errors: list[BaseException] = []

    async def bump(tx: Orm) -> None:
        row = await tx.counter.find_unique(where={"name": "c"})
        await tx.counter.update(where={"name": "c"}, data={"n": row["n"] + 1})

    async def worker(orm: Orm) -> None:
        for _ in range(each):
            try:
                await orm.transaction(bump)
            except OrmError as exc:
                errors.append(exc)

    proc = subprocess.Popen([sys.executable, "-c", _WRITER, rig.sqlite_path, str(proc_times)])
    try:
        async with within(50, "concurrent SQLite writers"):
            async with anyio.create_task_group() as tg:
                for orm in orms:
                    tg.start_soon(worker, orm)
            while proc.poll() is None:
                await anyio.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert errors == []
    assert (await first.counter.find_unique(where={"name": "c"}))["n"] == tasks * each + proc_times


async def test_t21_sqlite_busy_snapshot_maps_to_a_retryable_conflict(rig: Any, backend: str) -> None:
    """A raw *deferred* transaction that read, then writes after another writer committed, gets
    SQLITE_BUSY_SNAPSHOT (517) in WAL mode, whatever the busy timeout: farmorm maps it to
    TRANSACTION_CONFLICT (retryable). farmorm's own transactions use BEGIN IMMEDIATE and never
    hit it (the test above)."""
    requires(backend, "sql")
    if backend != "sqlite":
        pytest.skip(f"{backend}: SQLite's WAL snapshot case")
    orm = await rig.orm(COUNTER, seed=False)
    await orm.counter.create(data={"name": "c", "n": 0})
    path = rig.sqlite_path
    a = sqlite3.connect(path, timeout=5, isolation_level=None)
    b = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        assert a.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
        a.execute("BEGIN")  # deferred
        a.execute("SELECT n FROM counters").fetchall()
        b.execute("UPDATE counters SET n = n + 1")
        with pytest.raises(sqlite3.OperationalError) as info:
            a.execute("UPDATE counters SET n = n + 10")
        a.execute("ROLLBACK")
    finally:
        a.close()
        b.close()
    assert info.value.sqlite_errorname == "SQLITE_BUSY_SNAPSHOT"
    mapped = orm._driver.map_error(info.value)
    assert mapped is not None and mapped.code == TRANSACTION_CONFLICT and mapped.retryable
    assert mapped.meta["original_code"] == "SQLITE_BUSY_SNAPSHOT"


# ------------------------------------------------------------------------------------- T22, T23


async def test_t22_mongo_transient_transaction_errors(rig: Any, backend: str) -> None:
    requires(backend, "mongo_server")
    pytest.skip("needs a replica set with enableTestCommands for failCommand; none on this machine")


async def test_t23_retry_budget_per_code(rig: Any, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every code outside RETRYABLE_CODES runs the function once (CONNECTION_ERROR before COMMIT
    excepted: nothing was committed, see docs/transactions.md; COMMIT_UNKNOWN never re-runs);
    every retryable code runs exactly ``retries + 1`` times with ``retries`` backoff sleeps. Each
    attempt's write is rolled back."""
    requires(backend, "sql")
    orm = await rig.orm(ACCTS, seed=False)
    sleeps = Sleeps(monkeypatch)
    for code in CODES:
        attempts: list[int] = []
        sleeps.delays.clear()

        async def fn(tx: Orm, code: str = code, attempts: list[int] = attempts) -> None:
            attempts.append(1)
            await tx.note.create(data={"who": str(len(attempts))})
            raise make_error(code, f"injected {code}")

        with pytest.raises(OrmError) as info:
            await orm.transaction(fn, retries=3)
        assert info.value.code == code
        if code in RETRYABLE_CODES or (code == "CONNECTION_ERROR" and hasattr(txmod, "_may_rerun")):
            assert (len(attempts), len(sleeps.delays)) == (4, 3), code  # the budget, never more
        else:
            assert (len(attempts), sleeps.delays) == (1, []), code
        assert await orm.note.count() == 0, code


def test_t23_commit_unknown_is_never_retried() -> None:
    if "COMMIT_UNKNOWN" not in CODES:
        pytest.skip("COMMIT_UNKNOWN is added by the connection-loss work (T03/T23)")
    err = make_error("COMMIT_UNKNOWN", "x")
    assert err.retryable is False
    assert txmod._may_rerun(err) is False  # type: ignore[attr-defined]


async def test_t17_retries_stop_at_the_overall_time_cap(rig: Any, backend: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Past RETRY_TIME_CAP since the first attempt, a retryable error is raised instead of re-run,
    whatever ``retries`` says (a conflict storm ends; MongoDB's drivers cap at 120 s too)."""
    requires(backend, "sql")
    orm = await rig.orm(ACCTS, seed=False)
    attempts: list[int] = []

    async def fn(tx: Orm) -> None:
        attempts.append(1)
        raise make_error(TRANSACTION_CONFLICT, "injected conflict")

    monkeypatch.setattr(txmod, "RETRY_TIME_CAP", 0.0)
    with pytest.raises(OrmError) as info:
        await orm.transaction(fn, retries=50)
    assert info.value.code == TRANSACTION_CONFLICT and len(attempts) == 1
    monkeypatch.setattr(txmod, "RETRY_TIME_CAP", 120.0)
    attempts.clear()
    with pytest.raises(OrmError):
        await orm.transaction(fn, retries=2)
    assert len(attempts) == 3
