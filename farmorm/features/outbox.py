"""Transactional outbox: ``tx.outbox.record(...)`` and the ``Dispatcher`` that drains it.

``define_schema(..., outbox=True)`` adds the ``farmorm_outbox`` model. ``tx.outbox.record`` inserts
an event row in the running transaction, so the event commits or rolls back with the business
change. A :class:`Dispatcher` claims batches of due events, hands each to a handler and marks it
``done``; delivery is at least once.

Claiming is safe with any number of concurrent workers: in one transaction a worker selects due
events (``FOR UPDATE SKIP LOCKED`` on PostgreSQL and MySQL 8 / MariaDB 10.6+, under SQLite's
``BEGIN IMMEDIATE`` write lock), then stamps them with a lease (``claimed_by``, ``locked_until``,
``attempts + 1``) by an UPDATE that re-checks "still claimable" in its own WHERE. That re-check is
what makes MongoDB safe without transactions: each document's update is atomic, so exactly one
worker's lease lands (the same guarantee as ``find_one_and_update``). A worker that dies leaves its
events leased until ``locked_until`` passes; then any worker claims them again. Failed events are
retried with exponential backoff (``next_attempt_at``) and dead-lettered (``status="dead"``,
``last_error``) after ``max_attempts`` attempts, a crash included.
"""

from __future__ import annotations

import inspect
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Protocol, Sequence

import anyio
import msgspec

from ..core.errors import OrmError, validation_error
from ..query import nodes as n
from ..query.parse import parse_where
from ..query.writes import update_values
from ..runtime.extension import Extension, register
from ..runtime.orm import Orm, engine_of
from ..schema import fields as f
from ..schema.definition import ModelDef
from ..schema.system import SystemModel, register_system_model
from .system import check_json, require_model

__all__ = ["OUTBOX_MODEL", "OutboxEvent", "DispatchReport", "Dispatcher", "OutboxClient"]

#: the model ``define_schema(..., outbox=True)`` adds
OUTBOX_MODEL = "farmorm_outbox"


def _outbox_model() -> ModelDef:
    return ModelDef(
        table=OUTBOX_MODEL,
        fields={
            "id": f.id(),
            "event_type": f.string(),
            "payload": f.json().nullable(),
            "status": f.enumeration(["pending", "done", "dead"]).default("pending"),
            "attempts": f.integer().default(0),
            "next_attempt_at": f.datetime().default_now(),
            "claimed_by": f.string().nullable(),
            "locked_until": f.datetime().nullable(),
            "last_error": f.string().nullable(),
            "created_at": f.datetime().default_now(),
            "delivered_at": f.datetime().nullable(),
        },
        constraints={"indexes": [["status", "next_attempt_at"]]},
        description="Transactional outbox: events recorded with tx.outbox.record, drained by farmorm.outbox.Dispatcher.",
    )


register_system_model(SystemModel(OUTBOX_MODEL, _outbox_model, option="outbox"))

logger = logging.getLogger("farmorm.outbox")

#: how often a claim transaction is re-run after a retryable conflict
CLAIM_RETRIES = 5

Handler = Callable[["OutboxEvent"], "Awaitable[Any] | Any"]


class _StopSignal(Protocol):
    def is_set(self) -> bool: ...

    async def wait(self) -> Any: ...


class OutboxEvent(msgspec.Struct, frozen=True):
    """One claimed event as the handler sees it; ``attempts`` counts this delivery (1 = first)."""

    id: str
    event_type: str
    payload: Any
    attempts: int
    created_at: datetime


class DispatchReport(msgspec.Struct):
    """What one ``run_once()`` did: events claimed, delivered, scheduled for a retry, dead-lettered,
    whose lease was lost before they finished, and released unhandled (shutdown, lease ran out)."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    lost: int = 0
    released: int = 0


def utcnow() -> datetime:
    """Now, UTC, truncated to milliseconds (what every backend, MongoDB included, stores exactly)."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


