"""Transactional outbox: ``tx.outbox.record`` commits with the change; ``Dispatcher`` drains it.

Leases, retries and dead letters are driven by the dispatcher's ``clock`` (moved forward by the
test), never by sleeping. Real worker processes, SIGKILL and SKIP LOCKED between servers'
sessions are in tests/backends/test_outbox_workers.py.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from farmorm import QueryValidationError, SchemaError, define_schema, merge_schemas, model, fields as f
from farmorm.features.outbox import DispatchReport, Dispatcher, OutboxEvent, utcnow

schema = define_schema(
    order=model(table="orders", fields={"id": f.id(), "number": f.string().unique()}),
    outbox=True,
)
plain = define_schema(order=model(table="orders", fields={"id": f.id(), "number": f.string().unique()}))


class Boom(Exception):
    pass


def transactional(orm) -> bool:
    return orm.driver.capabilities.supports_transactions


class Clock:
    """A dispatcher clock the test moves forward."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def record_many(orm, count: int, event_type: str = "order.created") -> list[str]:
    ids = []
    for i in range(count):
        async with orm.transaction() as tx:
            await tx.order.create(data={"number": f"{event_type}-{i}"})
            ids.append((await tx.outbox.record(event_type, {"i": i}))["id"])
    return ids


def test_schema_adds_the_outbox_model() -> None:
    m = schema.models["farmorm_outbox"]
    assert m.table == "farmorm_outbox"
    assert list(m.fields) == ["id", "event_type", "payload", "status", "attempts", "next_attempt_at",
                              "claimed_by", "locked_until", "last_error", "created_at", "delivered_at"]
    assert schema.options == frozenset({"outbox"})
    assert "farmorm_outbox" not in plain.models
    assert "farmorm_outbox" not in define_schema(p=model(table="p", fields={"id": f.id()}), outbox=False).models
    merged = merge_schemas(schema, define_schema(p=model(table="p", fields={"id": f.id()})))
    assert "farmorm_outbox" in merged.models and merged.options == frozenset({"outbox"})
    with pytest.raises(SchemaError, match='"farmorm_outbox" is reserved'):
        define_schema(farmorm_outbox=model(table="x", fields={"id": f.id()}), outbox=True)
    with pytest.raises(SchemaError, match="orm.outbox"):
        define_schema(outbox=model(table="x", fields={"id": f.id()}))


async def test_event_commits_and_rolls_back_with_the_change(make_orm) -> None:
    orm = await make_orm(schema)
    async with orm.transaction() as tx:
        await tx.order.create(data={"number": "A-1"})
        event = await tx.outbox.record("order.created", {"number": "A-1", "lines": [1, 2]})
    assert (event["status"], event["attempts"], event["event_type"]) == ("pending", 0, "order.created")
    stored = await orm.farmorm_outbox.find_unique(where={"id": event["id"]})
    assert stored["payload"] == {"number": "A-1", "lines": [1, 2]}

    with pytest.raises(Boom):
        async with orm.transaction() as tx:
            await tx.order.create(data={"number": "A-2"})
            await tx.outbox.record("order.created", {"number": "A-2"})
            raise Boom()
    expected = 1 if transactional(orm) else 2  # without transactions the record is a plain write
    assert await orm.farmorm_outbox.count() == expected
    assert await orm.order.count() == expected

    if transactional(orm):  # a rolled-back savepoint drops its events, the outer transaction keeps its own
        async with orm.transaction() as tx:
            await tx.outbox.record("outer", None)
            with pytest.raises(Boom):
                async with tx.transaction() as inner:
                    await inner.outbox.record("inner", None)
                    raise Boom()
        assert sorted(r["event_type"] for r in await orm.farmorm_outbox.find_many()) == ["order.created", "outer"]

    plain_event = await orm.outbox.record("no.transaction", "text payload")  # outside a transaction: a plain insert
    assert plain_event["payload"] == "text payload"


