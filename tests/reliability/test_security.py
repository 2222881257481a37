"""T35-T42: hostile input on every backend.

Every vector either is refused with VALIDATION_ERROR **before any statement is sent** (checked
with ``orm.on_query``), or is stored and matched as a literal; nothing is ever executed as SQL
or as a Mongo operator. ``TRIED`` counts the bad inputs per backend for docs/reliability.md.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Awaitable, Callable

import pytest
from hypothesis import strategies as st

from farmorm import Orm, QueryValidationError, create_orm, define_schema, has_many, belongs_to, model
from farmorm import fields as f
from farmorm.core.errors import OrmError, UniqueConstraintViolation
from farmorm.query.parse import MAX_WHERE_DEPTH

from .test_fidelity import examples, fresh, raw, soak_run, statements  # noqa: F401 - fixtures

TRIED: dict[str, int] = {}

schema = define_schema(
    user=model(
        table="sec_users",
        soft_delete=True,
        fields={
            "id": f.id(),
            "username": f.string().unique(),
            "password": f.string(),
            "role": f.enumeration(["user", "admin"]).default("user"),
            "n": f.integer().default(0),
            "doc": f.json().nullable(),
            "key_doc": f.json().unique().nullable(),
            "v": f.version(),
        },
        relations={"posts": has_many("post", foreign_key="author_id")},
    ),
    post=model(
        table="sec_posts",
        fields={"id": f.id(), "author_id": f.string().references("user.id"), "title": f.string()},
        relations={"author": belongs_to("user", foreign_key="author_id")},
    ),
)

HOSTILE_NAMES = [
    'id; DROP TABLE sec_users--', 'name"; DROP TABLE t; --', "a`b", "a]b", "a[0]", "a.b", "a b", "a\x00b",
    "a\x1fb", "a\u202eb", "%(x)s", ":p", "?", "$1", "__class__", "x" * 10_000, "", "username ",
    "USERNAME", "usernаme",  # Cyrillic а: a look-alike of a declared field
    "per % cent", "par(ens)", "col:ons", "dot.s", "[BracketsAndCase]", "has spaces", "q?marks",
    "1param", "/slashes/", "percent%(ens)yah", "$where", "$ne", "_id", "password)--", "'", '"',
    "id' OR '1'='1",
]


def count(backend: str, n: int = 1) -> None:
    TRIED[backend] = TRIED.get(backend, 0) + n


async def refused(orm: Orm, backend: str, call: Callable[[], Awaitable[Any]]) -> QueryValidationError:
    """``call`` raises VALIDATION_ERROR and sends nothing."""
    log = statements(orm)
    with pytest.raises(QueryValidationError) as info:
        await call()
    assert log == [], log
    count(backend)
    return info.value


async def seeded(fresh: Any) -> Orm:
    orm: Orm = await fresh(schema)
    ada = await orm.user.create(data={"username": "ada", "password": "s3cr3t-Π"})
    await orm.post.create(data={"author_id": ada["id"], "title": "hello"})
    return orm


# --------------------------------------------------------------------------------------- T35


async def test_t35_identifier_injection_is_refused_before_io(fresh: Any, backend: str) -> None:
    orm = await seeded(fresh)
    ada = await orm.user.find_unique(where={"username": "ada"})
    assert ada is not None
    for name in HOSTILE_NAMES:
        calls: list[Callable[[], Awaitable[Any]]] = [
            lambda k=name: orm.user.find_many(where={k: "x"}),
            lambda k=name: orm.user.find_many(where={"OR": [{"username": "ada"}, {k: "x"}]}),
            lambda k=name: orm.user.find_many(where={"posts": {"some": {k: "x"}}}),
            lambda k=name: orm.user.find_many(select={k: True}),
            lambda k=name: orm.user.find_many(include={k: True}),
            lambda k=name: orm.user.find_many(order_by={k: "asc"}),
            lambda k=name: orm.user.find_many(order_by=[{"username": "asc"}, {k: "desc"}]),
            lambda k=name: orm.user.find_many(include={"posts": {"order_by": {k: "asc"}}}),
            lambda k=name: orm.user.create(data={"username": "eve", "password": "p", k: "x"}),
            lambda k=name: orm.user.create_many(data=[{"username": "eve", "password": "p", k: "x"}]),
            lambda k=name: orm.user.update(where={"id": ada["id"]}, data={k: "x"}),
            lambda k=name: orm.user.update_many(where={"username": "ada"}, data={k: "x"}),
            lambda k=name: orm.user.upsert(where={"username": "ada"}, create={"password": "p", k: 1}, update={}),
            lambda k=name: orm.user.upsert(where={"username": "ada"}, create={"password": "p"}, update={k: 1}),
            lambda k=name: orm.user.count(where={k: {"eq": 1}}),
            lambda k=name: orm.user.delete_many(where={k: "x"}),
            lambda k=name: orm.user.find_unique(where={k: "x"}),
        ]
        for call in calls:
            err = await refused(orm, backend, call)
            assert 'model "user"' in str(err) or 'model "post"' in str(err), str(err)
    # nothing changed
    assert [u["username"] for u in await orm.user.find_many()] == ["ada"]
    assert await orm.post.count() == 1


async def test_t35_random_names_are_refused(fresh: Any, backend: str, request: pytest.FixtureRequest) -> None:
    """Hypothesis text() as field names in where, select, order_by and update data."""
    orm = await seeded(fresh)
    declared = set(schema.models["user"].fields) | set(schema.models["user"].relations) | {"AND", "OR", "NOT"}
    n = 500 if soak_run(request.config) else 40
    names = [x for x in examples(st.text(max_size=40), n, soak=soak_run(request.config)) if x not in declared]
    assert names
    for name in names:
        await refused(orm, backend, lambda k=name: orm.user.find_many(where={k: 1}))
        await refused(orm, backend, lambda k=name: orm.user.find_many(select={k: True}))
        await refused(orm, backend, lambda k=name: orm.user.find_many(order_by={k: "asc"}))
        await refused(orm, backend, lambda k=name: orm.user.update_many(where={"username": "ada"}, data={k: 1}))
    assert await orm.user.count() == 1


@pytest.mark.soak
async def test_soak_t35_random_names(fresh: Any, backend: str, request: pytest.FixtureRequest) -> None:
    await test_t35_random_names_are_refused(fresh, backend, request)


async def test_t35_hostile_operator_names_are_refused(fresh: Any, backend: str) -> None:
    orm = await seeded(fresh)
    for op in ("$ne", "$where", "$regex", "like", "eq; DROP", "EQ", "in ", "$gt", "__eq__", "raw", "sql"):
        err = await refused(orm, backend, lambda o=op: orm.user.find_many(where={"username": {o: "x"}}))
        assert "operator" in str(err).lower()
    for key in ("and", "Or", "$or", "$and", "NOT ", "$nor"):
        await refused(orm, backend, lambda k=key: orm.user.find_many(where={k: [{"username": "ada"}]}))


# --------------------------------------------------------------------------------------- T36


async def test_t36_order_direction_take_and_skip(fresh: Any, backend: str) -> None:
    orm = await seeded(fresh)
    for direction in ("DESC; DELETE FROM sec_users", "desc ", "ASC NULLS FIRST; --", "DESC", "Asc", "", None,
                      1, -1, True, ["asc"], {"asc": 1}, "ascending"):
        err = await refused(orm, backend, lambda d=direction: orm.user.find_many(order_by={"username": d}))
        assert 'Use "asc" or "desc"' in str(err)
    for bad in ("1; DROP TABLE sec_users", -1, True, False, 2**63, 1.5, "10", b"1", [1], float("inf")):
        await refused(orm, backend, lambda v=bad: orm.user.find_many(take=v))
        await refused(orm, backend, lambda v=bad: orm.user.find_many(skip=v))
        await refused(orm, backend, lambda v=bad: orm.user.find_many(include={"posts": {"take": v}}))
    # the largest legal values work on every backend
    assert len(await orm.user.find_many(take=2**63 - 1)) == 1
    assert await orm.user.find_many(skip=2**63 - 1) == []
    assert await orm.user.count() == 1


# --------------------------------------------------------------------------------------- T37


JSON_KEYS = ["it's", 'a"b', "a.b", "a[0]", "$", "*", "**", "\\", "--", "'||(SELECT 1)||'", "' OR '1'='1",
             "", "ключ", "😀", "$where", "$ne", "a.$b"]


async def test_t37_json_keys_and_operator_shaped_json_are_literals(fresh: Any, backend: str) -> None:
    """There are no JSON path filters; a JSON value (whatever its keys) is compared as a whole literal."""
    orm = await seeded(fresh)
    ids = {}
    for i, key in enumerate(JSON_KEYS):
        rec = await orm.user.create(data={"username": f"j{i}", "password": "p", "doc": {key: 1}})
        ids[key] = rec["id"]
    nested = await orm.user.create(data={"username": "nested", "password": "p", "doc": {"a": {"b": 1}}})
    for key in JSON_KEYS:
        found = await orm.user.find_many(where={"doc": {key: 1}}, select={"id": True})
        assert found == [{"id": ids[key]}], key
        again = await orm.user.find_unique(where={"id": ids[key]})
        assert again is not None and again["doc"] == {key: 1}
        count(backend)
    # {"a.b": 1} is not {"a": {"b": 1}}
    assert await orm.user.find_many(where={"doc": {"a": {"b": 1}}}, select={"id": True}) == [{"id": nested["id"]}]
    # an operator-shaped JSON filter is a literal: it matches only a stored literal, never "all non-null"
    for shaped in ({"$ne": None}, {"$gt": ""}, {"$where": "sleep(100)"}, {"$exists": True}, {"$regex": ".*"}):
        assert await orm.user.count(where={"doc": shaped}) == 0
        count(backend)
    assert await orm.user.count(where={"doc": {"$ne": 1}}) == 1  # the record created with key "$ne"


# --------------------------------------------------------------------------------------- T38

CANARIES = ["' OR 1=1 --", "\\'; DROP TABLE sec_users; --", "%", "_", "\\", "%s", "%(x)s", "$1", "?", "*",
            "[a]", "\\x00", "ʼ OR 1=1 --", "' OR ''='", "\"", "`", ";", "/*", "*/", ".*", "^", "$"]


async def test_t38_value_canaries_match_literally_in_every_operation(fresh: Any, backend: str) -> None:
    orm = await seeded(fresh)
    for i, canary in enumerate(CANARIES):
        rec = await orm.user.create(data={"username": canary, "password": canary})
        assert rec["username"] == canary
        assert await orm.user.count(where={"username": canary}) == 1
        assert await orm.user.count(where={"username": {"in": [canary, "nobody"]}}) == 1
        assert await orm.user.count(where={"password": {"not": canary}}) == await orm.user.count() - 1
        names = [u["username"] for u in await orm.user.find_many()]
        for op, test in (("contains", str.__contains__), ("starts_with", str.startswith), ("ends_with", str.endswith)):
            expected = len([name for name in names if test(name, canary)])
            assert await orm.user.count(where={"username": {op: canary}}) == expected, (op, canary)
        updated = await orm.user.update(where={"username": canary}, data={"password": canary + "!"})
        assert updated is not None and updated["password"] == canary + "!"
        up = await orm.user.upsert(where={"username": canary}, create={"password": "x"}, update={"n": i})
        assert up["username"] == canary and up["n"] == i
        # a payload filter that matches nothing deletes nothing
        assert await orm.user.delete_many(where={"username": canary + " OR 1=1"}) == 0
        assert await orm.user.delete_many(where={"password": {"contains": canary + "\x01"}}) == 0
        count(backend, 10)
    assert await orm.user.count() == 1 + len(CANARIES)
    assert await orm.post.count() == 1
    assert sorted(u["username"] for u in await orm.user.find_many()) == sorted(["ada", *CANARIES])


async def test_t38_mysql_pins_its_own_sql_mode(fresh: Any, backend: str) -> None:
    """PyMySQL escapes with backslashes: farmorm's sessions must not run with NO_BACKSLASH_ESCAPES."""
    if backend != "mysql":
        pytest.skip("MySQL-only: client-side escaping")
    orm = await seeded(fresh)
    mode = (await raw(orm, "SELECT @@SESSION.sql_mode", kind="rows")).rows[0][0]
    assert "NO_BACKSLASH_ESCAPES" not in mode and "ANSI_QUOTES" not in mode


