"""``as_=``: rows decoded straight into ``msgspec.Struct`` classes, on every backend.

A Struct holds exactly what the dict record holds (same values, same types); a Struct that cannot
hold the selection fails with VALIDATION_ERROR before any I/O.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec
import pytest

from farmorm import QueryValidationError, define_schema, has_many, model
from farmorm import fields as f

UTC = dt.timezone.utc

typed_schema = define_schema(
    user=model(
        table="typed_users",
        fields={
            "id": f.id(),
            "email": f.string().unique(),
            "name": f.string(),
            "age": f.integer().nullable(),
            "quota": f.bigint().default(0),
            "balance": f.decimal().nullable(),
            "active": f.boolean().default(True),
            "tier": f.enumeration(["free", "pro"]).default("free"),
            "prefs": f.json().nullable(),
            "joined_at": f.datetime().default_now(),
        },
        relations={"posts": has_many("post", foreign_key="user_id")},
    ),
    post=model(
        table="typed_posts",
        fields={"id": f.id(), "user_id": f.string().references("user.id"), "title": f.string()},
    ),
)


class Card(msgspec.Struct):
    """A hand-written Struct: a subset, in another order, with a defaulted field nobody selects."""

    name: str
    email: str
    nickname: str = "-"


class KwCard(msgspec.Struct, kw_only=True):
    email: str
    name: str


@pytest.fixture
async def orm(make_orm):
    orm = await make_orm(typed_schema)
    await orm.user.create_many(data=[
        {"email": "ada@example.com", "name": "Ada", "age": 36, "quota": 2**40, "balance": Decimal("12.50"),
         "tier": "pro", "prefs": {"theme": "dark", "langs": ["en", "fr"]},
         "joined_at": dt.datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)},
        {"email": "grace@example.com", "name": "Grace", "active": False},
    ])
    return orm


async def test_schema_struct_reads_the_same_values_as_dicts(orm):
    User = orm.schema.struct("user")
    dicts = await orm.user.find_many(order_by={"email": "asc"})
    typed = await orm.user.find_many(order_by={"email": "asc"}, as_=User)
    assert [type(u) for u in typed] == [User, User]
    assert [msgspec.structs.asdict(u) for u in typed] == dicts
    ada, grace = typed
    assert ada.quota == 2**40 and ada.balance == Decimal("12.50") and isinstance(ada.balance, Decimal)
    assert ada.prefs == {"theme": "dark", "langs": ["en", "fr"]}
    assert ada.joined_at.tzinfo is not None and ada.joined_at.utcoffset() == dt.timedelta(0)
    assert ada.tier == "pro" and ada.active is True
    assert grace.age is None and grace.balance is None and grace.prefs is None and grace.active is False


async def test_find_first_and_find_unique_with_as(orm):
    User = orm.schema.struct("user")
    first = await orm.user.find_first(where={"tier": "free"}, as_=User)
    assert isinstance(first, User) and first.name == "Grace"
    unique = await orm.user.find_unique(where={"email": "ada@example.com"}, as_=User)
    assert isinstance(unique, User) and unique.name == "Ada"
    assert await orm.user.find_unique(where={"email": "nobody@example.com"}, as_=User) is None
    assert await orm.user.find_first(where={"name": "Nobody"}, as_=User) is None


async def test_own_structs_with_select(orm):
    cards = await orm.user.find_many(select={"email": True, "name": True}, order_by={"name": "asc"}, as_=Card)
    assert cards == [Card("Ada", "ada@example.com"), Card("Grace", "grace@example.com")]
    kw = await orm.user.find_many(select={"name": True, "email": True}, order_by={"name": "desc"}, as_=KwCard)
    assert kw == [KwCard(email="grace@example.com", name="Grace"), KwCard(email="ada@example.com", name="Ada")]


async def test_as_must_fit_the_selection_before_any_io(orm, query_log):
    log = query_log(orm)
    User = orm.schema.struct("user")

    class Loose(msgspec.Struct):
        name: str
        age: int  # required, but not selected below

    cases = [
        (dict(as_=Card), 'as_=Card on model "user": the Struct has no field "id", which the query selects. '
                         "Add the field to the Struct, or leave it out of select."),
        (dict(as_=User, select={"name": True}),
         'as_=User on model "user": the Struct\'s required field "id" is not selected. '
         "Select it, or give the Struct field a default."),
        (dict(as_=Loose, select={"name": True}),
         'as_=Loose on model "user": the Struct\'s required field "age" is not selected. '
         "Select it, or give the Struct field a default."),
        (dict(as_=KwCard, select={"name": True, "email": True, "age": True}),
         'as_=KwCard on model "user": the Struct has no field "age", which the query selects. '
         "Add the field to the Struct, or leave it out of select."),
        (dict(as_=dict), 'as_ on model "user" expects a msgspec.Struct class (e.g. schema.struct("user")), '
                         "got <class 'dict'>."),
        (dict(as_=User, include={"posts": True}),
         'as_=User on model "user" reads scalar fields only; the query loads relations ("posts"). '
         "Drop them from select/include, or read dicts (no as_)."),
    ]
    for kwargs, message in cases:
        with pytest.raises(QueryValidationError) as info:
            await orm.user.find_many(**kwargs)
        assert info.value.code == "VALIDATION_ERROR"
        assert str(info.value) == message
    with pytest.raises(QueryValidationError):
        await orm.user.find_first(as_=Card)
    with pytest.raises(QueryValidationError):
        await orm.user.find_unique(where={"email": "ada@example.com"}, as_=Card)
    with pytest.raises(QueryValidationError):
        orm.user.stream(as_=Card)

    class Extra(msgspec.Struct):
        email: str
        shoe_size: int

    with pytest.raises(QueryValidationError, match='required field "shoe_size" is not a field of model "user"'):
        await orm.user.find_many(select={"email": True}, as_=Extra)
    assert log == []


async def test_a_struct_per_shape_is_built_once(orm):
    """The Struct builder is cached with the statement: a repeated typed read compiles nothing new."""
    User = orm.schema.struct("user")
    await orm.user.find_many(where={"name": "Ada"}, as_=User)
    size, misses = len(orm.plan_cache), orm.plan_cache.misses
    for name in ("Grace", "Nobody", "Ada"):
        await orm.user.find_many(where={"name": name}, as_=User)
    assert (len(orm.plan_cache), orm.plan_cache.misses) == (size, misses)


async def test_find_page_with_as(orm):
    """Pages of Structs carry the same cursors as pages of dicts, also when the order key is not selected."""
    await orm.user.create_many(data=[{"email": f"u{i}@example.com", "name": f"User {i:02d}"} for i in range(5)])

    class Mail(msgspec.Struct):
        email: str

    async def walk(as_):
        seen, after = [], None
        while True:
            page = await orm.user.find_page(order_by={"name": "asc"}, first=3, after=after,
                                            select={"email": True}, as_=as_)
            seen.append(page["items"])
            if not page["page"]["has_more"]:
                assert page["page"]["next_cursor"] is None
                return seen
            after = page["page"]["next_cursor"]

    typed, plain = await walk(Mail), await walk(None)
    assert [[m.email for m in items] for items in typed] == [[r["email"] for r in items] for items in plain]
    assert [len(items) for items in typed] == [3, 3, 1]
    assert all(type(m) is Mail for items in typed for m in items)
    with pytest.raises(QueryValidationError, match='the Struct has no field "id"'):
        await orm.user.find_page(first=2, as_=Mail)
