"""An async face for mongomock: the subset of pymongo's async API the Mongo driver uses.

mongomock is synchronous and in-memory; this wraps a ``mongomock.MongoClient`` / ``Database`` so
``await db["users"].find_one_and_update(...)`` works as on ``pymongo.AsyncMongoClient``. It is for
tests (no MongoDB server needed): every call runs inline, there are no sessions, so the driver
reports ``supports_transactions=False`` on it.

``mongomock://<store>/<database>`` URLs resolve through :func:`open_url`: the same store name
gives the same in-memory server, so two ORMs on one URL see the same data; :func:`drop_store`
forgets it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import mongomock
from pymongo.errors import BulkWriteError, DuplicateKeyError

_STORES: dict[str, Any] = {}


def _install_decimal128_ordering() -> None:
    """mongomock cannot order Decimal128 (the server compares it numerically): compare as Decimal."""
    from bson.decimal128 import Decimal128
    from mongomock import filtering

    original = filtering.bson_compare
    if getattr(original, "_farmorm", False):
        return

    def bson_compare(op: Any, a: Any, b: Any, can_compare_types: bool = True) -> Any:
        if isinstance(a, Decimal128):
            a = a.to_decimal()
        if isinstance(b, Decimal128):
            b = b.to_decimal()
        return original(op, a, b, can_compare_types)  # type: ignore[no-untyped-call]

    bson_compare._farmorm = True  # type: ignore[attr-defined]
    filtering.bson_compare = bson_compare
    compare_type = filtering._get_compare_type

    def _get_compare_type(val: Any) -> Any:  # a Decimal128 is a number among numbers (group keys)
        return 10 if isinstance(val, Decimal128) else compare_type(val)  # type: ignore[no-untyped-call]

    filtering._get_compare_type = _get_compare_type


_install_decimal128_ordering()


# ---------------------------------------------------------------------------------------------
# update arithmetic mongomock lacks ($mul, Decimal128 in $inc, update pipelines): computed here
# with the server's rules, then written as a plain $set / $unset by _id. Calls run inline (no
# await between the read and the write), so each update stays atomic as on a server.

_MISSING = object()


def _num(v: Any) -> Any:
    from bson.decimal128 import Decimal128

    return v.to_decimal() if isinstance(v, Decimal128) else v


def _bson_number(v: Any, decimal_in: bool) -> Any:
    import decimal

    from bson.decimal128 import Decimal128, create_decimal128_context

    if decimal_in or isinstance(v, decimal.Decimal):
        with decimal.localcontext(create_decimal128_context()) as ctx:
            return Decimal128(ctx.create_decimal(v))
    return v


def _is_decimal(*values: Any) -> bool:
    from bson.decimal128 import Decimal128

    return any(isinstance(v, Decimal128) for v in values)


def _arith(op: str, a: Any, b: Any) -> Any:
    import decimal

    from bson.decimal128 import create_decimal128_context

    dec = _is_decimal(a, b)
    x, y = _num(a), _num(b)
    if op == "div" or dec:  # Decimal128 arithmetic: 34 significant digits
        ctx = create_decimal128_context()
        x, y = decimal.Decimal(x), decimal.Decimal(y)
        fn = {"add": ctx.add, "sub": ctx.subtract, "mul": ctx.multiply, "div": ctx.divide}[op]
        return _bson_number(fn(x, y), dec)
    return x + y if op == "add" else x - y if op == "sub" else x * y


def _eval(expr: Any, doc: dict[str, Any]) -> Any:
    """The aggregation expressions farmorm's update pipelines use."""
    import decimal

    if isinstance(expr, str) and expr.startswith("$"):
        return _MISSING if expr == "$$REMOVE" else doc.get(expr[1:], _MISSING)
    if not isinstance(expr, dict):
        return expr
    (op, arg), = expr.items()
    if op == "$literal":
        return arg
    if op == "$cond":
        return _eval(arg[1] if _eval(arg[0], doc) else arg[2], doc)
    if op == "$ifNull":
        v = _eval(arg[0], doc)
        return _eval(arg[1], doc) if v is _MISSING or v is None else v
    if op == "$eq":
        a, b = (_eval(x, doc) for x in arg)
        return (None if a is _MISSING else a) == (None if b is _MISSING else b)
    if op == "$toDecimal":
        return _bson_number(decimal.Decimal(_num(_eval(arg, doc))), True)
    if op == "$toLong":
        return int(_num(_eval(arg, doc)))
    if op == "$trunc":
        v = _eval(arg[0], doc)
        return _bson_number(decimal.Decimal(_num(v)).to_integral_value(decimal.ROUND_DOWN), _is_decimal(v))
    if op == "$round":
        v = _eval(arg[0], doc)
        q = decimal.Decimal(1).scaleb(-arg[1])
        with decimal.localcontext() as ctx:
            ctx.prec = 100
            r = decimal.Decimal(_num(v)).quantize(q, rounding=decimal.ROUND_HALF_EVEN)
        return _bson_number(r, _is_decimal(v))
    names = {"$add": "add", "$subtract": "sub", "$multiply": "mul", "$divide": "div"}
    if op in names:
        a, b = (_eval(x, doc) for x in arg)
        if a is _MISSING or b is _MISSING or a is None or b is None:
            return None
        return _arith(names[op], a, b)
    raise NotImplementedError(f"update pipeline expression {op} (farmorm's mongomock face)")