async def test_t38_app_pool_with_hostile_session_modes(rig: Any, backend: str) -> None:
    """An app's aiomysql pool whose sessions start with NO_BACKSLASH_ESCAPES, ANSI_QUOTES and utf8
    (mb3): farmorm re-pins sql_mode and utf8mb4 on each connection, so escaping stays correct."""
    if backend != "mysql":
        pytest.skip("MySQL-only: client-side escaping")
    from urllib.parse import urlsplit

    import aiomysql

    from farmorm.setup import push_schema

    url = urlsplit(await rig.database_url())
    pool = await aiomysql.create_pool(
        host=url.hostname or "127.0.0.1", port=url.port or 3306, user=url.username or "root",
        password=url.password or "", db=url.path.lstrip("/"), charset="utf8", autocommit=True, maxsize=2,
        init_command="SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES'",
    )
    try:
        orm = await create_orm(schema, pool)
        await push_schema(schema, orm)
        mode = (await raw(orm, "SELECT @@SESSION.sql_mode, @@character_set_client", kind="rows")).rows[0]
        assert "NO_BACKSLASH_ESCAPES" not in mode[0] and "ANSI_QUOTES" not in mode[0] and mode[1] == "utf8mb4"
        for canary in CANARIES + ["😀 \\' --"]:
            rec = await orm.user.create(data={"username": canary, "password": canary})
            assert rec["username"] == canary
            assert await orm.user.count(where={"username": canary}) == 1
            assert await orm.user.count(where={"username": {"contains": canary}}) >= 1
            count(backend, 3)
        assert await orm.user.count() == len(CANARIES) + 1
        await orm.close()
    finally:
        pool.close()
        await pool.wait_closed()