class OutboxClient:
    """``orm.outbox`` / ``tx.outbox``: record events and inspect or requeue dead letters."""

    __slots__ = ("_orm",)

    def __init__(self, orm: Orm) -> None:
        self._orm = orm

    async def record(self, event_type: str, payload: Any = None, *,
                     available_at: datetime | None = None) -> dict[str, Any]:
        """Insert an event in the running transaction (commits or rolls back with it); returns the row.

        Outside a transaction (or on MongoDB without transactions) it is a plain insert.
        ``available_at`` delays the first delivery."""
        require_model(self._orm, OUTBOX_MODEL, "outbox")
        if not isinstance(event_type, str) or not event_type.strip():
            raise validation_error(
                f'Invalid value for field "event_type" on model "{OUTBOX_MODEL}": expected a non-empty string, '
                f"got {event_type!r}.", model=OUTBOX_MODEL, field="event_type",
            )
        check_json(OUTBOX_MODEL, "payload", payload)
        data: dict[str, Any] = {"event_type": event_type, "payload": payload, "status": "pending", "attempts": 0}
        if available_at is not None:
            if not isinstance(available_at, datetime) or available_at.tzinfo is None:
                raise validation_error(
                    f'Invalid value for field "next_attempt_at" on model "{OUTBOX_MODEL}": '
                    "available_at must be a timezone-aware datetime.", model=OUTBOX_MODEL, field="next_attempt_at",
                )
            data["next_attempt_at"] = _ms(available_at.astimezone(timezone.utc))
        else:
            data["next_attempt_at"] = utcnow()
        return await self._orm.model(OUTBOX_MODEL).create(data=data)

    async def counts(self) -> dict[str, int]:
        """How many events are ``pending``, ``done`` and ``dead``."""
        client = self._orm.model(require_model(self._orm, OUTBOX_MODEL, "outbox").name)
        return {s: await client.count(where={"status": s}) for s in ("pending", "done", "dead")}

    async def dead_letters(self, *, take: int = 100) -> list[dict[str, Any]]:
        """Dead-lettered events (oldest first) with their ``last_error`` and ``attempts``."""
        client = self._orm.model(require_model(self._orm, OUTBOX_MODEL, "outbox").name)
        return await client.find_many(
            where={"status": "dead"}, order_by=[{"created_at": "asc"}, {"id": "asc"}], take=take)

    async def requeue(self, ids: Sequence[str] | None = None) -> int:
        """Put dead events (all, or those in ``ids``) back to ``pending`` with 0 attempts; returns how many."""
        client = self._orm.model(require_model(self._orm, OUTBOX_MODEL, "outbox").name)
        where: dict[str, Any] = {"status": "dead"}
        if ids is not None:
            if isinstance(ids, str) or not all(isinstance(i, str) for i in ids):
                raise validation_error(f"requeue() expects a list of event ids, got {ids!r}.")
            where["id"] = {"in": list(ids)}
        return await client.update_many(where=where, data={
            "status": "pending", "attempts": 0, "next_attempt_at": utcnow(), "claimed_by": None,
            "locked_until": None})

    async def purge(self, *, before: datetime) -> int:
        """Delete ``done`` events delivered before ``before``; returns how many."""
        client = self._orm.model(require_model(self._orm, OUTBOX_MODEL, "outbox").name)
        if not isinstance(before, datetime) or before.tzinfo is None:
            raise validation_error("purge(before=...) expects a timezone-aware datetime.")
        return await client.delete_many(
            where={"status": "done", "delivered_at": {"lt": before}})


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _positive(name: str, value: Any, *, integer: bool = False) -> None:
    ok = (type(value) is int) if integer else (isinstance(value, (int, float)) and not isinstance(value, bool))
    if not ok or value <= 0:
        kind = "a positive integer" if integer else "a positive number of seconds"
        raise validation_error(f"Invalid {name} for Dispatcher: expected {kind}, got {value!r}.")


