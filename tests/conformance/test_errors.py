"""Errors: native constraint violations (normalized) and every VALIDATION_ERROR message, with proof
that nothing was written and, for bad input, that no statement ran."""

from __future__ import annotations

import datetime as dt

import pytest

from farmorm import errors
from tests.conformance.auth import ADA_EMAIL, GRACE_EMAIL, lookup

UTC = dt.timezone.utc
MODELS = ("user", "profile", "session", "account", "organization", "member")


async def state(orm):
    """Every row of every model, ordered: equal before and after means nothing was written."""
    return {m: await getattr(orm, m).find_many(order_by={"id": "asc"}) for m in MODELS}


async def rejects(orm, query_log, call, message):
    """``call()`` raises VALIDATION_ERROR with exactly ``message``, runs no statement, writes nothing."""
    before = await state(orm)
    log = query_log(orm)
    start = len(log)
    with pytest.raises(errors.QueryValidationError) as info:
        await call()
    ran = log[start:]
    assert ran == [], f"statements ran before the validation error: {ran}"
    err = info.value
    assert err.code == "VALIDATION_ERROR"
    assert errors.is_orm_error(err)
    assert str(err) == message
    assert await state(orm) == before
    return err


def enforces_foreign_keys(orm):
    # No capability names this; MongoDB has no foreign keys (RELIABILITY §6: "n/a"), SQL backends do.
    return orm.driver.dialect is not None


def require_fks(orm):
    if not enforces_foreign_keys(orm):
        pytest.skip("backend does not enforce foreign keys")


async def native(orm, call, cls, code):
    """``call()`` raises the normalized native error ``cls``; nothing is written."""
    before = await state(orm)
    with pytest.raises(cls) as info:
        await call()
    err = info.value
    assert err.code == code
    assert errors.is_orm_error(err) and isinstance(err, errors.OrmError)
    assert err.backend_kind == orm.driver.kind
    assert err.dialect == orm.driver.dialect
    assert err.retryable is False
    assert err.__cause__ is not None and not isinstance(err.__cause__, errors.OrmError)
    runtime = f"{orm.driver.kind} ({orm.driver.dialect})" if orm.driver.dialect else orm.driver.kind
    assert str(err).startswith(f"{errors.DESCRIPTIONS[code]} in {runtime} runtime: ")
    assert await state(orm) == before
    return err


# -------------------------------------------------------------------------- unique violations


async def test_unique_violation_on_create(auth_orm):
    await native(
        auth_orm, lambda: auth_orm.user.create(data={"email": ADA_EMAIL, "name": "Dup"}),
        errors.UniqueConstraintViolation, "UNIQUE_CONSTRAINT_VIOLATION",
    )


async def test_unique_violation_on_compound_unique(auth_orm):
    seeded = await lookup(auth_orm)
    data = {"user_id": seeded["ada"]["id"], "organization_id": seeded["acme"]["id"], "role": "again"}
    await native(auth_orm, lambda: auth_orm.member.create(data=data),
                 errors.UniqueConstraintViolation, "UNIQUE_CONSTRAINT_VIOLATION")


async def test_unique_violation_on_update(auth_orm):
    await native(
        auth_orm, lambda: auth_orm.user.update(where={"email": GRACE_EMAIL}, data={"email": ADA_EMAIL}),
        errors.UniqueConstraintViolation, "UNIQUE_CONSTRAINT_VIOLATION",
    )


async def test_unique_violation_on_update_many(auth_orm):
    await native(
        auth_orm, lambda: auth_orm.organization.update_many(where={"slug": {"contains": "a"}}, data={"slug": "same"}),
        errors.UniqueConstraintViolation, "UNIQUE_CONSTRAINT_VIOLATION",
    )


async def test_unique_violation_inside_create_many_writes_nothing(auth_orm):
    rows = [{"email": f"n{i}@example.com", "name": f"N{i}"} for i in range(5)]
    rows.append({"email": "n1@example.com", "name": "dup"})
    await native(auth_orm, lambda: auth_orm.user.create_many(data=rows),
                 errors.UniqueConstraintViolation, "UNIQUE_CONSTRAINT_VIOLATION")