# --------------------------------------------------------------------------------------- T39


async def test_t39_operator_shaped_values_never_become_operators(fresh: Any, backend: str) -> None:
    orm = await seeded(fresh)
    payloads: list[Any] = [{"$ne": None}, {"$gt": ""}, {"$regex": ".*"}, {"$where": "sleep(100)"},
                           {"$expr": {"$eq": [1, 1]}}, {"$function": {"body": "x", "args": [], "lang": "js"}},
                           ["$ne"], {"$in": ["ada"]}]
    for p in payloads:
        # the login bypass: find_first(username=u, password={"$ne": None})
        await refused(orm, backend, lambda v=p: orm.user.find_first(where={"username": "ada", "password": v}))
        await refused(orm, backend, lambda v=p: orm.user.find_many(where={"password": {"eq": v}}))
        await refused(orm, backend, lambda v=p: orm.user.find_many(where={"password": {"in": [v]}}))
        await refused(orm, backend, lambda v=p: orm.user.create(data={"username": "eve", "password": v}))
        await refused(orm, backend, lambda v=p: orm.user.update_many(where={"username": "ada"}, data={"password": v}))
        await refused(orm, backend, lambda v=p: orm.user.update_many(where={"username": "ada"}, data={"n": v}))
    # document keys that are operators or paths are not fields
    for key in ("$set", "$where", "a.b", "$id", "_id", "$inc"):
        await refused(orm, backend, lambda k=key: orm.user.create(data={"username": "eve", "password": "p", k: 1}))
        await refused(orm, backend, lambda k=key: orm.user.update_many(where={"username": "ada"}, data={k: {"x": 1}}))
    ada = await orm.user.find_unique(where={"username": "ada"})
    assert ada is not None and ada["password"] == "s3cr3t-Π" and ada["n"] == 0