class Dispatcher:
    """Drains ``farmorm_outbox``: claims due events in batches, calls ``handler(event)``, marks them.

    ``lease`` (seconds) is how long a claimed batch belongs to this worker; a handler call runs under
    the time left on it (``anyio.fail_after``) and a timeout counts as a failure. ``max_attempts``
    deliveries (a crash counts) dead-letter an event. Retries wait ``backoff_base * 2**(attempts-1)``
    seconds, at most ``backoff_max``. ``clock`` returns the aware UTC now (tests move it forward)."""

    def __init__(
        self,
        orm: Orm,
        handler: Handler,
        *,
        batch_size: int = 10,
        lease: float = 30.0,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        backoff_max: float = 300.0,
        poll_interval: float = 1.0,
        event_types: Sequence[str] | None = None,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        require_model(orm, OUTBOX_MODEL, "outbox")
        if not callable(handler):
            raise validation_error(f"Dispatcher handler must be callable, got {handler!r}.")
        _positive("batch_size", batch_size, integer=True)
        _positive("max_attempts", max_attempts, integer=True)
        for name, value in (("lease", lease), ("backoff_base", backoff_base), ("backoff_max", backoff_max),
                            ("poll_interval", poll_interval)):
            _positive(name, value)
        if event_types is not None and (isinstance(event_types, str) or not event_types
                                        or not all(isinstance(t, str) for t in event_types)):
            raise validation_error(f"Dispatcher event_types must be a non-empty list of strings, got {event_types!r}.")
        if worker_id is not None and (not isinstance(worker_id, str) or not worker_id):
            raise validation_error(f"Dispatcher worker_id must be a non-empty string, got {worker_id!r}.")
        self.orm = orm
        self.handler = handler
        self.batch_size = batch_size
        self.lease = float(lease)
        self.max_attempts = max_attempts
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.poll_interval = float(poll_interval)
        self.event_types = list(event_types) if event_types is not None else None
        self.worker_id = worker_id or _worker_id()
        self.clock = clock
        self._lock = anyio.Lock()

    # -- claiming ---------------------------------------------------------------------------
    def _claimable(self, now: datetime) -> dict[str, Any]:
        where: dict[str, Any] = {
            "status": "pending",
            "next_attempt_at": {"lte": now},
            "OR": [{"locked_until": None}, {"locked_until": {"lte": now}}],
        }
        if self.event_types is not None:
            where["event_type"] = {"in": self.event_types}
        return where

    async def claim(self) -> list[OutboxEvent]:
        """Lease up to ``batch_size`` due events to this worker (one transaction); returns them."""
        return (await self._claim())[0]

    async def _claim(self) -> tuple[list[OutboxEvent], datetime]:
        orm = self.orm
        schema = orm.schema
        model = schema.models[OUTBOX_MODEL]
        now = _ms(self.clock())
        until = now + timedelta(seconds=self.lease)
        claimable = self._claimable(now)

        async def claim(tx: Orm) -> list[dict[str, Any]]:
            state = engine_of(tx).state()
            assert state is not None
            conn = state.conn
            params: list[Any] = []
            cond = parse_where(schema, model, claimable, params)
            params.append(self.batch_size)
            pick = n.Select(OUTBOX_MODEL, ("id",), cond,
                            order_by=(n.OrderItem("next_attempt_at"), n.OrderItem("id")),
                            take=n.Param(len(params) - 1), lock="update_skip_locked")
            ids = [r["id"] for r in await engine_of(orm).rows(conn, pick, params)]
            if not ids:
                return []
            values = update_values(model, {"claimed_by": self.worker_id, "locked_until": until})
            params = list(values.values())
            cond = parse_where(schema, model, {"AND": [{"id": {"in": ids}}, claimable]}, params)
            stamp = n.Update(OUTBOX_MODEL, tuple(values), tuple(n.Param(i) for i in range(len(values))), cond,
                             False, (), ("attempts",))
            await engine_of(orm).rowcount(conn, stamp, params)
            return await tx.model(OUTBOX_MODEL).find_many(
                where={"id": {"in": ids}, "claimed_by": self.worker_id, "locked_until": until},
                order_by=[{"next_attempt_at": "asc"}, {"id": "asc"}])

        # a write conflict (MongoDB transactions, PostgreSQL serializable) just means: claim again
        rows = await orm.transaction(claim, retries=CLAIM_RETRIES)
        events = [OutboxEvent(r["id"], r["event_type"], r["payload"], r["attempts"], r["created_at"]) for r in rows]
        return events, until

    # -- one batch ----------------------------------------------------------------------------
    def backoff(self, attempts: int) -> float:
        """Seconds to wait before the next attempt after ``attempts`` failed ones."""
        return float(min(self.backoff_max, self.backoff_base * 2 ** max(0, attempts - 1)))

    async def _settle(self, event: OutboxEvent, data: dict[str, Any]) -> bool:
        """Write ``data`` to ``event`` if this worker still holds its lease; False when it was lost."""
        client = self.orm.model(OUTBOX_MODEL)
        where = {"id": event.id, "claimed_by": self.worker_id, "attempts": event.attempts, "status": "pending"}
        with anyio.CancelScope(shield=True):
            changed = await client.update_many(where=where, data=data)
        if not changed:
            logger.warning("outbox event %s: lease lost before it settled (another worker re-claimed it)", event.id)
        return bool(changed)

    async def _release(self, events: Sequence[OutboxEvent], report: DispatchReport) -> None:
        """Give unhandled claimed events back (attempts restored) so any worker takes them at once."""
        for event in events:
            if await self._settle(event, {"attempts": event.attempts - 1, "claimed_by": None, "locked_until": None}):
                report.released += 1
            else:
                report.lost += 1

    async def _deliver(self, event: OutboxEvent, deadline: float, report: DispatchReport) -> bool:
        """Hand ``event`` to the handler and record the outcome; False when its time ran out."""
        error: BaseException | None = None
        timed_out = False
        try:
            with anyio.fail_after(max(0.0, deadline - anyio.current_time())) as scope:
                try:
                    result = self.handler(event)
                    if inspect.isawaitable(result):
                        await result
                finally:
                    timed_out = scope.cancel_called
        except Exception as exc:  # noqa: BLE001 - any handler failure (a timeout too) is a failed delivery
            error = exc
        now = _ms(self.clock())
        if error is None:
            if await self._settle(event, {"status": "done", "delivered_at": now, "locked_until": None,
                                          "last_error": None}):
                report.delivered += 1
            else:
                report.lost += 1
            return True
        message = f"{type(error).__name__}: {error}"[:2000]
        data: dict[str, Any]
        if event.attempts >= self.max_attempts:
            data = {"status": "dead", "last_error": message, "locked_until": None}
            logger.error("outbox event %s (%s) is dead after %d attempts: %s", event.id, event.event_type,
                         event.attempts, message)
        else:
            data = {"last_error": message, "locked_until": None, "claimed_by": None,
                    "next_attempt_at": now + timedelta(seconds=self.backoff(event.attempts))}
            logger.warning("outbox event %s (%s) failed (attempt %d), retrying: %s", event.id, event.event_type,
                           event.attempts, message)
        if await self._settle(event, data):
            if data.get("status") == "dead":
                report.dead += 1
            else:
                report.retried += 1
        else:
            report.lost += 1
        return not timed_out

    async def run_once(self) -> DispatchReport:
        """Claim one batch and deliver it, event by event, in claim order; returns what happened."""
        async with self._lock:
            report = DispatchReport()
            deadline = anyio.current_time() + self.lease
            events, until = await self._claim()
            report.claimed = len(events)
            done = 0
            try:
                for event in events:
                    if anyio.current_time() >= deadline or self.clock() >= until:
                        break  # the lease is over: the rest may belong to another worker already
                    settled = await self._deliver(event, deadline, report)
                    done += 1
                    if not settled:
                        break
            finally:
                rest = events[done:]
                if rest:
                    with anyio.CancelScope(shield=True):
                        await self._release(rest, report)
            return report

    async def run(self, stop_event: _StopSignal | None = None) -> None:
        """Drain until ``stop_event`` (an ``anyio.Event`` / ``asyncio.Event``) is set: batches back to
        back while there is work, ``poll_interval`` between empty polls. Database errors are logged
        and retried after ``poll_interval``; cancelling releases the unhandled part of the batch."""
        while stop_event is None or not stop_event.is_set():
            try:
                report = await self.run_once()
                idle = report.claimed == 0
            except OrmError:
                logger.exception("outbox dispatcher %s: claiming failed; retrying", self.worker_id)
                idle = True
            if idle:
                if stop_event is None:
                    await anyio.sleep(self.poll_interval)
                else:
                    with anyio.move_on_after(self.poll_interval):
                        await stop_event.wait()


class Outbox(Extension):
    """``orm.outbox`` / ``tx.outbox``: the :class:`OutboxClient` bound to the client."""

    attribute = "outbox"

    def client(self, orm: Orm) -> OutboxClient:
        return OutboxClient(orm)


register(Outbox())
