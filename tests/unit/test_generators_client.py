"""``render_client``: the typed module's shape (required and optional keys, what each input holds),
determinism, refused name clashes, the static view matching the runtime ``ModelClient``, and
``TypedClient(orm)``'s schema check and zero-wrapping identity."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import os
import subprocess
import sys
import typing
from pathlib import Path
from types import ModuleType

import pytest

from farmorm import ModelClient, SchemaError, create_orm, define_schema, model
from farmorm import fields as f
from farmorm.generators.client import render_client
from farmorm import typed as typed_module
from farmorm.typed import Archives, SoftDeletes

from ..typing.schema import schema


def load(text: str, folder: Path, name: str) -> ModuleType:
    path = folder / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # TypedDicts resolve their forward references through the module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return load(render_client(schema), tmp_path_factory.mktemp("client"), "farmorm_test_db_types")


def test_deterministic() -> None:
    from ..typing import schema as again

    assert render_client(schema) == render_client(again.schema)
    text = render_client(schema)
    assert text == render_client(schema)
    assert text.splitlines()[0].startswith('"""Typed client of the farmorm schema (models: user, post, profile).')


def test_deterministic_across_hash_seeds() -> None:
    """The same text whatever PYTHONHASHSEED is (no set or hash order leaks into it)."""

    code = ("from tests.typing.schema import schema, more; from farmorm.generators.client import render_client; "
            "import sys; sys.stdout.write(render_client(schema) + render_client(more))")
    root = Path(__file__).resolve().parents[2]
    outs = {subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(outs) == 1


def test_create_data_requires_what_has_no_default(db: ModuleType) -> None:
    # required: not nullable, no default, not generated; version and deleted_at are not data at all
    assert db.UserCreate.__required_keys__ == {"email", "name"}
    assert db.UserCreate.__optional_keys__ == {"id", "tier", "mood", "age", "login_count", "balance", "prefs",
                                               "bio", "joined_at", "posts", "profile"}  # + nested writes
    # a required foreign key comes as the field or through its belongs_to relation, never both
    assert typing.get_args(db.PostCreate) == (db.PostCreateWithAuthorId, db.PostCreateWithAuthor)
    assert db.PostCreateWithAuthorId.__required_keys__ == {"author_id", "title"}
    assert db.PostCreateWithAuthor.__required_keys__ == {"author", "title"}
    assert "author_id" not in db.PostCreateWithAuthor.__annotations__
    assert "id" in db.PostCreateWithAuthorId.__optional_keys__  # an increment id may be given
    assert "archived_at" not in db.PostCreateWithAuthorId.__annotations__
    # created inside user.posts: the nesting sets author_id, so neither it nor "author" is data
    assert db.PostCreateWithoutAuthorId.__required_keys__ == {"title"}
    assert not {"author_id", "author"} & set(db.PostCreateWithoutAuthorId.__annotations__)


def test_update_data_leaves_out_managed_fields(db: ModuleType) -> None:
    keys = set(db.UserUpdate.__annotations__)
    assert not keys & {"id", "version", "deleted_at", "profile"}  # nested writes in update: to-many only
    assert "posts" in keys and set(db.UserPostsNestedUpdate.__annotations__) == {
        "create", "connect", "connect_or_create", "disconnect", "set", "update", "update_many", "delete",
        "delete_many", "upsert"}
    assert db.UserUpdate.__required_keys__ == frozenset()
    assert {"email", "name", "tier", "bio", "joined_at"} <= keys


def test_records_where_and_inputs(db: ModuleType) -> None:
    # relations and relation counts only when asked for
    assert db.UserRecord.__optional_keys__ == {"posts", "profile", "_count"}
    assert "_count" not in db.PostRecord.__annotations__  # no to-many relation, nothing to count
    assert set(db.UserCountSelect.__annotations__) == {"posts"}
    assert set(db.UserOrderBy.__annotations__) == {*schema.models["user"].fields, "posts", "profile"}
    assert "version" in db.UserRecord.__required_keys__ and "deleted_at" in db.UserRecord.__required_keys__
    assert db.UserPartial.__required_keys__ == frozenset()
    where = set(db.UserWhere.__annotations__)
    assert {"AND", "OR", "NOT", "posts", "profile", "tier", "mood"} <= where
    assert set(db.UserInclude.__annotations__) == {"posts", "profile", "_count"}
    assert set(db.PostListFilter.__annotations__) == {"some", "every", "none"}
    assert set(db.UserRefFilter.__annotations__) == {"is", "is_not"}
    assert typing.get_args(db.UserTier) == ("free", "pro")
    assert set(db.UserTierCaseFilter.__annotations__) >= {"eq", "not", "in", "not_in", "contains", "mode"}
    assert "mode" not in db.UserTierRangeFilter.__annotations__ and "gt" in db.UserTierRangeFilter.__annotations__
    assert typing.get_args(db.UserTierFilter) == (db.UserTierCaseFilter, db.UserTierRangeFilter)
    # the unique where: one choice per unique key (the id, each unique field, the compound unique)
    assert typing.get_args(db.PostWhereUnique) == (db.PostUniqueById, db.PostUniqueByAuthorIdTitle)
    assert db.PostUniqueByAuthorIdTitle.__required_keys__ == {"author_id", "title"}
    assert db.STRUCTS["user"] is db.User and list(db.User.__struct_fields__[:2]) == ["id", "email"]


def test_aggregate_inputs(db: ModuleType) -> None:
    assert set(db.UserSumInput.__annotations__) == {"age", "login_count", "balance", "version"}
    assert set(db.UserMinMaxInput.__annotations__) == {"id", "email", "name", "age", "login_count", "balance", "bio",
                                                       "joined_at", "version", "deleted_at"}
    assert set(db.UserCountInput.__annotations__) == {"_all", *schema.models["user"].fields}
    assert typing.get_args(db.PostGroupField) == ("id", "author_id", "title", "published", "score", "archived_at")
    assert {"count", "sum", "AND", "tier"} <= set(db.UserHaving.__annotations__)
    assert db.UserAggregateResult.__required_keys__ == frozenset()


def test_lifecycle_methods_only_where_the_model_has_the_option(db: ModuleType) -> None:
    assert SoftDeletes in _protocol_bases(db.UserClient) and Archives not in _protocol_bases(db.UserClient)
    assert Archives in _protocol_bases(db.PostClient) and SoftDeletes not in _protocol_bases(db.PostClient)
    assert not {SoftDeletes, Archives} & set(_protocol_bases(db.ProfileClient))


def _protocol_bases(cls: type) -> list[type]:
    return [typing.get_origin(b) or b for b in getattr(cls, "__orig_bases__", ())]


def test_name_clashes_are_refused() -> None:
    clash = define_schema(
        user=model(table="u", fields={"id": f.id()}),
        user_record=model(table="ur", fields={"id": f.id()}),
    )
    with pytest.raises(ValueError, match='models "user" and "user_record" both map to the name "UserRecord"'):
        render_client(clash)
    reserved = define_schema(typed_orm=model(table="t", fields={"id": f.id()}))
    with pytest.raises(ValueError, match='model "typed_orm" map to the name "TypedOrm"'):
        render_client(reserved)


def test_field_names_a_class_body_cannot_hold(tmp_path: Path) -> None:
    odd = define_schema(thing=model(table="things", fields={"id": f.id(), "__secret": f.string().nullable()}))
    module = load(render_client(odd), tmp_path, "farmorm_test_odd_types")
    assert "__secret" in module.ThingWhere.__annotations__  # functional form: no name mangling
    assert "__secret" in module.ThingCreate.__optional_keys__


# -- the static view against the runtime ModelClient ---------------------------------------------
def _static_methods() -> dict[str, list[dict[str, object]]]:
    """Method name -> per declaration (each overload) its keyword-only parameters and their
    defaults, read from farmorm/typed.py's source (an overload leaves no signature at run time)."""
    tree = ast.parse(Path(typed_module.__file__ or "").read_text(encoding="utf-8"))
    out: dict[str, list[dict[str, object]]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name in ("TypedModelClient", "Aggregates", "SoftDeletes", "Archives"):
            for fn in node.body:
                if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and not fn.name.startswith("_"):
                    assert not fn.args.args[1:] and fn.args.vararg is None and fn.args.kwarg is None, fn.name
                    params = {a.arg: (ast.literal_eval(d) if d is not None else inspect.Parameter.empty)
                              for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults)}
                    out.setdefault(fn.name, []).append(params)
    return out


def test_typed_protocol_matches_model_client() -> None:
    """Every method the protocols declare exists on ModelClient with the same keyword parameters and
    defaults (the overloads only narrow their types), and every public ModelClient method is declared."""
    static = _static_methods()
    runtime = {name for name in dir(ModelClient) if not name.startswith("_") and callable(getattr(ModelClient, name))}
    assert set(static) == runtime, (set(static) ^ runtime)
    for name, variants in static.items():
        real = inspect.signature(getattr(ModelClient, name))
        real_params = {p.name: p for p in real.parameters.values() if p.name != "self"}
        assert all(p.kind == inspect.Parameter.KEYWORD_ONLY for p in real_params.values()), name
        for params in variants:
            assert set(params) == set(real_params), (name, set(params) ^ set(real_params))
            for pname, default in params.items():
                # an overload may make a parameter required (as_=) or pin it to None; otherwise same default
                if default not in (inspect.Parameter.empty, None):
                    assert default == real_params[pname].default, (name, pname)


async def test_typed_orm_mirrors_the_orm() -> None:
    """What TypedOrm offers besides the model clients is the Orm's own API: every name exists on a
    real Orm (a method, a property or a feature's client), methods with the same parameters."""
    from farmorm import Orm
    from farmorm.typed import TypedOrm

    featured = define_schema(thing=model(table="things", fields={"id": f.id()}), outbox=True, idempotency=True)
    orm = await create_orm(featured, "sqlite:///:memory:")
    try:
        for name, member in vars(TypedOrm).items():
            if name.startswith("_") or name in ("orm", "schema_hashes"):
                continue
            assert hasattr(orm, name), name
            real = getattr(Orm, name, None)
            if inspect.isfunction(member) and inspect.isfunction(real):
                assert list(inspect.signature(member).parameters) == list(inspect.signature(real).parameters), name
    finally:
        await orm.close()
    for name in ("transaction", "batch", "on_commit", "on_query", "primary", "close", "raw", "outbox", "idempotency",
                 "driver", "schema", "plan_cache"):
        assert name in vars(TypedOrm), name


# -- TypedClient(orm) ----------------------------------------------------------------------------
async def test_typed_client_is_the_orm_seen_through_types(db: ModuleType) -> None:
    orm = await create_orm(schema, "sqlite:///:memory:")
    try:
        client = db.TypedClient(orm)
        assert client.user is orm.user and client.post is orm.post  # the same ModelClient: no wrapper
        assert isinstance(client.user, ModelClient)
        assert client.orm is orm and client.schema is schema and client.driver is orm.driver
        assert db.TypedClient(orm).profile is orm.profile
    finally:
        await orm.close()


async def test_typed_client_refuses_another_schema(db: ModuleType) -> None:
    changed = define_schema(**{name: schema.definitions[name] for name in ("post", "profile")},
                            user=model(table="tc_users", fields={**schema.definitions["user"].fields,
                                                                 "nickname": f.string().nullable()},
                                       relations=schema.definitions["user"].relations, soft_delete=True))
    orm = await create_orm(changed, "sqlite:///:memory:")
    try:
        with pytest.raises(SchemaError, match=r'older version of model "user".*farmorm generate client'):
            db.TypedClient(orm)
    finally:
        await orm.close()
    fewer = define_schema(user=schema.definitions["user"], post=schema.definitions["post"],
                          profile=schema.definitions["profile"],
                          extra=model(table="extra", fields={"id": f.id()}))
    orm = await create_orm(fewer, "sqlite:///:memory:")
    try:
        with pytest.raises(SchemaError, match="generated without model\\(s\\) 'extra'"):
            db.TypedClient(orm)
    finally:
        await orm.close()