async def test_bad_input_is_refused_before_any_write(make_orm) -> None:
    orm = await make_orm(schema)
    cases = [
        (("",), 'Invalid value for field "event_type" on model "farmorm_outbox": expected a non-empty string'),
        ((3,), 'Invalid value for field "event_type" on model "farmorm_outbox"'),
        (("x", {"when": [datetime.now(timezone.utc)]}),
         'Invalid value for field "payload" on model "farmorm_outbox": expected JSON data '
         "(dict, list, str, int, float, bool or None), found a datetime."),
        (("x", {1: "int key"}), 'Invalid value for field "payload" on model "farmorm_outbox": expected JSON data '
                                "(dict, list, str, int, float, bool or None), found a int key."),
        (("x", object()), 'Invalid value for field "payload" on model "farmorm_outbox": expected JSON data '
                          "(dict, list, str, int, float, bool or None), found a object."),
    ]
    for args, message in cases:
        with pytest.raises(QueryValidationError) as err:
            async with orm.transaction() as tx:
                await tx.outbox.record(*args)
        assert err.value.code == "VALIDATION_ERROR" and err.value.message.startswith(message), err.value.message
    with pytest.raises(QueryValidationError, match="timezone-aware"):
        await orm.outbox.record("x", None, available_at=datetime(2030, 1, 1))
    assert await orm.farmorm_outbox.count() == 0

    no_outbox = await make_orm(plain)
    with pytest.raises(QueryValidationError) as err:
        await no_outbox.outbox.record("x", None)
    assert err.value.message == 'The outbox needs define_schema(..., outbox=True): model "farmorm_outbox" is not in the schema.'
    with pytest.raises(QueryValidationError):
        Dispatcher(no_outbox, print)
    for kwargs in ({"batch_size": 0}, {"batch_size": 1.5}, {"lease": 0}, {"max_attempts": -1}, {"lease": "30"},
                   {"event_types": "one"}, {"event_types": []}, {"worker_id": ""}, {"poll_interval": True}):
        with pytest.raises(QueryValidationError, match="Dispatcher"):
            Dispatcher(orm, print, **kwargs)
    with pytest.raises(QueryValidationError, match="callable"):
        Dispatcher(orm, "not callable")


async def test_dispatcher_delivers_each_event_once_in_order(make_orm) -> None:
    orm = await make_orm(schema)
    ids = await record_many(orm, 5)
    seen: list[OutboxEvent] = []

    async def handler(event: OutboxEvent) -> None:
        seen.append(event)

    worker = Dispatcher(orm, handler, batch_size=3, worker_id="w1")
    first = await worker.run_once()
    assert first == DispatchReport(claimed=3, delivered=3)
    assert await worker.run_once() == DispatchReport(claimed=2, delivered=2)
    assert await worker.run_once() == DispatchReport()
    assert [e.id for e in seen] == ids
    assert [e.payload for e in seen] == [{"i": i} for i in range(5)]
    assert all(e.attempts == 1 and e.event_type == "order.created" for e in seen)
    rows = await orm.farmorm_outbox.find_many()
    assert {(r["status"], r["claimed_by"], r["attempts"], r["locked_until"]) for r in rows} == {("done", "w1", 1, None)}
    assert all(r["delivered_at"] is not None for r in rows)
    assert await orm.outbox.counts() == {"pending": 0, "done": 5, "dead": 0}

    # a sync handler, a delayed event and an event_types filter
    later = utcnow() + timedelta(hours=1)
    await orm.outbox.record("mail.send", {"to": "ada"})
    await orm.outbox.record("mail.send", {"to": "bob"}, available_at=later)
    await orm.outbox.record("sms.send", {"to": "cy"})
    mails: list[str] = []
    mailer = Dispatcher(orm, lambda e: mails.append(e.payload["to"]), event_types=["mail.send"])
    assert (await mailer.run_once()).delivered == 1
    assert mails == ["ada"]
    clock = Clock()
    clock.advance(3601)
    assert (await Dispatcher(orm, lambda e: mails.append(e.payload["to"]), event_types=["mail.send"],
                             clock=clock).run_once()).delivered == 1
    assert mails == ["ada", "bob"]
    assert await orm.outbox.counts() == {"pending": 1, "done": 7, "dead": 0}

    assert await orm.outbox.purge(before=utcnow() + timedelta(seconds=1)) == 6  # "bob" was delivered at clock.now
    assert await orm.outbox.purge(before=clock.now + timedelta(seconds=1)) == 1
    assert await orm.outbox.counts() == {"pending": 1, "done": 0, "dead": 0}


