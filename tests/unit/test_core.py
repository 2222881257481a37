"""Core pieces without a database: plan cache, errors, driver handle, public API, runtime detection."""

from __future__ import annotations

import dataclasses
import importlib
import sqlite3

import aiosqlite  # imported so detection can recognise its connections (it never imports it itself)
import pytest

import farmorm
from farmorm import (
    Capabilities,
    DriverHandle,
    OrmError,
    detect_database_runtime,
    inspect_database_runtime,
    is_orm_error,
    require_database_runtime,
)
from farmorm import errors as E
from farmorm.core.cache import PlanCache
from farmorm.core.detect import Detected
from farmorm.core.driver import NativeRelations, Returning, ReturningMode, TextMatching

# ---------------------------------------------------------------------------------------------
# PlanCache


class Builder:
    def __init__(self) -> None:
        self.built: list[str] = []

    def __call__(self, key):
        self.built.append(key)
        return f"plan:{key}"


def test_plan_cache_hits_and_misses():
    cache, build = PlanCache(), Builder()
    assert cache.get("a", build) == "plan:a"
    assert cache.get("a", build) == "plan:a"
    assert cache.get("b", build) == "plan:b"
    assert (cache.hits, cache.misses, len(cache)) == (1, 2, 2)
    assert build.built == ["a", "b"]  # built once per key
    assert "a" in cache and "z" not in cache
    assert repr(cache) == "PlanCache(size=2, hits=1, misses=2)"


def test_plan_cache_evicts_least_recently_used():
    cache, build = PlanCache(maxsize=2), Builder()
    cache.get("a", build)
    cache.get("b", build)
    cache.get("c", build)  # evicts a (oldest)
    assert ("a" in cache, "b" in cache, "c" in cache) == (False, True, True)
    assert len(cache) == 2


def test_plan_cache_hit_moves_to_end():
    cache, build = PlanCache(maxsize=2), Builder()
    cache.get("a", build)
    cache.get("b", build)
    cache.get("a", build)  # a is now the most recent
    cache.get("c", build)  # so b is evicted
    assert ("a" in cache, "b" in cache, "c" in cache) == (True, False, True)
    cache.get("b", build)  # rebuilt (a miss); evicts a, now the least recently used
    assert build.built == ["a", "b", "c", "b"]
    assert ("a" in cache, "b" in cache, "c" in cache) == (False, True, True)
    assert (cache.hits, cache.misses) == (1, 4)


def test_plan_cache_clear_and_node_keys():
    from farmorm.query import nodes as n

    cache, build = PlanCache(), Builder()
    cache.get(n.Compare("email", "eq", n.Param(0)), build)
    cache.get(n.Compare("email", "eq", n.Param(0)), build)  # an equal node is the same key
    assert (cache.hits, cache.misses) == (1, 1)
    cache.clear()
    assert len(cache) == 0


def test_plan_cache_default_size():
    assert PlanCache().maxsize == 1024


# ---------------------------------------------------------------------------------------------
# errors

SUBCLASSES = {
    "UNIQUE_CONSTRAINT_VIOLATION": farmorm.UniqueConstraintViolation,
    "FOREIGN_KEY_VIOLATION": farmorm.ForeignKeyViolation,
    "NOT_NULL_VIOLATION": farmorm.NotNullViolation,
    "CHECK_VIOLATION": farmorm.CheckViolation,
    "MISSING_TABLE": farmorm.MissingTable,
    "MISSING_SCHEMA": farmorm.MissingSchema,
    "TRANSACTION_CONFLICT": farmorm.TransactionConflict,
    "DEADLOCK": farmorm.Deadlock,
    "CONNECTION_ERROR": farmorm.OrmConnectionError,
    "VALIDATION_ERROR": farmorm.QueryValidationError,
    "NOT_FOUND": farmorm.RecordNotFound,
    "VERSION_CONFLICT": farmorm.VersionConflict,
    "UNSUPPORTED": farmorm.UnsupportedError,
    "IDEMPOTENCY_CONFLICT": E.IdempotencyConflict,
    "VALUE_TOO_LONG": E.ValueTooLong,
    "NUMERIC_OUT_OF_RANGE": E.NumericOutOfRange,
    "INVALID_VALUE": E.InvalidValue,
    "LOCK_TIMEOUT": E.LockTimeout,
    "QUERY_TIMEOUT": E.QueryTimeout,
    "TRANSACTION_ABORTED": E.TransactionAborted,
    "SCHEMA_CHANGED": E.SchemaChanged,
    "MISSING_COLUMN": E.MissingColumn,
    "STORAGE_FULL": E.StorageFull,
    "READ_ONLY": E.ReadOnlyDatabase,
    "COMMIT_UNKNOWN": E.CommitUnknown,
    "POOLER_MISCONFIGURED": E.PoolerMisconfigured,
    "COMMIT_HOOK_FAILED": E.CommitHookFailed,
}