def _emulated(update: Any) -> bool:
    if isinstance(update, list):
        return True
    if not isinstance(update, dict):
        return False
    return "$mul" in update or _is_decimal(*(update.get("$inc") or {}).values())


def _changes(doc: dict[str, Any], update: Any) -> dict[str, Any]:
    """The plain ``$set`` / ``$unset`` that ``update`` makes of ``doc``."""
    sets: dict[str, Any] = {}
    unset: dict[str, Any] = {}
    if isinstance(update, list):
        for stage in update:
            (name, body), = stage.items()
            if name not in ("$set", "$addFields"):
                raise NotImplementedError(f"update pipeline stage {name} (farmorm's mongomock face)")
            for k, e in body.items():
                v = _eval(e, doc)
                if v is _MISSING:
                    unset[k] = ""
                else:
                    sets[k] = v
    else:
        sets.update(update.get("$set") or {})
        unset.update(update.get("$unset") or {})
        for k, by in (update.get("$inc") or {}).items():
            cur = doc.get(k, _MISSING)
            sets[k] = _bson_number(_num(by), _is_decimal(by)) if cur is _MISSING or cur is None else _arith("add", cur, by)
        for k, by in (update.get("$mul") or {}).items():
            cur = doc.get(k, _MISSING)
            sets[k] = _arith("mul", 0, by) if cur is _MISSING or cur is None else _arith("mul", cur, by)
    out: dict[str, Any] = {}
    if sets:
        out["$set"] = sets
    if unset:
        out["$unset"] = unset
    return out


class _Matched:
    def __init__(self, matched: int) -> None:
        self.matched_count = matched
        self.modified_count = matched
        self.upserted_id = None
def _install_decimal128_accumulators() -> None:
    """mongomock's ``$min`` / ``$max`` cannot compare Decimal128 and its ``$avg`` skips it; the
    server compares Decimal128 numerically and averages it to a Decimal128: do the same."""
    import decimal

    from bson.decimal128 import Decimal128
    from mongomock import aggregate

    ops = aggregate._GROUPING_OPERATOR_MAP
    if getattr(ops["$min"], "_farmorm", False):
        return

    def plain(v: Any) -> Any:
        return v.to_decimal() if isinstance(v, Decimal128) else v

    def extreme(pick: Any) -> Any:
        def run(values: Any) -> Any:
            present = [v for v in values if v is not None]
            return pick(present, key=plain) if present else None
        run._farmorm = True  # type: ignore[attr-defined]
        return run

    def avg(values: Any) -> Any:
        nums = [plain(v) for v in values
                if isinstance(v, Decimal128) or (isinstance(v, (int, float)) and not isinstance(v, bool))]
        if not nums:
            return None
        if any(isinstance(v, decimal.Decimal) for v in nums):
            with decimal.localcontext(decimal.Context(prec=34)):
                total = sum((decimal.Decimal(v) for v in nums), decimal.Decimal(0))
                return Decimal128(total / len(nums))
        return sum(nums) / float(len(nums))

    ops["$min"] = extreme(min)
    ops["$max"] = extreme(max)
    ops["$avg"] = avg


_install_decimal128_accumulators()


class AsyncMongomockCursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        docs = list(self._cursor)
        return docs if length is None else docs[:length]

    def __aiter__(self) -> Any:
        return self._gen()

    async def _gen(self) -> Any:
        for d in self._cursor:
            yield d

    async def close(self) -> None:
        self._cursor.close()