async def test_t39_json_update_payloads_are_data(fresh: Any, backend: str) -> None:
    orm = await seeded(fresh)
    other = await orm.user.create(data={"username": "bob", "password": "p", "key_doc": {"k": 1}})
    # a JSON value shaped like an update operator is stored as data
    rec = await orm.user.update(where={"username": "bob"}, data={"doc": {"k": 2, "nested": {"$inc": {"n": 1}}}})
    assert rec is not None and rec["doc"] == {"k": 2, "nested": {"$inc": {"n": 1}}} and rec["n"] == 0
    # an upsert whose unique JSON lookup looks like {"$ne": None} must not match (and update) bob
    attempt = orm.user.upsert(where={"key_doc": {"$ne": None}}, create={"username": "mallory", "password": "p"},
                              update={"password": "HIJACKED"})
    if orm.driver.kind == "mongomock":
        # mongomock checks unique indexes with a query, so it reads the literal as an operator and
        # refuses the insert; a real server stores it (the filter is {"doc": {"$eq": ...}})
        with pytest.raises(UniqueConstraintViolation):
            await attempt
    else:
        created = await attempt
        assert created["username"] == "mallory" and created["key_doc"] == {"$ne": None}
    bob = await orm.user.find_unique(where={"id": other["id"]})
    assert bob is not None and bob["password"] == "p"
    count(backend, 2)