async def test_unique_violation_against_existing_row_in_create_many_writes_nothing(auth_orm):
    rows = [{"email": "a@example.com", "name": "A"}, {"email": GRACE_EMAIL, "name": "dup"},
            {"email": "b@example.com", "name": "B"}]
    await native(auth_orm, lambda: auth_orm.user.create_many(data=rows),
                 errors.UniqueConstraintViolation, "UNIQUE_CONSTRAINT_VIOLATION")


async def test_unique_violation_can_be_caught_as_orm_error(auth_orm):
    with pytest.raises(errors.OrmError) as info:
        await auth_orm.session.create(
            data={"user_id": (await lookup(auth_orm))["ada"]["id"], "token": "session-1",
                  "expires_at": dt.datetime(2026, 1, 1, tzinfo=UTC)}
        )
    assert info.value.code == "UNIQUE_CONSTRAINT_VIOLATION"
    assert await auth_orm.session.count() == 3


# --------------------------------------------------------------------------- foreign keys


async def test_foreign_key_violation_on_create(auth_orm):
    require_fks(auth_orm)
    data = {"user_id": "no-such-user", "token": "t", "expires_at": dt.datetime(2026, 1, 1, tzinfo=UTC)}
    await native(auth_orm, lambda: auth_orm.session.create(data=data),
                 errors.ForeignKeyViolation, "FOREIGN_KEY_VIOLATION")


async def test_foreign_key_violation_on_update(auth_orm):
    require_fks(auth_orm)
    await native(
        auth_orm, lambda: auth_orm.session.update(where={"token": "session-1"}, data={"user_id": "no-such-user"}),
        errors.ForeignKeyViolation, "FOREIGN_KEY_VIOLATION",
    )


async def test_foreign_key_violation_on_deleting_a_referenced_row(auth_orm):
    require_fks(auth_orm)
    await native(auth_orm, lambda: auth_orm.user.delete(where={"email": GRACE_EMAIL}),
                 errors.ForeignKeyViolation, "FOREIGN_KEY_VIOLATION")


async def test_foreign_key_violation_on_delete_many(auth_orm):
    require_fks(auth_orm)
    await native(auth_orm, lambda: auth_orm.organization.delete_many(where={"slug": {"in": ["acme"]}}),
                 errors.ForeignKeyViolation, "FOREIGN_KEY_VIOLATION")


# ------------------------------------------------------------------------------ bad input
# Each case: (id, call(orm), exact message). ``rejects`` also proves no statement ran and nothing
# was written.


def case(id_, call, message):
    return pytest.param(call, message, id=id_)


def unknown_field(name, model="user"):
    return f'Unknown field "{name}" on model "{model}".'


UNKNOWN_NAMES = [
    case("where", lambda o: o.user.find_many(where={"nope": 1}), unknown_field("nope")),
    case("where-nested", lambda o: o.user.count(where={"OR": [{"name": "Ada"}, {"NOT": {"nope": 1}}]}),
         unknown_field("nope")),
    case("create-data", lambda o: o.user.create(data={"email": "x@example.com", "name": "X", "nope": 1}),
         unknown_field("nope")),
    case("update-data", lambda o: o.user.update(where={"email": ADA_EMAIL}, data={"nickname": "A"}),
         unknown_field("nickname")),
    case("update-many-data", lambda o: o.user.update_many(where={"tier": "free"}, data={"nickname": "A"}),
         unknown_field("nickname")),
    case("upsert-update", lambda o: o.user.upsert(where={"email": ADA_EMAIL}, create={"name": "A"},
                                                  update={"nickname": "A"}), unknown_field("nickname")),
    case("order-by", lambda o: o.user.find_many(order_by={"nope": "asc"}), unknown_field("nope")),
    case("order-by-list-injection",
         lambda o: o.user.find_many(order_by=[{"name": "asc"}, {"name; DROP TABLE users": "asc"}]),
         unknown_field("name; DROP TABLE users")),
    case("select", lambda o: o.user.find_many(select={"name": True, "nope": True}), unknown_field("nope")),
    case("nested-select", lambda o: o.user.find_many(select={"sessions": {"select": {"nope": True}}}),
         unknown_field("nope", "session")),
    case("nested-where", lambda o: o.user.find_many(include={"sessions": {"where": {"nope": 1}}}),
         unknown_field("nope", "session")),
    case("relation-filter", lambda o: o.user.find_many(where={"sessions": {"some": {"nope": 1}}}),
         unknown_field("nope", "session")),
    case("to-one-relation-filter", lambda o: o.user.find_many(where={"profile": {"is": {"nope": 1}}}),
         unknown_field("nope", "profile")),
    case("include", lambda o: o.user.find_many(include={"posts": True}), 'Unknown relation "posts" on model "user".'),
    case("nested-select-unknown-key",
         lambda o: o.user.find_many(select={"sessions": {"select": {"device": {"select": {}}}}}),
         unknown_field("device", "session")),
    case("relation-filter-relation", lambda o: o.user.find_many(where={"posts": {"some": {"title": "x"}}}),
         'Unknown relation "posts" on model "user".'),
]