async def test_retries_back_off_then_dead_letter_and_requeue(make_orm) -> None:
    orm = await make_orm(schema)
    [event_id] = await record_many(orm, 1)
    clock = Clock()
    calls: list[int] = []

    async def flaky(event: OutboxEvent) -> None:
        calls.append(event.attempts)
        raise Boom(f"attempt {event.attempts} failed")

    worker = Dispatcher(orm, flaky, max_attempts=3, backoff_base=10, backoff_max=15, clock=clock)
    assert await worker.run_once() == DispatchReport(claimed=1, retried=1)
    row = await orm.farmorm_outbox.find_unique(where={"id": event_id})
    assert (row["status"], row["attempts"], row["claimed_by"], row["locked_until"]) == ("pending", 1, None, None)
    assert row["last_error"] == "Boom: attempt 1 failed"
    assert row["next_attempt_at"] == clock.now + timedelta(seconds=10)  # backoff_base * 2**0
    assert await worker.run_once() == DispatchReport()  # not due yet
    clock.advance(10)
    assert await worker.run_once() == DispatchReport(claimed=1, retried=1)
    row = await orm.farmorm_outbox.find_unique(where={"id": event_id})
    assert row["next_attempt_at"] == clock.now + timedelta(seconds=15)  # 20 capped at backoff_max
    clock.advance(15)
    assert await worker.run_once() == DispatchReport(claimed=1, dead=1)
    assert calls == [1, 2, 3]
    clock.advance(3600)
    assert await worker.run_once() == DispatchReport()  # dead letters are never claimed

    [dead] = await orm.outbox.dead_letters()
    assert (dead["id"], dead["status"], dead["attempts"]) == (event_id, "dead", 3)
    assert dead["last_error"] == "Boom: attempt 3 failed"
    with pytest.raises(QueryValidationError):
        await orm.outbox.requeue(event_id)  # a string, not a list of ids
    assert await orm.outbox.requeue(["other"]) == 0
    assert await orm.outbox.requeue([event_id]) == 1
    delivered: list[int] = []
    fixed = Dispatcher(orm, lambda e: delivered.append(e.attempts), clock=clock)
    assert await fixed.run_once() == DispatchReport(claimed=1, delivered=1)
    assert delivered == [1]
    assert await orm.outbox.dead_letters() == []


async def test_an_expired_lease_is_claimed_again_and_the_late_worker_loses(make_orm) -> None:
    orm = await make_orm(schema)
    ids = await record_many(orm, 3)
    clock = Clock()
    delivered_by_b: list[str] = []
    report_b: list[DispatchReport] = []

    b = Dispatcher(orm, lambda e: delivered_by_b.append(e.id), worker_id="b", lease=30, clock=clock)

    async def stalled(event: OutboxEvent) -> None:
        # while worker "a" is still busy, its lease runs out and worker "b" takes the whole batch
        assert await b.run_once() == DispatchReport()  # a's lease is still valid: nothing to claim
        clock.advance(31)
        report_b.append(await b.run_once())

    a = Dispatcher(orm, stalled, worker_id="a", lease=30, clock=clock)
    report_a = await a.run_once()
    assert report_a == DispatchReport(claimed=3, lost=3)  # a's handler "ran" for the first event only
    assert report_b == [DispatchReport(claimed=3, delivered=3)]
    assert delivered_by_b == ids
    rows = await orm.farmorm_outbox.find_many()
    assert {(r["status"], r["claimed_by"], r["attempts"]) for r in rows} == {("done", "b", 2)}


