"""The Mongo driver: runs compiled :class:`MongoCommand` s on an async database handle.

Works with pymongo's ``AsyncDatabase`` (first choice), Motor's ``AsyncIOMotorDatabase`` and
farmorm's mongomock adapter (tests). Every operation is one command, plus a first phase for
relation filters (one id query per relation filter) and for many-to-many relation levels (the
through collection, then the targets).

Transactions use a client session (``start_transaction``) when the server supports them (a
replica set or sharded cluster): ``capabilities.supports_transactions`` says so. On a standalone
server and on mongomock there are no transactions: ``orm.transaction(fn)`` then runs ``fn``
without atomicity (as the reference does) and nested transactions are plain blocks. A single
write command is still all-or-nothing: a failed ordered ``insert_many`` removes the documents it
inserted and a failed ``update_many`` on unique fields restores the values it changed.
"""

from __future__ import annotations

import inspect
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Mapping, Sequence

import anyio

from farmorm.core.driver import (
    Capabilities,
    Connection,
    Driver,
    DriverHandle,
    NativeRelations,
    Result,
    Returning,
    ReturningMode,
    RowCursor,
    TextMatching,
)
from farmorm.core.errors import ForeignKeyViolation, OrmError, SchemaError, UnsupportedError
from farmorm.query.plan import LINK_COLUMN
from farmorm.schema.manifest import FieldMeta, ModelMeta, Schema

from .compiler import NOTHING, Concat, MongoCommand, MongoCompiler, P, and_, collect_subs, fill
from .errors import map_mongo_error


def capabilities(transactions: bool) -> Capabilities:
    return Capabilities(
        supports_numeric_ids=True,
        numeric_ids="manual",
        supports_json=True,
        supports_dates=True,
        supports_booleans=True,
        supports_transactions=transactions,
        supports_schema_namespaces=False,
        supports_transactional_ddl=False,
        supports_join=False,
        native_relation_loading="none",
        text_comparison="case-sensitive",
        text_matching=TextMatching("case-sensitive", "case-sensitive", "case-sensitive"),
        upsert="native",
        returning=Returning(create=True, update=True, delete=True),
        returning_mode=ReturningMode(create="record", update="record", delete="record"),
        native_relations=NativeRelations(),
        savepoints=False,
        datetime_precision="millisecond",
        bulk_insert=True,
    )


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _split_set(doc: dict[str, Any]) -> Any:
    """``$set`` without NULLs: a NULL is stored as a missing field (``$unset``).

    A ``"$pipeline"`` update (see the compiler's ``_changes``) becomes its one ``$set`` stage,
    where a NULL is ``$$REMOVE``."""
    stage = doc.get("$pipeline")
    if stage is not None:
        return [{"$set": {k: "$$REMOVE" if v == {"$literal": None} else v for k, v in stage.items()}}]
    sets = {k: v for k, v in doc.get("$set", {}).items() if v is not None}
    unset = {k: "" for k, v in doc.get("$set", {}).items() if v is None}
    out: dict[str, Any] = {}
    if sets:
        out["$set"] = sets
    if unset:
        out["$unset"] = unset
    on_insert = {k: v for k, v in doc.get("$setOnInsert", {}).items() if v is not None}
    if on_insert:
        out["$setOnInsert"] = on_insert
    if doc.get("$inc"):
        out["$inc"] = doc["$inc"]  # the version counter (Update.increments), increment / decrement
    if doc.get("$mul"):
        out["$mul"] = doc["$mul"]  # multiply
    return out