def test_codes_are_the_designed_list():
    assert E.CODES == tuple(SUBCLASSES)


@pytest.mark.parametrize(("code", "cls"), list(SUBCLASSES.items()))
def test_subclass_per_code(code, cls):
    assert cls.code == code
    assert issubclass(cls, OrmError)
    assert E.error_class(code) is cls
    err = E.make_error(code, "boom", backend_kind="aiosqlite", dialect="sqlite", meta={"constraint": "c"})
    assert type(err) is cls
    assert (err.code, str(err), err.message, err.backend_kind, err.dialect) == (code, "boom", "boom", "aiosqlite", "sqlite")
    assert err.meta["constraint"] == "c"
    assert is_orm_error(err)


@pytest.mark.parametrize("code", list(SUBCLASSES))
def test_retryable_only_for_conflict_and_deadlock(code):
    err = E.make_error(code, "x")
    assert err.retryable is (code in ("TRANSACTION_CONFLICT", "DEADLOCK", "LOCK_TIMEOUT", "SCHEMA_CHANGED"))
    assert err.meta["retryable"] is err.retryable


def test_retryable_can_be_overridden():
    assert OrmError("x", code="DEADLOCK", retryable=False).retryable is False
    assert OrmError("x", code="UNSUPPORTED", retryable=True).retryable is True


def test_reference_descriptions():
    d = E.DESCRIPTIONS
    assert d["UNIQUE_CONSTRAINT_VIOLATION"] == "Unique constraint violation"
    assert d["FOREIGN_KEY_VIOLATION"] == "Foreign key violation"
    assert d["MISSING_TABLE"] == "Missing table or collection"
    assert d["MISSING_SCHEMA"] == "Missing schema or database namespace"
    assert d["TRANSACTION_CONFLICT"] == "Transaction conflict"
    assert d["DEADLOCK"] == "Deadlock detected"


def test_native_error_message_and_meta():
    native = sqlite3.IntegrityError("UNIQUE constraint failed: users.email")
    err = E.native_error("UNIQUE_CONSTRAINT_VIOLATION", native, backend_kind="aiosqlite", dialect="sqlite",
                         meta={"constraint": "users_email_unique", "target": ("email",)})
    assert isinstance(err, farmorm.UniqueConstraintViolation)
    assert str(err) == "Unique constraint violation in aiosqlite (sqlite) runtime: UNIQUE constraint failed: users.email"
    assert dict(err.meta) == {
        "backend_kind": "aiosqlite", "dialect": "sqlite", "retryable": False,
        "original_message": "UNIQUE constraint failed: users.email",
        "constraint": "users_email_unique", "target": ("email",),
    }


def test_native_error_without_dialect_and_empty_message():
    class Boom(Exception):
        pass

    err = E.native_error("DEADLOCK", Boom(), backend_kind="pymongo", dialect=None)
    assert str(err) == "Deadlock detected in pymongo runtime: Boom"
    assert err.retryable is True
    assert err.dialect is None


def test_native_error_keeps_cause_when_raised_from():
    native = sqlite3.OperationalError("no such table: users")
    with pytest.raises(farmorm.MissingTable) as e:
        try:
            raise native
        except sqlite3.OperationalError as exc:
            raise E.native_error("MISSING_TABLE", exc, backend_kind="aiosqlite", dialect="sqlite") from exc
    assert e.value.__cause__ is native
    assert str(e.value) == "Missing table or collection in aiosqlite (sqlite) runtime: no such table: users"