@pytest.mark.parametrize(("call", "message"), UNKNOWN_NAMES)
async def test_unknown_names_are_refused(auth_orm, query_log, call, message):
    await rejects(auth_orm, query_log, lambda: call(auth_orm), message)


def unsupported(op, field, kind):
    return f'Operator "{op}" is not supported for field "{field}" ({kind}) on model "user".'


OPERATORS = [
    case("unknown", lambda o: o.user.find_many(where={"name": {"foo": "x"}}),
         'Unknown operator "foo" for field "name" on model "user".'),
    case("unknown-next-to-known", lambda o: o.user.find_many(where={"name": {"eq": "Ada", "$ne": None}}),
         'Unknown operator "$ne" for field "name" on model "user".'),
    case("contains-integer", lambda o: o.user.find_many(where={"login_count": {"contains": "1"}}),
         unsupported("contains", "login_count", "integer")),
    case("starts-with-bigint", lambda o: o.user.find_many(where={"quota": {"starts_with": "9"}}),
         unsupported("starts_with", "quota", "bigint")),
    case("contains-datetime", lambda o: o.user.count(where={"created_at": {"contains": "2026"}}),
         unsupported("contains", "created_at", "datetime")),
    case("ends-with-boolean", lambda o: o.user.find_first(where={"email_verified": {"ends_with": "e"}}),
         unsupported("ends_with", "email_verified", "boolean")),
]


@pytest.mark.parametrize(("call", "message"), OPERATORS)
async def test_bad_operators_are_refused(auth_orm, query_log, call, message):
    await rejects(auth_orm, query_log, lambda: call(auth_orm), message)


def expected_int(got):
    return f'Invalid value for field "login_count" on model "user": expected integer, got {got}.'


def naive(field, model):
    return f'Invalid value for field "{field}" on model "{model}": datetime must be timezone-aware.'


NAIVE = dt.datetime(2026, 1, 1, 12, 0)
ENUM_MESSAGE = 'Invalid value "gold" for enum field "tier" on model "user". Expected one of: free, pro, enterprise.'