FORBIDDEN_MONGO_OPERATORS = {"$where", "$function", "$accumulator", "$expr"}


def mongo_template_problems(template: Any, in_filter: bool, path: str = "") -> list[str]:
    """Operators no farmorm query may contain, and user values placed where Mongo would read them
    as an operator document (a param slot directly under a field name of a filter)."""
    from farmorm_drivers.mongo.compiler import P

    problems: list[str] = []
    if isinstance(template, dict):
        for key, value in template.items():
            if key in FORBIDDEN_MONGO_OPERATORS:
                problems.append(f"{path}.{key}")
            bare = isinstance(value, P) and not str(key).startswith("$")
            if in_filter and bare and "_regex" not in getattr(value.encode, "__qualname__", ""):
                problems.append(f"{path}.{key} = {value!r} (a value where Mongo reads operators)")
            problems += mongo_template_problems(value, in_filter, f"{path}.{key}")
    elif isinstance(template, (list, tuple)):
        for i, item in enumerate(template):
            problems += mongo_template_problems(item, in_filter, f"{path}[{i}]")
    return problems


async def test_t39_compiled_mongo_commands_wrap_every_value_in_an_operator(fresh: Any, backend: str) -> None:
    """Every compiled filter: scalar equality is {field: {"$eq": value}}, and $where / $function /
    $accumulator / $expr never appear (they cannot be produced from the DSL at all)."""
    if backend != "mongo":
        pytest.skip("MongoDB commands")
    orm = await seeded(fresh)
    ada = await orm.user.find_unique(where={"username": "ada"})
    assert ada is not None
    await orm.user.find_many(where={"username": "ada", "password": {"not": "x"}, "n": {"gt": 0, "in": [1, 2]},
                                    "doc": {"a": 1}, "OR": [{"role": "admin"}, {"NOT": {"username": {"contains": "x"}}}]})
    await orm.user.find_many(where={"username": {"eq": "ADA", "mode": "insensitive"}, "posts": {"some": {"title": "t"}}})
    await orm.user.update(where={"id": ada["id"]}, data={"doc": {"$inc": {"n": 1}}})
    await orm.user.update_many(where={"key_doc": {"$ne": None}}, data={"n": 1})
    await orm.user.upsert(where={"username": "ada"}, create={"password": "p"}, update={"n": 2})
    await orm.user.delete_many(where={"username": {"in": ["nobody"]}, "doc": {"$where": "1"}})
    await orm.user.count(where={"doc": {"not": {"$gt": ""}}})
    plans = list(orm.plan_cache._data.values())
    assert len(plans) >= 8
    for plan in plans:
        cmd = plan.compiled
        problems = mongo_template_problems(cmd.filter, True, "filter")
        problems += mongo_template_problems(cmd.update, False, "update")
        assert problems == [], (cmd, problems)
    count(backend, len(plans))


