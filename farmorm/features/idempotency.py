"""Idempotency keys: ``await tx.idempotency.reserve(key, request_hash)``.

``define_schema(..., idempotency=True)`` adds the ``farmorm_idempotency`` model (``key`` unique).
Inside a transaction, ``reserve`` either inserts the key (this request is the first: do the work,
then ``await reservation.complete(result)`` in the same transaction) or finds it (a replay: the
stored ``result`` comes back and the work is skipped). The reservation row commits or rolls back
with the business change, so a failed request leaves no key behind and its retry runs afresh.

The key is claimed by the unique index: of concurrent requests with one key exactly one insert
succeeds; the others wait for it on PostgreSQL and MySQL (the index entry is locked; on MySQL the
reservers of a key first queue on a named lock, as InnoDB's index waits deadlock when the holder
rolls back) and then read its committed result, or, when it rolled back, take the key themselves. The same key with another
``request_hash`` raises ``IdempotencyConflict`` (code ``IDEMPOTENCY_CONFLICT``).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

import msgspec

from ..core.errors import IdempotencyConflict, RecordNotFound, UniqueConstraintViolation, validation_error
from ..query import nodes as n
from ..query.parse import parse_where
from ..runtime.extension import Extension, register
from ..runtime.orm import Orm, engine_of
from ..schema import fields as f
from ..schema.definition import ModelDef
from ..schema.system import SystemModel, register_system_model
from .system import check_json, require_model

__all__ = ["IDEMPOTENCY_MODEL", "IdempotencyClient", "Reservation", "request_hash", "MAX_KEY_LENGTH"]

#: the model ``define_schema(..., idempotency=True)`` adds
IDEMPOTENCY_MODEL = "farmorm_idempotency"
#: the longest key every backend can index (MySQL's unique VARCHAR(191) under utf8mb4)
MAX_KEY_LENGTH = 191


def _idempotency_model() -> ModelDef:
    return ModelDef(
        table=IDEMPOTENCY_MODEL,
        fields={
            "id": f.id(),
            "key": f.string().unique(),
            "request_hash": f.string(),
            "status": f.enumeration(["pending", "completed"]).default("pending"),
            "result": f.json().nullable(),
            "created_at": f.datetime().default_now(),
            "completed_at": f.datetime().nullable(),
        },
        description="Idempotency keys reserved with tx.idempotency.reserve and their stored results.",
    )


register_system_model(SystemModel(IDEMPOTENCY_MODEL, _idempotency_model, option="idempotency"))


def request_hash(request: Any) -> str:
    """A stable SHA-256 hex digest of JSON data (keys sorted), to pass as ``request_hash``."""
    check_json("request", "request", request)
    return hashlib.sha256(msgspec.json.encode(request, order="sorted")).hexdigest()


def _check_inputs(key: Any, request_hash: Any) -> None:
    if not isinstance(key, str) or not key.strip():
        raise validation_error(
            f'Invalid value for field "key" on model "{IDEMPOTENCY_MODEL}": expected a non-empty string, got {key!r}.',
            model=IDEMPOTENCY_MODEL, field="key",
        )
    if len(key) > MAX_KEY_LENGTH:
        raise validation_error(
            f'Invalid value for field "key" on model "{IDEMPOTENCY_MODEL}": at most {MAX_KEY_LENGTH} characters, '
            f"got {len(key)}.", model=IDEMPOTENCY_MODEL, field="key",
        )
    if not isinstance(request_hash, str) or not request_hash:
        raise validation_error(
            f'Invalid value for field "request_hash" on model "{IDEMPOTENCY_MODEL}": expected a non-empty string, '
            f"got {request_hash!r}.", model=IDEMPOTENCY_MODEL, field="request_hash",
        )


class Reservation:
    """The outcome of ``reserve``: ``replayed`` False -> do the work and ``complete(result)``;
    ``replayed`` True -> ``result`` is what the first request stored."""

    __slots__ = ("_orm", "id", "key", "request_hash", "replayed", "result", "completed")

    def __init__(self, orm: Orm, row: dict[str, Any], replayed: bool) -> None:
        self._orm = orm
        self.id: str = row["id"]
        self.key: str = row["key"]
        self.request_hash: str = row["request_hash"]
        self.replayed = replayed
        self.result: Any = row["result"] if replayed else None
        self.completed = replayed

    async def complete(self, result: Any = None) -> None:
        """Store ``result`` (JSON data) for replays, in the transaction that reserved the key."""
        check_json(IDEMPOTENCY_MODEL, "result", result)
        if self.completed:
            raise validation_error(
                f'Idempotency key "{self.key}" is already completed; complete() runs once, on a new reservation.',
                model=IDEMPOTENCY_MODEL, field="result",
            )
        now = datetime.now(timezone.utc)
        changed = await self._orm.model(IDEMPOTENCY_MODEL).update_many(
            where={"id": self.id, "status": "pending"},
            data={"status": "completed", "result": result, "completed_at": now},
        )
        if not changed:
            raise RecordNotFound(f'Idempotency key "{self.key}" has no pending reservation to complete.')
        self.completed = True
        self.result = result

    def __repr__(self) -> str:
        return f"<Reservation key={self.key!r} replayed={self.replayed}>"


class IdempotencyClient:
    """``tx.idempotency``: reserve keys in the running transaction, forget them."""

    __slots__ = ("_orm",)

    def __init__(self, orm: Orm) -> None:
        self._orm = orm

    async def reserve(self, key: str, request_hash: str) -> Reservation:
        """Reserve ``key`` for the request ``request_hash`` in the running transaction, or replay it.

        Raises ``IdempotencyConflict`` when the key belongs to another request hash, or to a
        request that has not completed (possible only without transactions, or when a request
        committed without ``complete()``)."""
        _check_inputs(key, request_hash)
        orm = self._orm
        require_model(orm, IDEMPOTENCY_MODEL, "idempotency")
        state = engine_of(orm).state()
        if state is None or not state.active:
            raise validation_error(
                "idempotency.reserve() needs a running transaction: "
                "async with orm.transaction() as tx: await tx.idempotency.reserve(key, request_hash)."
            )
        async with engine_of(orm).scope(write=True) as conn:
            # one reserver of a key at a time where index waits can deadlock (InnoDB); else nothing
            await conn.lock_for_transaction(f"idempotency:{key}")
        client = orm.model(IDEMPOTENCY_MODEL)
        row = await client.find_unique(where={"key": key})
        for _ in range(3):
            if row is not None:
                return self._replay(row, request_hash)
            try:
                async with orm.transaction() as sp:  # a savepoint: a failed insert leaves the transaction usable
                    created = await sp.model(IDEMPOTENCY_MODEL).create(
                        data={"key": key, "request_hash": request_hash, "status": "pending"})
                return Reservation(orm, created, replayed=False)
            except UniqueConstraintViolation:
                row = await self._locked_read(key)
        raise IdempotencyConflict(  # the key kept appearing and vanishing: concurrent reserve-and-rollback
            f'Idempotency key "{key}" on model "{IDEMPOTENCY_MODEL}" could not be reserved; retry the request.',
            meta={"key": key, "reason": "contended"},
        )

    async def _locked_read(self, key: str) -> dict[str, Any] | None:
        """The newest committed row of ``key``: a locking read sees past a REPEATABLE READ snapshot.

        A shared lock, not ``FOR UPDATE``: InnoDB leaves every loser of the duplicate-key check
        holding a shared lock on the winner's index entry, so two of them asking for an exclusive
        one would deadlock (1-3 DEADLOCKs of 5 concurrent requests); shared locks do not conflict."""
        orm = self._orm
        model = orm.schema.models[IDEMPOTENCY_MODEL]
        params: list[Any] = []
        cond = parse_where(orm.schema, model, {"key": key}, params)
        node = n.Select(IDEMPOTENCY_MODEL, tuple(model.fields), cond, lock="share")
        async with engine_of(orm).scope(write=True) as conn:
            rows = await engine_of(orm).rows(conn, node, params)
        return rows[0] if rows else None

    def _replay(self, row: dict[str, Any], request_hash: str) -> Reservation:
        key = row["key"]
        if row["request_hash"] != request_hash:
            raise IdempotencyConflict(
                f'Idempotency key "{key}" on model "{IDEMPOTENCY_MODEL}" was already used for another request '
                "(its request_hash differs).", meta={"key": key, "reason": "request_mismatch"},
            )
        if row["status"] != "completed":
            raise IdempotencyConflict(
                f'Idempotency key "{key}" on model "{IDEMPOTENCY_MODEL}" is reserved by a request that has not '
                "completed.", meta={"key": key, "reason": "in_progress"},
            )
        return Reservation(self._orm, row, replayed=True)

    async def forget(self, key: str) -> bool:
        """Delete ``key`` (e.g. an in-progress reservation left by a crash without transactions)."""
        _check_inputs(key, "-")
        orm = self._orm
        require_model(orm, IDEMPOTENCY_MODEL, "idempotency")
        return bool(await orm.model(IDEMPOTENCY_MODEL).delete_many(where={"key": key}))


class Idempotency(Extension):
    """``orm.idempotency`` / ``tx.idempotency``: the :class:`IdempotencyClient` bound to the client."""

    attribute = "idempotency"

    def client(self, orm: Orm) -> IdempotencyClient:
        return IdempotencyClient(orm)


register(Idempotency())