BAD_VALUES = [
    case("type-in-where", lambda o: o.user.find_many(where={"login_count": "3"}), expected_int("str")),
    case("type-in-in-list", lambda o: o.user.count(where={"login_count": {"in": [1, "2"]}}), expected_int("str")),
    case("type-in-create", lambda o: o.user.create(data={"email": "x@example.com", "name": "X", "login_count": "3"}),
         expected_int("str")),
    case("bool-is-not-int", lambda o: o.user.update(where={"email": ADA_EMAIL}, data={"login_count": True}),
         expected_int("bool")),
    case("type-in-create-many",
         lambda o: o.user.create_many(data=[{"email": "a@example.com", "name": "A"},
                                            {"email": "b@example.com", "name": "B", "login_count": "x"}]),
         expected_int("str")),
    case("naive-create", lambda o: o.user.create(data={"email": "x@example.com", "name": "X", "created_at": NAIVE}),
         naive("created_at", "user")),
    case("naive-where", lambda o: o.session.find_many(where={"expires_at": {"gt": NAIVE}}),
         naive("expires_at", "session")),
    case("naive-update-many", lambda o: o.session.update_many(where={"token": "session-1"}, data={"expires_at": NAIVE}),
         naive("expires_at", "session")),
    case("enum-create", lambda o: o.user.create(data={"email": "x@example.com", "name": "X", "tier": "gold"}),
         ENUM_MESSAGE),
    case("enum-update", lambda o: o.user.update(where={"email": ADA_EMAIL}, data={"tier": "gold"}), ENUM_MESSAGE),
    case("enum-update-many", lambda o: o.user.update_many(where={"tier": "free"}, data={"tier": "gold"}), ENUM_MESSAGE),
    case("enum-upsert", lambda o: o.user.upsert(where={"email": "x@example.com"}, create={"name": "X", "tier": "gold"},
                                                update={}), ENUM_MESSAGE),
    case("null-create", lambda o: o.user.create(data={"email": "x@example.com", "name": None}),
         'Field "name" on model "user" cannot be null.'),
    case("null-update", lambda o: o.user.update(where={"email": ADA_EMAIL}, data={"name": None}),
         'Field "name" on model "user" cannot be null.'),
    case("null-defaulted", lambda o: o.user.create(data={"email": "x@example.com", "name": "X", "login_count": None}),
         'Field "login_count" on model "user" cannot be null.'),
    case("missing-required", lambda o: o.user.create(data={"name": "No Email"}),
         'Missing required field "email" on model "user".'),
    case("missing-in-create-many",
         lambda o: o.user.create_many(data=[{"email": "a@example.com", "name": "A"}, {"name": "No Email"}]),
         'Missing required field "email" on model "user".'),
]


@pytest.mark.parametrize(("call", "message"), BAD_VALUES)
async def test_bad_values_are_refused(auth_orm, query_log, call, message):
    await rejects(auth_orm, query_log, lambda: call(auth_orm), message)


async def test_out_of_range_integers_are_validation_errors(auth_orm):
    before = await state(auth_orm)
    for call in (
        lambda: auth_orm.user.create(data={"email": "x@example.com", "name": "X", "login_count": 2**31}),
        lambda: auth_orm.user.update(where={"email": ADA_EMAIL}, data={"quota": 2**63}),
        lambda: auth_orm.user.update(where={"email": ADA_EMAIL}, data={"quota": -(2**63) - 1}),
    ):
        with pytest.raises(errors.QueryValidationError) as info:
            await call()
        assert info.value.code == "VALIDATION_ERROR"
    assert await state(auth_orm) == before


PAGING = [
    case("order-direction", lambda o: o.user.find_many(order_by={"name": "up"}),
         'Invalid order direction "up" for field "name" on model "user". Use "asc" or "desc".'),
    case("order-direction-in-list", lambda o: o.user.find_many(order_by=[{"name": "asc"}, {"tier": "DOWN"}]),
         'Invalid order direction "DOWN" for field "tier" on model "user". Use "asc" or "desc".'),
    case("take", lambda o: o.user.find_many(take=-1),
         'Invalid take on model "user": expected a non-negative integer, got -1.'),
    case("skip", lambda o: o.user.find_first(skip=-1),
         'Invalid skip on model "user": expected a non-negative integer, got -1.'),
    case("nested-take", lambda o: o.user.find_many(include={"sessions": {"take": -2}}),
         'Invalid take on model "session": expected a non-negative integer, got -2.'),
]


@pytest.mark.parametrize(("call", "message"), PAGING)
async def test_bad_ordering_and_paging_are_refused(auth_orm, query_log, call, message):
    await rejects(auth_orm, query_log, lambda: call(auth_orm), message)


# --------------------------------------------------------------------------- unique lookups


FU_EMPTY = 'FindUnique on model "{m}" requires a unique equality filter in "where".'
FU_FIELD = 'FindUnique on model "{m}" requires the "where" field "{f}" to use a single non-null equality value.'
FU_SHAPE = ('FindUnique on model "{m}" requires the "where" clause to match an id field, unique field, '
            "or declared unique constraint using equality values only.")