def test_meta_is_read_only():
    err = E.make_error("NOT_FOUND", "x", meta={"model": "user"})
    with pytest.raises(TypeError):
        err.meta["model"] = "post"  # type: ignore[index]
    with pytest.raises(TypeError):
        err.meta["new"] = 1  # type: ignore[index]
    assert err.meta["model"] == "user"


def test_validation_error_helper():
    err = E.validation_error("bad", model="user", field="email")
    assert type(err) is farmorm.QueryValidationError
    assert isinstance(err, ValueError)
    assert (err.code, str(err), err.meta["model"], err.meta["field"], err.retryable) == (
        "VALIDATION_ERROR", "bad", "user", "email", False,
    )


def test_is_orm_error():
    assert is_orm_error(OrmError("x")) is True
    assert is_orm_error(farmorm.Deadlock("x")) is True
    assert is_orm_error(ValueError("x")) is False
    assert is_orm_error(farmorm.SchemaError("x")) is False
    assert is_orm_error(None) is False


def test_orm_error_repr_and_default_code():
    assert OrmError("x").code == "ORM_ERROR"
    assert repr(farmorm.Deadlock("d")) == "Deadlock(code='DEADLOCK', message='d')"


# ---------------------------------------------------------------------------------------------
# Capabilities / DriverHandle


def test_capabilities_defaults():
    c = Capabilities()
    assert (c.supports_numeric_ids, c.numeric_ids, c.supports_json, c.supports_dates, c.supports_booleans,
            c.supports_transactions, c.supports_schema_namespaces, c.supports_transactional_ddl, c.supports_join,
            c.native_relation_loading, c.text_comparison, c.upsert) == (
        False, "none", False, False, False, False, False, False, False, "none", "case-sensitive", "none",
    )
    assert c.text_matching == TextMatching("case-sensitive", "case-sensitive", "case-sensitive")
    assert c.returning == Returning(False, False, False)
    assert c.returning_mode == ReturningMode("none", "none", "none")
    assert c.native_relations == NativeRelations()


def test_capabilities_frozen():
    c = Capabilities(upsert="native")
    with pytest.raises(AttributeError):
        c.upsert = "none"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        c.text_matching.equality = "case-insensitive"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        c.returning.create = True  # type: ignore[misc]
    assert c.upsert == "native"


def test_capabilities_keyword_only():
    with pytest.raises(TypeError):
        Capabilities(True)  # type: ignore[misc]


def test_driver_handle_frozen():
    client = object()
    h = DriverHandle("aiosqlite", "sqlite", client, Capabilities())
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.kind = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.capabilities = Capabilities()  # type: ignore[misc]
    assert h.client is client
    assert "client" not in repr(h)


# ---------------------------------------------------------------------------------------------
# public API


EXPECTED_ALL = [
    "__version__",
    "fields",
    "define_schema", "merge_schemas", "model", "table_name", "Schema",
    "belongs_to", "has_one", "has_many", "many_to_many",
    "create_orm", "create_orm_from_runtime", "Orm", "ModelClient", "ReplicaPolicy",
    "detect_database_runtime", "inspect_database_runtime", "require_database_runtime",
    "Detected", "RuntimeReport",
    "Capabilities", "DriverHandle", "QueryEvent",
    "OrmError", "is_orm_error", "SchemaError",
    "UniqueConstraintViolation", "ForeignKeyViolation", "NotNullViolation", "CheckViolation",
    "MissingTable", "MissingSchema", "TransactionConflict", "Deadlock", "OrmConnectionError",
    "QueryValidationError", "RecordNotFound", "VersionConflict", "UnsupportedError",
    "IdempotencyConflict",
    "define_factory", "define_seed",
]


def test_public_api_is_pinned():
    assert sorted(farmorm.__all__) == sorted(EXPECTED_ALL)
    assert len(farmorm.__all__) == len(set(farmorm.__all__))


@pytest.mark.parametrize("name", EXPECTED_ALL)
def test_public_name_importable(name):
    mod = importlib.import_module("farmorm")
    assert getattr(mod, name) is not None
    ns: dict = {}
    exec(f"from farmorm import {name}", ns)
    assert ns[name] is getattr(mod, name)


def test_star_import():
    ns: dict = {}
    exec("from farmorm import *", ns)
    assert set(EXPECTED_ALL) <= set(ns)