async def test_concurrent_workers_never_share_an_event(make_orm) -> None:
    orm = await make_orm(schema)
    ids = await record_many(orm, 24)
    handled: list[tuple[str, str]] = []

    def make(name: str) -> Dispatcher:
        async def handler(event: OutboxEvent) -> None:
            handled.append((name, event.id))
            await asyncio.sleep(0)  # let the other worker run in between

        return Dispatcher(orm, handler, batch_size=4, worker_id=name)

    workers = [make("w1"), make("w2"), make("w3")]
    while True:
        reports = await asyncio.gather(*(w.run_once() for w in workers))
        if not any(r.claimed for r in reports):
            break
        assert all(r.lost == 0 for r in reports)
    assert sorted(i for _, i in handled) == sorted(ids)  # each event exactly once
    assert await orm.outbox.counts() == {"pending": 0, "done": 24, "dead": 0}


async def test_run_until_stopped_and_release_on_cancel(make_orm) -> None:
    orm = await make_orm(schema)
    await record_many(orm, 4)
    stop = asyncio.Event()
    seen: list[int] = []

    def handler(event: OutboxEvent) -> None:
        seen.append(event.payload["i"])
        if len(seen) == 4:
            stop.set()

    await asyncio.wait_for(Dispatcher(orm, handler, batch_size=3, poll_interval=0.01).run(stop), 30)
    assert seen == [0, 1, 2, 3]

    await record_many(orm, 3, "second")
    started = asyncio.Event()

    async def hangs(event: OutboxEvent) -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.ensure_future(Dispatcher(orm, hangs, worker_id="c", poll_interval=0.01).run())
    await asyncio.wait_for(started.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    rows = await orm.farmorm_outbox.find_many(where={"event_type": "second"})
    # cancelled mid-batch: every unfinished event is given back, its attempt not counted
    assert {(r["status"], r["attempts"], r["claimed_by"], r["locked_until"]) for r in rows} == {("pending", 0, None, None)}


async def test_a_handler_outliving_its_lease_fails(make_orm) -> None:
    orm = await make_orm(schema)
    await record_many(orm, 2)

    async def slow(event: OutboxEvent) -> None:
        await asyncio.Event().wait()  # never returns: the lease (1 s) ends it

    report = await Dispatcher(orm, slow, lease=1.0, max_attempts=5).run_once()
    assert report.claimed == 2 and report.retried == 1 and report.released == 1
    rows = sorted(await orm.farmorm_outbox.find_many(), key=lambda r: r["attempts"])
    assert [r["attempts"] for r in rows] == [0, 1]
    assert rows[1]["last_error"].startswith("TimeoutError")


async def test_the_claim_locks_rows_where_the_backend_has_row_locks(make_orm, query_log, backend) -> None:
    orm = await make_orm(schema)
    await record_many(orm, 2)
    log = query_log(orm)
    assert (await Dispatcher(orm, lambda e: None).run_once()).delivered == 2
    picks = [s for s in log if s.startswith("SELECT") and "farmorm_outbox" in s]
    if backend in ("postgres", "mysql"):  # concurrent claimers skip each other's rows instead of waiting
        assert picks[0].endswith(" FOR UPDATE SKIP LOCKED")
    elif backend == "sqlite":  # BEGIN IMMEDIATE already holds the database's write lock
        assert "BEGIN IMMEDIATE" in log and not any("FOR UPDATE" in s for s in log)
    else:  # MongoDB: the conditional update is the claim
        assert log[:2] == ["find farmorm_outbox", "update_many farmorm_outbox"]