@pytest.mark.parametrize(
    ("model", "where", "message"),
    [
        ("user", {}, FU_EMPTY.format(m="user")),
        ("user", {"OR": [{"email": ADA_EMAIL}]}, FU_EMPTY.format(m="user")),
        ("user", {"AND": [{"email": ADA_EMAIL}]}, FU_EMPTY.format(m="user")),
        ("user", {"email": {"contains": "ada"}}, FU_FIELD.format(m="user", f="email")),
        ("user", {"email": None}, FU_FIELD.format(m="user", f="email")),
        ("user", {"email": {"in": [ADA_EMAIL]}}, FU_FIELD.format(m="user", f="email")),
        ("user", {"email": {"eq": None}}, FU_FIELD.format(m="user", f="email")),
        ("user", {"name": "Ada"}, FU_SHAPE.format(m="user")),
        ("user", {"id": "x", "email": ADA_EMAIL}, FU_SHAPE.format(m="user")),
        ("account", {"provider": "github"}, FU_SHAPE.format(m="account")),
        ("member", {"role": "owner", "user_id": "x"}, FU_SHAPE.format(m="member")),
    ],
)
async def test_find_unique_requires_a_unique_lookup(auth_orm, query_log, model, where, message):
    await rejects(auth_orm, query_log, lambda: getattr(auth_orm, model).find_unique(where=where), message)


def upsert_msg(template, **kw):
    return template.format(**kw).replace("FindUnique", "Upsert")


UPSERTS = [
    case("empty-where", lambda o: o.user.upsert(where={}, create={"email": "x@example.com", "name": "X"}, update={}),
         upsert_msg(FU_EMPTY, m="user")),
    case("not-unique", lambda o: o.user.upsert(where={"name": "Ada"}, create={"email": "x@example.com", "name": "Ada"},
                                               update={"login_count": 1}), upsert_msg(FU_SHAPE, m="user")),
    case("not-equality", lambda o: o.user.upsert(where={"email": {"starts_with": "a"}}, create={"name": "X"},
                                                 update={}), upsert_msg(FU_FIELD, m="user", f="email")),
    case("create-mismatch", lambda o: o.user.upsert(where={"email": "x@example.com"},
                                                    create={"email": "y@example.com", "name": "Y"}, update={}),
         'Upsert on model "user" requires create.email to match where.email.'),
    case("compound-create-mismatch",
         lambda o: o.account.upsert(where={"provider": "github", "account_id": "gh_new"},
                                    create={"user_id": "x", "provider": "gitlab", "account_id": "gh_new"}, update={}),
         'Upsert on model "account" requires create.provider to match where.provider.'),
    case("update-changes-conflict-field",
         lambda o: o.user.upsert(where={"email": ADA_EMAIL}, create={"name": "A"}, update={"email": "new@example.com"}),
         'Upsert on model "user" cannot change the conflict field "email".'),
    case("update-changes-compound-conflict-field",
         lambda o: o.account.upsert(where={"provider": "github", "account_id": "gh_ada"}, create={"user_id": "x"},
                                    update={"account_id": "gh_other"}),
         'Upsert on model "account" cannot change the conflict field "account_id".'),
]


@pytest.mark.parametrize(("call", "message"), UPSERTS)
async def test_upsert_rules(auth_orm, query_log, call, message):
    await rejects(auth_orm, query_log, lambda: call(auth_orm), message)


# ------------------------------------------------------------------------ where-less bulk writes


@pytest.mark.parametrize(
    ("call", "message"),
    [
        case("update-many", lambda o: o.user.update_many(where={}, data={"name": "X"}),
             'Update on model "user" requires a where clause.'),
        case("delete-many", lambda o: o.session.delete_many(where={}),
             'Delete on model "session" requires a where clause.'),
    ],
)
async def test_bulk_writes_require_a_where_clause(auth_orm, query_log, call, message):
    await rejects(auth_orm, query_log, lambda: call(auth_orm), message)


async def test_validation_error_is_an_orm_error_and_not_retryable(auth_orm, query_log):
    err = await rejects(auth_orm, query_log, lambda: auth_orm.user.find_many(where={"nope": 1}), unknown_field("nope"))
    assert err.retryable is False
    assert isinstance(err, errors.OrmError) and isinstance(err, errors.QueryValidationError)