def test_fields_module_exports_builders():
    assert sorted(farmorm.fields.__all__) == sorted(
        ["FieldBuilder", "id", "numeric_id", "string", "boolean", "integer", "bigint", "decimal", "datetime",
         "json", "enumeration", "version"]
    )
    for name in farmorm.fields.__all__:
        assert callable(getattr(farmorm.fields, name))


def test_core_imports_no_database_library():
    import subprocess
    import sys

    code = (
        "import sys, farmorm, farmorm.query.parse, farmorm.query.writes, farmorm.core.cache;"
        "bad=[m for m in ('aiosqlite','asyncpg','aiomysql','pymongo','motor','sqlite3') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# ---------------------------------------------------------------------------------------------
# runtime detection

HINT = ("Pass a URL or a client farmorm supports (a pool, connection, engine or database of a library your app "
        "has imported: see docs/clients.md). First failing check: not an aiosqlite.Connection.")


@pytest.mark.parametrize("url", ["sqlite:///app.db", "sqlite:///:memory:", "sqlite+aiosqlite:///x.db", "SQLITE:///a.db"])
def test_detect_sqlite_urls(url):
    report = inspect_database_runtime(url)
    assert report.runtime == Detected("aiosqlite", url, "sqlite", "url")
    assert report.summary == "Detected aiosqlite (sqlite) runtime from url."
    assert report.hint is None
    assert report.constructor_name is None
    assert detect_database_runtime(url) == report.runtime
    assert require_database_runtime(url) == report.runtime


async def test_detect_aiosqlite_connection():
    conn = await aiosqlite.connect(":memory:")
    try:
        report = inspect_database_runtime(conn)
        assert report.runtime is not None
        assert (report.runtime.kind, report.runtime.dialect, report.runtime.source) == ("aiosqlite", "sqlite", "connection")
        assert report.runtime.client is conn
        assert report.summary == "Detected aiosqlite (sqlite) runtime from connection."
        assert report.hint is None
        assert report.constructor_name == "Connection"
        sqlite_candidate = next(c for c in report.candidates if c.kind == "aiosqlite")
        assert (sqlite_candidate.matched, sqlite_candidate.reasons) == (True, ())
    finally:
        await conn.close()


def test_detected_is_frozen():
    d = Detected("aiosqlite", "sqlite://", "sqlite", "url")
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.kind = "x"  # type: ignore[misc]


def test_inspect_failure_for_empty_dict():
    report = inspect_database_runtime({})
    assert report.runtime is None
    assert report.constructor_name is None
    assert report.summary == "Could not detect a supported runtime from the provided client."
    assert report.hint == HINT
    first = report.candidates[0]
    assert (first.kind, first.matched, first.reasons) == ("aiosqlite", False, ("not an aiosqlite.Connection",))
    assert all(not c.matched for c in report.candidates)
    assert detect_database_runtime({}) is None


def test_inspect_failure_for_arbitrary_object():
    class Foo:
        pass

    report = inspect_database_runtime(Foo())
    assert report.runtime is None
    assert report.constructor_name == "Foo"
    assert report.summary == 'Could not detect a supported runtime from constructor "Foo".'
    assert report.hint == HINT


def test_inspect_failure_for_none():
    report = inspect_database_runtime(None)
    assert report.summary == "Could not detect a supported runtime from the provided client."
    assert detect_database_runtime(None) is None


def test_require_database_runtime_raises_with_summary_and_hint():
    class Foo:
        pass

    with pytest.raises(ValueError) as e:
        require_database_runtime(Foo())
    assert str(e.value) == f'Could not detect a supported runtime from constructor "Foo". {HINT}'
    with pytest.raises(ValueError) as e:
        require_database_runtime({})
    assert str(e.value) == f"Could not detect a supported runtime from the provided client. {HINT}"


def test_unknown_url_scheme_not_detected_as_sqlite():
    report = inspect_database_runtime("redis://localhost")
    sqlite_candidate = report.candidates[0]
    assert (sqlite_candidate.kind, sqlite_candidate.matched, sqlite_candidate.reasons) == (
        "aiosqlite", False, ('URL scheme "redis" is not sqlite',),
    )
    assert report.runtime is None