# --------------------------------------------------------------------------------------- T40


async def test_t40_mass_assignment_of_protected_fields(fresh: Any, backend: str) -> None:
    orm = await seeded(fresh)
    ada = await orm.user.find_unique(where={"username": "ada"})
    assert ada is not None
    cases = [
        ({"id": "hijack"}, "identity"),
        ({"v": 99}, "version field"),
        ({"deleted_at": None}, "managed by delete() and restore()"),
        ({"deleted_at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)}, "managed by delete() and restore()"),
        ({"is_admin": True}, 'Unknown field "is_admin"'),
        ({"_id": "x"}, 'Unknown field "_id"'),
        ({"posts": []}, 'Relation "posts" on model "user"'),  # update: not a nested operation; elsewhere: no nesting
    ]
    for data, words in cases:
        for call in (lambda d=data: orm.user.update(where={"id": ada["id"]}, data=d),
                     lambda d=data: orm.user.update_many(where={"username": "ada"}, data=d),
                     lambda d=data: orm.user.upsert(where={"username": "ada"}, create={"password": "p"}, update=d)):
            err = await refused(orm, backend, call)
            assert words in str(err) and 'model "user"' in str(err), str(err)
            assert err.meta["model"] == "user" and err.meta["field"] == next(iter(data))
    hidden = {"deleted_at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)}  # a record born soft-deleted
    for data in ({"v": 5}, {"is_admin": True}, {"_id": "x"}, hidden):
        await refused(orm, backend, lambda d=data: orm.user.create(data={"username": "eve", "password": "p", **d}))
        await refused(orm, backend, lambda d=data: orm.user.create_many(data=[{"username": "eve", "password": "p", **d}]))
        await refused(orm, backend, lambda d=data: orm.user.upsert(where={"username": "eve"},
                                                                  create={"password": "p", **d}, update={}))
    # a role outside the enumeration is refused; the record is untouched
    await refused(orm, backend, lambda: orm.user.update(where={"id": ada["id"]}, data={"role": "root"}))
    after = await orm.user.find_unique(where={"id": ada["id"]})
    assert after == ada


# --------------------------------------------------------------------------------------- T41

SECRET = "4111111111111111"


async def test_t41_errors_and_query_events_never_carry_values(fresh: Any, backend: str,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    orm = await seeded(fresh)
    events: list[Any] = []
    orm.on_query(events.append)
    caplog.set_level(logging.DEBUG, logger="farmorm")
    await orm.user.create(data={"username": f"card={SECRET}", "password": SECRET})
    with pytest.raises(UniqueConstraintViolation) as info:
        await orm.user.create(data={"username": f"card={SECRET}", "password": SECRET})
    err = info.value
    for text in (str(err), repr(err), str(dict(err.meta))):
        assert SECRET not in text, text
    assert err.code == "UNIQUE_CONSTRAINT_VIOLATION" and err.meta["target"] == ["username"]
    assert err.__cause__ is not None  # the native error stays reachable for operators
    for event in events:
        assert SECRET not in repr(event)
    assert events[-1].error_code == "UNIQUE_CONSTRAINT_VIOLATION"
    for record in caplog.records:
        assert SECRET not in record.getMessage()
    # validation errors name the field, not the value
    for bad in ({"password": 12345678}, {"n": SECRET}):
        verr = await refused(orm, backend, lambda d=bad: orm.user.update_many(where={"username": "ada"}, data=d))
        assert SECRET not in str(verr) and "12345678" not in str(verr)


async def test_t41_connection_errors_do_not_show_the_password(backend: str) -> None:
    if backend in ("sqlite", "mongo"):
        pytest.skip(f"{backend}: no password in the URL here (mongomock / a file)")
    secret = "s3cr3t-Pw"
    url = {"postgres": f"postgresql://postgres:{secret}@127.0.0.1:1/nowhere",
           "mysql": f"mysql://root:{secret}@127.0.0.1:1/nowhere"}[backend]
    with pytest.raises(OrmError) as info:
        orm = await create_orm(schema, url)
        try:
            await orm.user.count()
        finally:
            await orm.close()
    assert info.value.code == "CONNECTION_ERROR"
    for text in (str(info.value), repr(info.value), str(dict(info.value.meta))):
        assert secret not in text, text
    count(backend)


# --------------------------------------------------------------------------------------- T42


def nested(depth: int, kind: str) -> dict[str, Any]:
    where: dict[str, Any] = {"username": "ada"}
    for i in range(depth):
        where = {"AND": [where]} if kind == "AND" else {"OR": [where]} if kind == "OR" else \
            {"NOT": where} if kind == "NOT" else ({"NOT": where} if i % 2 else {"AND": [where]})
    return where


async def test_t42_pathological_queries(fresh: Any, backend: str) -> None:
    orm = await seeded(fresh)
    for kind in ("AND", "OR", "NOT", "mixed"):
        for depth in (MAX_WHERE_DEPTH, 1_000, 100_000):
            err = await refused(orm, backend, lambda d=depth, k=kind: orm.user.count(where=nested(d, k)))
            assert f"nests deeper than {MAX_WHERE_DEPTH} levels" in str(err)
        assert await orm.user.count(where=nested(MAX_WHERE_DEPTH - 2, kind)) in (0, 1)
    not_chain: dict[str, Any] = {"eq": "ada"}
    for _ in range(1_000):
        not_chain = {"not": not_chain}
    await refused(orm, backend, lambda: orm.user.count(where={"username": not_chain}))
    relation_chain: dict[str, Any] = {"username": "ada"}
    for i in range(200):
        relation_chain = {"posts": {"some": {"author": relation_chain}}} if i % 2 else relation_chain
    await refused(orm, backend, lambda: orm.user.count(where=relation_chain))
    # 10 000 OR terms: a flat list, compiled as a balanced tree (SQLite refuses depth > 1000)
    many = {"OR": [{"username": f"u{i}"} for i in range(10_000)] + [{"username": "ada"}]}
    assert await orm.user.count(where=many) == 1
    many_and = {"AND": [{"username": {"not": f"u{i}"}} for i in range(5_000)]}
    assert await orm.user.count(where=many_and) == 1
    # a 1 MB value, and LIKE / regex metacharacters in bulk, match literally and quickly
    assert await orm.user.count(where={"username": "x" * 1_000_000}) == 0
    assert await orm.user.count(where={"username": {"contains": "%" * 10_000}}) == 0
    assert await orm.user.count(where={"username": {"contains": "(a+)+$" * 1_000}}) == 0
    # take within int64 is fine; beyond it is refused (T36)
    assert len(await orm.user.find_many(take=2**63 - 1, where={"OR": [{"username": "ada"}] * 100})) == 1
    count(backend, 6)


def test_figures_are_collected() -> None:
    """Print the bad-input counts docs/reliability.md quotes (run with -s)."""
    for key in sorted(TRIED):
        print(f"bad inputs tried on {key}: {TRIED[key]}")