class MongoConnection(Connection):
    """The database handle plus the session of the running transaction (if any)."""

    def __init__(self, driver: MongoDriver) -> None:
        self.driver = driver
        self.db = driver.db
        self.session: Any = None

    def _kw(self) -> dict[str, Any]:
        return {"session": self.session} if self.session is not None else {}

    def coll(self, name: str) -> Any:
        return self.db[name]

    # -- running ---------------------------------------------------------------------------
    async def run(self, compiled: MongoCommand, params: Sequence[Any]) -> Result:
        driver = self.driver
        started = time.perf_counter()
        try:
            result = await self._run(compiled, params)
        except BaseException as exc:
            try:
                exc.__farmorm_collection__ = compiled.collection  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001
                pass
            if driver.listeners:
                driver.emit(compiled.statement, len(params), started, 0, exc)
            raise
        if driver.listeners:
            driver.emit(compiled.statement, len(params), started, result.rowcount, None)
        return result

    async def cursor(self, compiled: MongoCommand, params: Sequence[Any], batch_size: int) -> RowCursor:
        """A ``find`` cursor with the server's ``batch_size``: documents arrive a batch per ``getMore``."""
        c = compiled
        if c.op != "find" or c.through is not None or c.per_parent is not None:
            return await super().cursor(compiled, params, batch_size)  # relation levels: not streamed
        driver = self.driver
        started = time.perf_counter()
        try:
            filt = await self._filter(c, params)
            kw: dict[str, Any] = {"batch_size": batch_size}
            if c.sort:
                kw["sort"] = c.sort
            if c.skip is not None and params[c.skip.index]:
                kw["skip"] = int(params[c.skip.index])
            limit = int(params[c.limit.index]) if c.limit is not None and params[c.limit.index] is not None else None
            if limit is not None:
                kw["limit"] = limit
            native = None if limit == 0 else self.coll(c.collection).find(filt, c.projection, **kw, **self._kw())
        except BaseException as exc:
            if driver.listeners:
                driver.emit(c.statement, len(params), started, 0, exc)
            raise
        if driver.listeners:
            driver.emit(c.statement, len(params), started, -1, None)
        return MongoCursor(self, c, native, batch_size)

    async def _subs(self, template: Any, params: Sequence[Any]) -> dict[int, list[Any]] | None:
        subs = collect_subs(template, [])
        if not subs:
            return None
        values: dict[int, list[Any]] = {}
        for sub in subs:
            filt = fill(sub.filter, params, values)
            docs = await self.coll(sub.collection).find(filt, {sub.field: 1, "_id": 1 if sub.field == "_id" else 0},
                                                        **self._kw()).to_list(None)
            seen: dict[Any, None] = {}
            for d in docs:
                v = d.get(sub.field)
                if v is not None:
                    try:
                        seen[v] = None
                    except TypeError:
                        continue
            values[id(sub)] = list(seen)
        return values

    async def _referential(self, collection: str, filt: Any, *, one: bool = False,
                           sort: Sequence[tuple[str, int]] | None = None) -> Any:
        """Emulate ``references(..., on_delete=...)`` before documents of ``collection`` matching
        ``filt`` are deleted: children are deleted (``cascade``, recursively), unset (``set
        null``) or make the delete fail with ``FOREIGN_KEY_VIOLATION`` (``restrict`` / ``no
        action``), in the caller's transaction when there is one. Returns the filter to delete
        with (``one``: pinned to the one document ``delete_one`` would take, by ``_id``)."""
        refs = self.driver.referencing(collection)
        if not refs:
            return filt
        if one:
            doc = await self.coll(collection).find_one(filt, {"_id": 1}, sort=list(sort or []) or None, **self._kw())
            if doc is None:
                return filt
            filt = {"_id": doc["_id"]}
        for column, children in refs.items():
            keys = [d[column] for d in await self.coll(collection).find(filt, {column: 1}, **self._kw()).to_list(None)
                    if d.get(column) is not None]
            if not keys:
                continue
            for child, f in children:
                where = {f.column: {"$in": keys}}
                coll = self.coll(child.table)
                if f.on_delete == "cascade":
                    await coll.delete_many(await self._referential(child.table, where), **self._kw())
                elif f.on_delete == "set null":
                    await coll.update_many(where, {"$unset": {f.column: ""}}, **self._kw())
                elif await coll.find_one(where, {"_id": 1}, **self._kw()) is not None:
                    raise ForeignKeyViolation(
                        f'Cannot delete from "{collection}": records of model "{child.name}" reference it '
                        f'through "{f.name}" (on_delete="{f.on_delete}").',
                        backend_kind=self.driver.handle.kind,
                        meta={"model": child.name, "target": [f.name]},
                    )
        return filt

    async def _filter(self, c: MongoCommand, params: Sequence[Any]) -> Any:
        subs = await self._subs(c.filter, params) if c.subs else None
        return fill(c.filter, params, subs)

    async def _run(self, c: MongoCommand, params: Sequence[Any]) -> Result:
        op = c.op
        if op == "find":
            rows = await self._find(c, params)
            if c.counts and rows:
                await self._relation_counts(c, params, rows)
            return Result(rows, len(rows))
        if op == "aggregate":
            rows = await self._aggregate(c, params)
            if c.counts and rows:
                await self._relation_counts(c, params, rows)
            return Result(rows, len(rows))
        if op == "count_documents":
            n = await self.coll(c.collection).count_documents(await self._filter(c, params), **self._kw())
            return Result([[int(n)]], 1)
        if op == "insert_many":
            return await self._insert(c, params)
        if op in ("update_one", "update_many", "find_one_and_update"):
            return await self._update(c, params)
        if op == "delete_one":
            filt = await self._referential(c.collection, await self._filter(c, params), one=True)
            r = await self.coll(c.collection).delete_one(filt, **self._kw())
            return Result((), r.deleted_count)
        if op == "find_one_and_delete":
            filt = await self._referential(c.collection, await self._filter(c, params), one=True, sort=c.sort)
            doc = await self.coll(c.collection).find_one_and_delete(filt, c.projection, **self._kw())
            return Result([self._row(c, doc)] if doc is not None else [], 1 if doc is not None else 0)
        if op == "delete_many":
            filt = await self._referential(c.collection, await self._filter(c, params))
            r = await self.coll(c.collection).delete_many(filt, **self._kw())
            return Result((), r.deleted_count)
        if op == "upsert":
            return await self._upsert(c, params)
        raise TypeError(f"unknown Mongo command {op!r}")

    # -- raw (orm.raw) ---------------------------------------------------------------------
    def native(self) -> Any:
        return self.db  # the database handle; inside a transaction pass session=conn.session yourself

    async def raw_command(self, command: Mapping[str, Any]) -> dict[str, Any]:
        driver = self.driver
        name = str(next(iter(command), ""))
        started = time.perf_counter()
        try:
            result = dict(await self.db.command(dict(command), **self._kw()))
        except BaseException as exc:
            if driver.listeners:
                driver.emit(name, 0, started, 0, exc)
            raise
        if driver.listeners:
            driver.emit(name, 0, started, 1, None)
        return result

    async def raw_aggregate(self, collection: str, pipeline: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        driver = self.driver
        started = time.perf_counter()
        try:
            cursor = await _maybe(self.coll(collection).aggregate([dict(s) for s in pipeline], **self._kw()))
            docs = [dict(d) for d in await cursor.to_list(None)]
        except BaseException as exc:
            try:
                exc.__farmorm_collection__ = collection  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001
                pass
            if driver.listeners:
                driver.emit("aggregate", 0, started, 0, exc)
            raise
        if driver.listeners:
            driver.emit("aggregate", 0, started, len(docs), None)
        return docs

    def _row(self, c: MongoCommand, doc: dict[str, Any]) -> list[Any]:
        return [doc.get(name) for name in c.column_names]

    async def _find(self, c: MongoCommand, params: Sequence[Any]) -> list[list[Any]]:
        filt = await self._filter(c, params)
        skip = int(params[c.skip.index]) if c.skip is not None and params[c.skip.index] is not None else 0
        limit = int(params[c.limit.index]) if c.limit is not None and params[c.limit.index] is not None else None
        if limit == 0:
            return []
        coll = self.coll(c.collection)
        through = c.through
        windowed = c.per_parent is not None
        if through is not None and "collection" in through:
            # many-to-many: the through collection first, then the targets; one level, two commands
            keys = fill(c.link_slot, params)
            pairs = await self.coll(through["collection"]).find(
                {through["from"]: {"$in": keys}}, {through["from"]: 1, through["to"]: 1, "_id": 0}, **self._kw()
            ).to_list(None)
            by_target: dict[Any, list[Any]] = {}
            for p in pairs:
                to, frm = p.get(through["to"]), p.get(through["from"])
                if to is not None and frm is not None:
                    by_target.setdefault(to, []).append(frm)
            if not by_target:
                return []
            filt = and_([{through["target"]: {"$in": list(by_target)}}, filt])
            docs = await coll.find(filt, c.projection, sort=c.sort or None, **self._kw()).to_list(None)
            rows = []
            for d in docs:
                base = [d.get(name) for name in c.column_names[:-1]]
                for frm in by_target.get(d.get(through["target"]), ()):
                    rows.append(base + [frm])
            group = _link_of
        elif windowed:
            docs = await coll.find(filt, c.projection, sort=c.sort or None, **self._kw()).to_list(None)
            key = through["key"]  # type: ignore[index]
            rows = [self._row(c, d) + [d.get(key)] for d in docs]
            group = _link_of
        else:
            kw: dict[str, Any] = {}
            if c.sort:
                kw["sort"] = c.sort
            if skip:
                kw["skip"] = skip
            if limit is not None:
                kw["limit"] = limit
            docs = await coll.find(filt, c.projection, **kw, **self._kw()).to_list(None)
            return [self._row(c, d) for d in docs]
        if windowed:
            counts: dict[Any, int] = {}
            kept = []
            for r in rows:
                k = group(r)
                i = counts.get(k, 0)
                counts[k] = i + 1
                if i >= skip and (limit is None or i < skip + limit):
                    kept.append(r)
            rows = kept
        elif skip or limit is not None:
            rows = rows[skip:None if limit is None else skip + limit]
        if through is not None and "key" in through:
            rows = [r[:-1] for r in rows]
        return rows

    async def _aggregate(self, c: MongoCommand, params: Sequence[Any]) -> list[list[Any]]:
        """One aggregation pipeline: ``$match``, the compiled stages, then ``$skip`` / ``$limit``."""
        skip = int(params[c.skip.index]) if c.skip is not None and params[c.skip.index] is not None else 0
        limit = int(params[c.limit.index]) if c.limit is not None and params[c.limit.index] is not None else None
        docs: list[dict[str, Any]] = []
        if limit != 0:  # $limit takes positive numbers only
            stages = [{"$match": await self._filter(c, params)}, *fill(c.pipeline, params)]
            if skip:
                stages.append({"$skip": skip})
            if limit is not None:
                stages.append({"$limit": limit})
            cursor = await _maybe(self.coll(c.collection).aggregate(stages, **self._kw()))
            docs = await cursor.to_list(None)
        rows = [self._row(c, d) for d in docs]
        if c.single and not rows:  # no documents: one row of NULLs, as SQL's aggregate gives
            rows = [[None] * len(c.column_names)]
        return rows

    async def _relation_counts(self, c: MongoCommand, params: Sequence[Any], rows: list[list[Any]]) -> None:
        """Fill each relation-count column: one ``$group`` per counted relation over the rows' keys."""
        for spec in c.counts or ():
            local = spec["local"]
            keys = list(dict.fromkeys(r[local] for r in rows if r[local] is not None))
            found: dict[Any, int] = {}
            if keys:
                filt = spec["filter"]
                match = and_([{spec["key"]: {"$in": keys}}, fill(filt, params, await self._subs(filt, params))])
                cursor = await _maybe(self.coll(spec["collection"]).aggregate(
                    [{"$match": match}, {"$group": {"_id": "$" + spec["key"], "n": {"$sum": 1}}}], **self._kw()))
                found = {d["_id"]: d["n"] for d in await cursor.to_list(None)}
            for r in rows:
                r[spec["index"]] = found.get(r[local], 0)

    async def _insert(self, c: MongoCommand, params: Sequence[Any]) -> Result:
        template = c.document or {}
        width = c.width
        docs = []
        for r in range(c.rows):
            base = r * width
            doc = {}
            for key, slot in template.items():
                v = params[base + slot.index]
                if v is not None:
                    doc[key] = slot.encode(v) if slot.encode is not None else v
            docs.append(doc)
        returned = [self._row(c, d) for d in docs] if c.columns else []
        coll = self.coll(c.collection)
        try:
            await coll.insert_many(docs, ordered=True, **self._kw())
        except Exception as exc:
            if self.session is None:
                await self._undo_insert(coll, exc, docs)
            raise
        return Result(returned, len(docs))

    async def _undo_insert(self, coll: Any, exc: Exception, docs: list[dict[str, Any]]) -> None:
        """An ordered insert_many stops at the first error: remove what it inserted (one statement, all or nothing)."""
        details = getattr(exc, "details", None) or {}
        inserted = details.get("nInserted", 0) if isinstance(details, dict) else 0
        ids = [d["_id"] for d in docs[:inserted] if "_id" in d]
        if ids:
            try:
                await coll.delete_many({"_id": {"$in": ids}})
            except Exception:  # noqa: BLE001 - the original error is the one to report
                pass

    async def _update(self, c: MongoCommand, params: Sequence[Any]) -> Result:
        filt = await self._filter(c, params)
        update = _split_set(fill(c.update, params))
        coll = self.coll(c.collection)
        kw = self._kw()
        if c.op == "find_one_and_update":
            from pymongo import ReturnDocument

            doc = await coll.find_one_and_update(filt, update, c.projection, return_document=ReturnDocument.AFTER, **kw)
            return Result([self._row(c, doc)] if doc is not None else [], 1 if doc is not None else 0)
        if c.op == "update_one":
            r = await coll.update_one(filt, update, **kw)
            return Result((), r.matched_count)
        unique = self.driver.unique_columns.get(c.collection, frozenset())
        changed = update[0]["$set"] if isinstance(update, list) else {**update.get("$set", {}), **update.get("$unset", {})}
        touched = [k for k in changed if k in unique]
        before = None
        if touched and self.session is None:
            before = await coll.find(filt, {k: 1 for k in touched} | {"_id": 1}).to_list(None)
        try:
            r = await coll.update_many(filt, update, **kw)
        except Exception:
            if before:
                for d in before:
                    restore = {k: d[k] for k in touched if k in d}
                    gone = {k: "" for k in touched if k not in d}
                    body: dict[str, Any] = {}
                    if restore:
                        body["$set"] = restore
                    if gone:
                        body["$unset"] = gone
                    try:
                        await coll.update_one({"_id": d["_id"]}, body)
                    except Exception:  # noqa: BLE001
                        pass
            raise
        return Result((), r.matched_count)

    async def _upsert(self, c: MongoCommand, params: Sequence[Any]) -> Result:
        """Update the existing document with ``update``, else insert ``create`` (SQL's ON CONFLICT).

        A single ``$set`` + ``$setOnInsert`` upsert would apply the update values to a new
        document too; so: ``find_one_and_update`` with ``$set`` (no upsert), and when nothing
        matched an atomic insert-if-missing (``upsert=True`` with ``$setOnInsert`` only). A
        concurrent insert between the two is detected (the document existed before) and the
        update is applied to it."""
        from pymongo import ReturnDocument

        filt = fill(c.filter, params)
        full = fill(c.update, params)
        coll = self.coll(c.collection)
        kw = self._kw()
        update = _split_set({k: v for k, v in full.items() if k != "$setOnInsert"})
        on_insert = {k: v for k, v in full.get("$setOnInsert", {}).items() if v is not None}
        for _ in range(3):
            if update:
                doc = await coll.find_one_and_update(filt, update, c.projection,
                                                     return_document=ReturnDocument.AFTER, **kw)
                if doc is not None:
                    return Result([self._row(c, doc)], 1)
            before = await coll.find_one_and_update(
                filt, {"$setOnInsert": on_insert or dict(filt)}, c.projection, upsert=True,
                return_document=ReturnDocument.BEFORE, **kw,
            )
            if before is None:  # inserted: read back the new document
                doc = await coll.find_one(filt, c.projection, **kw)
                return Result([self._row(c, doc)] if doc is not None else [], 1)
            if not update:
                return Result([self._row(c, before)], 1)
        raise RuntimeError("upsert did not converge")  # pragma: no cover

    # -- transactions ----------------------------------------------------------------------
    async def begin(self, isolation: str | None = None) -> None:
        if not self.driver.handle.capabilities.supports_transactions:
            return  # no atomicity: the body runs as plain operations (see the module docstring)
        session = await _maybe(self.driver.client.start_session())
        try:
            await _maybe(session.start_transaction())
        except BaseException:
            await _maybe(session.end_session())
            raise
        self.session = session

    async def commit(self) -> None:
        session = self.session
        if session is None:
            return
        try:
            attempt = 0
            while True:
                try:
                    await _maybe(session.commit_transaction())
                    break
                except Exception as exc:
                    label = getattr(exc, "has_error_label", None)
                    # retry only the commit, never the body
                    if label is not None and label("UnknownTransactionCommitResult") and attempt < 3:
                        attempt += 1
                        continue
                    raise
        finally:
            self.session = None
            await _maybe(session.end_session())

    async def rollback(self) -> None:
        session = self.session
        if session is None:
            return
        try:
            if getattr(session, "in_transaction", True):
                await _maybe(session.abort_transaction())
        finally:
            self.session = None
            await _maybe(session.end_session())

    async def savepoint(self, name: str) -> None:
        if self.session is not None:
            raise UnsupportedError("MongoDB has no savepoints: nested transactions are not supported.",
                                   backend_kind=self.driver.handle.kind)

    async def release_savepoint(self, name: str) -> None:
        return None

    async def rollback_to_savepoint(self, name: str) -> None:
        return None


class MongoCursor(RowCursor):
    """A ``find`` cursor read ``batch_size`` documents at a time, each turned into a row."""

    __slots__ = ("owner", "command", "native", "size", "docs")

    def __init__(self, owner: MongoConnection, command: MongoCommand, native: Any, size: int) -> None:
        self.owner = owner
        self.command = command
        self.native = native
        self.size = size
        self.docs = native.__aiter__() if native is not None else None

    async def fetch(self) -> Sequence[Sequence[Any]]:
        docs = self.docs
        if docs is None:
            return []
        rows: list[list[Any]] = []
        row = self.owner._row
        c = self.command
        size = self.size
        async for doc in docs:
            rows.append(row(c, doc))
            if len(rows) >= size:
                break
        else:
            self.docs = None
        return rows

    async def close(self) -> None:
        native, self.native, self.docs = self.native, None, None
        if native is not None and hasattr(native, "close"):
            try:
                with anyio.CancelScope(shield=True):
                    await _maybe(native.close())
            except Exception:  # noqa: BLE001 - killing the server cursor is best effort (it times out anyway)
                pass


def _link_of(row: list[Any]) -> Any:
    """The parent link a relation row carries in its last column."""
    return row[-1]


class MongoDriver(Driver):
    """farmorm's driver for a MongoDB database handle."""

    runtime_label = "Mongo"

    def __init__(self, schema: Schema, db: Any, *, kind: str, client: Any, owner: Any = None,
                 transactions: bool = False) -> None:
        super().__init__()
        self.schema = schema
        self.db = db
        self.client = db.client
        self.owner = owner  # a client farmorm opened itself (closed by close())
        self.handle = DriverHandle(kind, None, client, capabilities(transactions))
        self.compiler = MongoCompiler(schema)
        self.unique_columns = {
            m.table: frozenset(
                [f.column for f in m.fields.values() if f.unique or f.is_id]
                + [c for u in m.uniques for c in u.columns]
            )
            for m in schema.models.values()
        }

    def compile(self, node: Any) -> MongoCommand:
        return self.compiler.compile(node)

    @asynccontextmanager
    async def connection(self, *, write: bool = False, transaction: bool = False) -> AsyncIterator[Connection]:
        yield MongoConnection(self)

    def referencing(self, collection: str) -> dict[str, list[tuple[ModelMeta, FieldMeta]]]:
        """Per referenced column of ``collection``: the (model, field) pairs whose
        ``references(..., on_delete=...)`` point at it (computed once per collection)."""
        cache: dict[str, dict[str, list[tuple[ModelMeta, FieldMeta]]]] = self.__dict__.setdefault("_refs", {})
        found = cache.get(collection)
        if found is None:
            found = {}
            for m in self.schema.models.values():
                for f in m.fields.values():
                    if f.references and f.on_delete:
                        target = self.schema.models[f.references[0]]
                        if target.table == collection:
                            column = target.fields[f.references[1]].column
                            found.setdefault(column, []).append((m, f))
            cache[collection] = found
        return found

    def check_schema(self, schema: Schema) -> None:
        for m in schema.models.values():
            if m.schema:
                raise UnsupportedError(
                    f'The Mongo runtime does not support schema-qualified tables for model "{m.name}". '
                    "Use flat collection names instead.",
                    backend_kind=self.handle.kind, meta={"model": m.name},
                )
            for f in m.fields.values():
                if f.generated == "increment" or (f.is_id and f.id_type == "integer" and f.generated):
                    raise SchemaError(
                        f'The Mongo runtime does not support generated integer ids for model "{m.name}". '
                        "Use manual integer ids or string ids instead."
                    )

    async def push_schema(self, schema: Schema) -> None:
        from pymongo.errors import CollectionInvalid, OperationFailure

        existing = set(await self.db.list_collection_names())
        for m in schema.models.values():
            if m.table not in existing:
                try:
                    await self.db.create_collection(m.table)
                except CollectionInvalid:
                    pass
                except OperationFailure as exc:
                    if exc.code != 48:  # NamespaceExists
                        raise
            coll = self.db[m.table]
            for name, columns, unique, nullable in self.indexes(m):
                opts: dict[str, Any] = {"name": name, "unique": unique}
                if unique and nullable:
                    # SQL unique keys allow many NULLs; NULLs are stored as missing fields
                    opts["partialFilterExpression"] = {c: {"$exists": True} for c in columns}
                try:
                    await coll.create_index([(c, 1) for c in columns], **opts)
                except OperationFailure as exc:
                    # 85 IndexOptionsConflict / 86 IndexKeySpecsConflict: it already exists
                    if exc.code not in (85, 86) and "already exists" not in str(exc):
                        raise

    async def sync_indexes(self, schema: Schema, *, prune: bool = False) -> dict[str, list[str]]:
        """``farmorm db migrate`` on Mongo: create missing collections and indexes, report indexes
        the schema does not declare, and drop those only when ``prune`` is set.

        Returns ``{"created": [...], "extra": [...], "dropped": [...]}`` as ``collection.index`` names."""
        existing = set(await self.db.list_collection_names())
        before: dict[str, set[str]] = {}
        for m in schema.models.values():
            before[m.table] = set(await self.db[m.table].index_information()) if m.table in existing else set()
        await self.push_schema(schema)
        report: dict[str, list[str]] = {"created": [], "extra": [], "dropped": []}
        for m in schema.models.values():
            coll = self.db[m.table]
            declared = {name for name, *_ in self.indexes(m)} | {"_id_"}
            now = set(await coll.index_information())
            report["created"] += sorted(f"{m.table}.{i}" for i in (now & declared) - before[m.table])
            for extra in sorted(now - declared):
                report["extra"].append(f"{m.table}.{extra}")
                if prune:
                    await coll.drop_index(extra)
                    report["dropped"].append(f"{m.table}.{extra}")
        return report

    @staticmethod
    def indexes(m: Any) -> list[tuple[str, tuple[str, ...], bool, bool]]:
        out: list[tuple[str, tuple[str, ...], bool, bool]] = []
        seen: set[tuple[str, ...]] = set()
        for f in m.fields.values():
            if f.column == "_id":
                continue
            if f.is_id:
                out.append((f"{m.table}_{f.column}_pk_unique", (f.column,), True, f.nullable))
                seen.add((f.column,))
            elif f.unique:
                out.append((f"{m.table}_{f.column}_unique", (f.column,), True, f.nullable))
                seen.add((f.column,))
        for c in (*m.uniques, *m.indexes, *m.foreign_key_indexes):
            nullable = any(m.fields[x].nullable for x in c.fields)
            out.append((c.name, tuple(c.columns), c.unique, nullable))
        return out

    def map_error(self, exc: BaseException) -> OrmError | None:
        return map_mongo_error(exc, self.schema, self.handle.kind, getattr(exc, "__farmorm_collection__", None))

    async def close(self) -> None:
        if self.owner is not None:
            owner, self.owner = self.owner, None
            await _maybe(owner.close())


__all__ = ["MongoDriver", "MongoConnection", "capabilities", "NOTHING", "Concat", "P", "LINK_COLUMN"]