def _unique_details(coll: Any, doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """mongomock reports no keyPattern: find the unique index ``doc`` collides on, as a server would."""
    if not doc:
        return None
    for name, info in coll.index_information().items():
        keys = [k for k, _ in info["key"]]
        if name == "_id_":
            if "_id" in doc and coll.count_documents({"_id": doc["_id"]}) > 0:
                return {"keyPattern": {"_id": 1}, "keyValue": {"_id": doc["_id"]}, "index": name}
            continue
        if not info.get("unique") or not all(k in doc for k in keys):
            continue
        probe = {k: doc[k] for k in keys}
        if coll.count_documents(probe) > 0:
            return {"keyPattern": {k: 1 for k in keys}, "keyValue": probe, "index": name}
    return None


def _errmsg(details: dict[str, Any] | None) -> str:
    if not details:
        return "E11000 duplicate key error"
    return f"E11000 duplicate key error collection index: {details['index']} dup key: {details['keyValue']!r}"


class AsyncMongomockCollection:
    def __init__(self, coll: Any) -> None:
        self._coll = coll
        self.name = coll.name

    def find(self, filter: Any = None, projection: Any = None, *, sort: Any = None, skip: int = 0,
             limit: int = 0, session: Any = None, batch_size: int = 0) -> AsyncMongomockCursor:
        cursor = self._coll.find(filter or {}, projection)
        if sort:
            cursor = cursor.sort(list(sort))
        if skip:
            cursor = cursor.skip(skip)
        if limit:
            cursor = cursor.limit(limit)
        return AsyncMongomockCursor(cursor)

    async def find_one(self, filter: Any = None, projection: Any = None, **kw: Any) -> Any:
        kw.pop("session", None)
        return self._coll.find_one(filter or {}, projection, **kw)

    async def aggregate(self, pipeline: Any, session: Any = None, **kw: Any) -> AsyncMongomockCursor:
        return AsyncMongomockCursor(self._coll.aggregate(pipeline, **kw))

    async def count_documents(self, filter: Any, session: Any = None, **kw: Any) -> int:
        return int(self._coll.count_documents(filter, **kw))

    async def distinct(self, key: str, filter: Any = None, session: Any = None) -> list[Any]:
        return list(self._coll.distinct(key, filter or {}))

    async def insert_one(self, document: Any, session: Any = None) -> Any:
        try:
            return self._coll.insert_one(document)
        except DuplicateKeyError as exc:
            details = _unique_details(self._coll, document)
            raise DuplicateKeyError(_errmsg(details), 11000, details) from exc

    async def insert_many(self, documents: Any, ordered: bool = True, session: Any = None) -> Any:
        try:
            return self._coll.insert_many(documents, ordered=ordered)
        except BulkWriteError as exc:
            errs = exc.details.get("writeErrors") or []
            for e in errs:
                if e.get("code") == 11000:
                    op = dict(e.get("op") or {})
                    d = _unique_details(self._coll, op)
                    if d:
                        e.update(d)
                        e["errmsg"] = _errmsg(d)
            raise

    async def _dup(self, fn: Any, filter: Any, update: Any, *args: Any, **kw: Any) -> Any:
        try:
            return fn(filter, update, *args, **kw)
        except DuplicateKeyError as exc:
            new = dict((update or {}).get("$set") or {})
            details = _unique_details(self._coll, {k: v for k, v in new.items()})
            raise DuplicateKeyError(_errmsg(details), 11000, details) from exc

    async def _apply(self, key: Any, update: Any) -> None:
        if _emulated(update):
            doc = self._coll.find_one({"_id": key}) or {}
            update = _changes(doc, update)
            if not update:
                return
        await self._dup(self._coll.update_one, {"_id": key}, update)

    async def update_one(self, filter: Any, update: Any, upsert: bool = False, session: Any = None) -> Any:
        if _emulated(update) and not upsert:
            found = self._coll.find_one(filter, {"_id": 1})
            if found is not None:
                await self._apply(found["_id"], update)
            return _Matched(0 if found is None else 1)
        return await self._dup(self._coll.update_one, filter, update, upsert=upsert)

    async def update_many(self, filter: Any, update: Any, upsert: bool = False, session: Any = None) -> Any:
        if _emulated(update) and not upsert:
            keys = [d["_id"] for d in self._coll.find(filter, {"_id": 1})]
            for key in keys:
                await self._apply(key, update)
            return _Matched(len(keys))
        return await self._dup(self._coll.update_many, filter, update, upsert=upsert)

    async def find_one_and_update(self, filter: Any, update: Any, projection: Any = None, *, sort: Any = None,
                                  upsert: bool = False, return_document: Any = False, session: Any = None) -> Any:
        # mongomock re-reads the AFTER document with the original filter, so an update that makes
        # the document stop matching returns None; locate it by _id instead, as the server does
        found = self._coll.find_one(filter, {"_id": 1}, sort=sort)
        if found is None:
            if not upsert:
                return None
            result = await self._dup(self._coll.update_one, filter, update, upsert=True)
            key = result.upserted_id
            return None if not return_document else self._coll.find_one({"_id": key}, projection)
        before = self._coll.find_one({"_id": found["_id"]}, projection)
        await self._apply(found["_id"], update)
        return self._coll.find_one({"_id": found["_id"]}, projection) if return_document else before

    async def find_one_and_delete(self, filter: Any, projection: Any = None, *, sort: Any = None,
                                  session: Any = None) -> Any:
        found = self._coll.find_one(filter, sort=sort)
        if found is None:
            return None
        self._coll.delete_one({"_id": found["_id"]})
        return {k: v for k, v in found.items() if projection is None or k in projection or k == "_id"}

    async def delete_one(self, filter: Any, session: Any = None) -> Any:
        return self._coll.delete_one(filter)

    async def delete_many(self, filter: Any, session: Any = None) -> Any:
        return self._coll.delete_many(filter)

    async def create_index(self, keys: Any, **kw: Any) -> str:
        kw.pop("session", None)
        return str(self._coll.create_index(keys, **kw))

    async def index_information(self, session: Any = None) -> dict[str, Any]:
        return dict(self._coll.index_information())

    async def drop_index(self, name: str, session: Any = None) -> None:
        self._coll.drop_index(name)

    async def drop(self, session: Any = None) -> None:
        self._coll.drop()


class AsyncMongomockDatabase:
    """``AsyncDatabase``-like wrapper of a ``mongomock.Database``."""

    def __init__(self, db: Any, client: AsyncMongomockClient | None = None) -> None:
        self._db = db
        self.name = db.name
        self.client = client if client is not None else AsyncMongomockClient(db.client)

    @property
    def delegate(self) -> Any:
        return self._db

    def __getitem__(self, name: str) -> AsyncMongomockCollection:
        return AsyncMongomockCollection(self._db[name])

    def get_collection(self, name: str, **kw: Any) -> AsyncMongomockCollection:
        return AsyncMongomockCollection(self._db.get_collection(name))

    async def create_collection(self, name: str, **kw: Any) -> AsyncMongomockCollection:
        kw.pop("session", None)
        return AsyncMongomockCollection(self._db.create_collection(name, **kw))

    async def list_collection_names(self, session: Any = None) -> list[str]:
        return list(self._db.list_collection_names())

    async def drop_collection(self, name: str, session: Any = None) -> None:
        self._db.drop_collection(name)

    async def command(self, command: Any, **kw: Any) -> dict[str, Any]:
        name = command if isinstance(command, str) else next(iter(command))
        if name in ("ping", "hello", "isMaster", "ismaster"):
            return {"ok": 1.0, "isWritablePrimary": True}
        return dict(self._db.command(command, **kw))

    def __repr__(self) -> str:
        return f"AsyncMongomockDatabase({self.name!r})"


class AsyncMongomockClient:
    """``AsyncMongoClient``-like wrapper of a ``mongomock.MongoClient`` (no sessions)."""

    def __init__(self, client: Any | None = None, **kw: Any) -> None:
        if client is None:
            kw.setdefault("tz_aware", True)
            client = mongomock.MongoClient(**kw)
        self._client = client

    @property
    def delegate(self) -> Any:
        return self._client

    def get_database(self, name: str, **kw: Any) -> AsyncMongomockDatabase:
        return AsyncMongomockDatabase(self._client.get_database(name), self)

    def __getitem__(self, name: str) -> AsyncMongomockDatabase:
        return self.get_database(name)

    async def drop_database(self, name: str) -> None:
        self._client.drop_database(name)

    async def list_database_names(self) -> list[str]:
        return list(self._client.list_database_names())

    async def close(self) -> None:
        """Nothing to release: the in-memory store lives as long as the wrapped client."""

    def __repr__(self) -> str:
        return "AsyncMongomockClient()"


def open_url(url: str, database_name: str | None = None) -> AsyncMongomockDatabase:
    """``mongomock://store/db``: the database ``db`` of the in-memory server named ``store``."""
    name = urlsplit(url).path.lstrip("/") or database_name
    if not name:
        raise ValueError(
            'MongoClient auto-creation requires a "database_name" option so the helper can resolve the target database.'
        )
    return AsyncMongomockClient(store_of(url)).get_database(name)


def store_of(url: str) -> Any:
    """The ``mongomock.MongoClient`` (the in-memory server) behind a ``mongomock://store/db`` URL."""
    store = urlsplit(url).netloc or "default"
    client = _STORES.get(store)
    if client is None:
        client = _STORES[store] = mongomock.MongoClient(tz_aware=True)
    return client


def drop_store(url: str) -> None:
    """Forget the in-memory server behind a ``mongomock://`` URL (its data is gone)."""
    parts = urlsplit(url)
    store = parts.netloc or "default"
    client = _STORES.pop(store, None)
    if client is not None:
        client.close()


__all__ = ["AsyncMongomockClient", "AsyncMongomockDatabase", "AsyncMongomockCollection", "open_url", "drop_store",
           "store_of"]
