"""Schema DSL: field builders, modifiers, table names, define_schema validation and the manifest."""

from __future__ import annotations

import pytest

from farmorm import (
    SchemaError,
    belongs_to,
    define_schema,
    has_many,
    has_one,
    many_to_many,
    merge_schemas,
    model,
    table_name,
)
from farmorm import fields as f
from farmorm.schema import MISSING, FieldBuilder, TableName
from farmorm.schema.definition import RelationDef

# ---------------------------------------------------------------------------------------------
# field builders


@pytest.mark.parametrize(
    ("builder", "kind"),
    [
        (f.string, "string"),
        (f.boolean, "boolean"),
        (f.integer, "integer"),
        (f.bigint, "bigint"),
        (f.decimal, "decimal"),
        (f.datetime, "datetime"),
        (f.json, "json"),
    ],
)
def test_plain_builders(builder, kind):
    b = builder()
    assert isinstance(b, FieldBuilder)
    assert b.kind == kind
    assert b.id_type is None
    assert b.generated is None
    assert b.is_nullable is False
    assert b.is_unique is False
    assert b.default_value is MISSING
    assert b.reference is None
    assert b.column is None
    assert b.description is None
    assert b.enum_values is None


def test_id_default_is_generated_string_and_unique():
    b = f.id()
    assert (b.kind, b.id_type, b.generated, b.is_unique) == ("id", "string", "id", True)
    assert f.id(type="string") == b


def test_id_integer_manual_and_increment():
    manual = f.id(type="integer")
    assert (manual.kind, manual.id_type, manual.generated, manual.is_unique) == ("id", "integer", None, True)
    inc = f.id(type="integer", generated="increment")
    assert (inc.kind, inc.id_type, inc.generated, inc.is_unique) == ("id", "integer", "increment", True)


def test_numeric_id_is_alias_of_integer_id():
    assert f.numeric_id() == f.id(type="integer")
    assert f.numeric_id(generated="increment") == f.id(type="integer", generated="increment")


def test_id_errors():
    with pytest.raises(SchemaError) as e:
        f.id(type="string", generated="increment")
    assert str(e.value) == 'id(type="string") ids are generated client-side; drop generated=.'
    with pytest.raises(SchemaError) as e:
        f.id(type="uuid")  # type: ignore[arg-type]
    assert str(e.value) == "id() type must be \"string\" or \"integer\", got 'uuid'."
    with pytest.raises(SchemaError) as e:
        f.id(type="integer", generated="now")  # type: ignore[arg-type]
    assert str(e.value) == "id() generated must be \"increment\" or None, got 'now'."


def test_enumeration_builder():
    b = f.enumeration(["free", "pro"])
    assert b.kind == "enum"
    assert b.enum_values == ("free", "pro")


@pytest.mark.parametrize("values", [[], ["a", ""], ["a", 3]])
def test_enumeration_non_empty_strings(values):
    with pytest.raises(SchemaError) as e:
        f.enumeration(values)
    assert str(e.value) == "enumeration() values must be non-empty strings."


def test_enumeration_unique_values():
    with pytest.raises(SchemaError) as e:
        f.enumeration(["a", "b", "a"])
    assert str(e.value) == "enumeration() values must be unique."


# ---------------------------------------------------------------------------------------------
# modifiers: each returns a new builder, the original unchanged


def _default_fn():
    return "x"


@pytest.mark.parametrize(
    ("apply", "attr", "expected"),
    [
        (lambda b: b.unique(), "is_unique", True),
        (lambda b: b.nullable(), "is_nullable", True),
        (lambda b: b.default("hello"), "default_value", "hello"),
        (lambda b: b.default(_default_fn), "default_value", _default_fn),
        (lambda b: b.references("user.id"), "reference", "user.id"),
        (lambda b: b.map("user_id"), "column", "user_id"),
        (lambda b: b.map("  user_id  "), "column", "user_id"),
        (lambda b: b.describe("The owner"), "description", "The owner"),
    ],
)
def test_modifier_returns_new_builder(apply, attr, expected):
    original = f.string()
    snapshot = FieldBuilder("string")
    changed = apply(original)
    assert changed is not original
    assert getattr(changed, attr) == expected
    assert original == snapshot  # untouched
    assert getattr(original, attr) != expected


def test_default_now_modifier():
    original = f.datetime()
    changed = original.default_now()
    assert changed is not original
    assert changed.generated == "now"
    assert original.generated is None


def test_default_now_only_on_datetime():
    with pytest.raises(SchemaError) as e:
        f.string().default_now()
    assert str(e.value) == "default_now() applies to datetime fields only."


def test_modifiers_chain_and_keep_each_other():
    b = f.string().unique().nullable().map("mail").describe("d").default("a@b")
    assert (b.is_unique, b.is_nullable, b.column, b.description, b.default_value) == (True, True, "mail", "d", "a@b")
    assert b.kind == "string"


def test_builders_are_frozen():
    b = f.string()
    with pytest.raises(AttributeError):
        b.is_unique = True  # type: ignore[misc]


@pytest.mark.parametrize("target", ["user", "user.id.x", ".id", "user.", 3])
def test_references_requires_model_dot_field(target):
    with pytest.raises(SchemaError) as e:
        f.string().references(target)
    assert str(e.value) == f'references() expects "model.field", got {target!r}.'


@pytest.mark.parametrize("column", ["", "   "])
def test_map_requires_column(column):
    with pytest.raises(SchemaError) as e:
        f.string().map(column)
    assert str(e.value) == "map() requires a non-empty column name."


# ---------------------------------------------------------------------------------------------
# table_name


def test_table_name_trims_and_is_frozen():
    t = table_name("  users ", schema=" auth ")
    assert t == TableName("users", "auth")
    assert table_name("users") == TableName("users", None)
    with pytest.raises(AttributeError):
        t.name = "x"  # type: ignore[misc]


@pytest.mark.parametrize("name", ["", "   "])
def test_table_name_requires_name(name):
    with pytest.raises(SchemaError) as e:
        table_name(name)
    assert str(e.value) == "table_name() requires a non-empty table name."


def test_table_name_rejects_dotted_table():
    with pytest.raises(SchemaError) as e:
        table_name("auth.users")
    assert str(e.value) == (
        'table_name() table name values cannot contain ".". Pass the table name and schema separately.'
    )


def test_table_name_rejects_dotted_schema():
    with pytest.raises(SchemaError) as e:
        table_name("users", schema="a.b")
    assert str(e.value) == (
        'table_name() schema name values cannot contain ".". Pass the table name and schema separately.'
    )


def test_table_name_rejects_blank_schema():
    with pytest.raises(SchemaError) as e:
        table_name("users", schema="  ")
    assert str(e.value) == "table_name() requires a non-empty schema name when one is given."


def test_dotted_table_string_rejected_by_define_schema():
    with pytest.raises(SchemaError) as e:
        define_schema(user=model(table="auth.users", fields={"id": f.id()}))
    assert str(e.value) == (
        'Schema-qualified table strings are not supported. Use table_name("users", schema="auth") instead.'
    )


def test_schema_error_is_value_error():
    assert issubclass(SchemaError, ValueError)


# ---------------------------------------------------------------------------------------------
# model()


def test_model_requires_fields():
    with pytest.raises(SchemaError) as e:
        model(table="t", fields={})
    assert str(e.value) == "model() requires at least one field."


def test_model_fields_must_be_builders():
    with pytest.raises(SchemaError) as e:
        model(table="t", fields={"id": "string"})  # type: ignore[dict-item]
    assert str(e.value) == 'Field "id" must be built with a farmorm.fields builder.'


def test_model_constraints_keys():
    with pytest.raises(SchemaError) as e:
        model(table="t", fields={"id": f.id()}, constraints={"uniq": [["id"]]})
    assert str(e.value) == "model() constraints accept \"unique\" and \"indexes\", got ['uniq']."


def test_relation_helpers():
    assert belongs_to("user", foreign_key="user_id") == RelationDef("belongs_to", "user", foreign_key="user_id")
    assert has_one("profile", foreign_key="user_id") == RelationDef("has_one", "profile", foreign_key="user_id")
    assert has_many("post", foreign_key="user_id") == RelationDef("has_many", "post", foreign_key="user_id")
    assert many_to_many("tag", through="user_tag", from_="user_id", to="tag_id") == RelationDef(
        "many_to_many", "tag", through="user_tag", from_="user_id", to="tag_id"
    )


# ---------------------------------------------------------------------------------------------
# define_schema validation


def _err(**models) -> str:
    with pytest.raises(SchemaError) as e:
        define_schema(**models)
    return str(e.value)


def test_unknown_relation_target():
    msg = _err(user=model(table="users", fields={"id": f.id()},
                          relations={"posts": has_many("post", foreign_key="user_id")}))
    assert msg == 'Relation "user.posts" targets unknown model "post".'


def test_reference_to_unknown_model():
    msg = _err(post=model(table="posts", fields={"id": f.id(), "user_id": f.string().references("user.id")}))
    assert msg == 'Field "post.user_id" references unknown model "user".'


def test_reference_to_unknown_field():
    msg = _err(
        user=model(table="users", fields={"id": f.id()}),
        post=model(table="posts", fields={"id": f.id(), "user_id": f.string().references("user.uid")}),
    )
    assert msg == 'Field "post.user_id" references unknown field "user.uid".'


def test_unique_constraint_on_unknown_field():
    msg = _err(m=model(table="m", fields={"id": f.id()}, constraints={"unique": [["id", "f"]]}))
    assert msg == 'Model "m" defines a unique constraint on unknown field "f".'


def test_index_on_unknown_field():
    msg = _err(m=model(table="m", fields={"id": f.id()}, constraints={"indexes": [["f"]]}))
    assert msg == 'Model "m" defines an index on unknown field "f".'


def test_empty_unique_constraint():
    msg = _err(m=model(table="m", fields={"id": f.id()}, constraints={"unique": [[]]}))
    assert msg == 'Model "m" defines an empty unique constraint.'


def test_empty_index():
    msg = _err(m=model(table="m", fields={"id": f.id()}, constraints={"indexes": [[]]}))
    assert msg == 'Model "m" defines an empty index.'


def test_duplicate_column():
    msg = _err(m=model(table="m", fields={"id": f.id(), "a": f.string().map("x"), "b": f.string().map("x")}))
    assert msg == 'Model "m" maps fields "a" and "b" to the same column "x".'


def test_mapped_column_colliding_with_field_name():
    msg = _err(m=model(table="m", fields={"id": f.id(), "user_id": f.string(), "owner": f.string().map("user_id")}))
    assert msg == 'Model "m" maps fields "user_id" and "owner" to the same column "user_id".'


@pytest.mark.parametrize("name", ["transaction", "driver", "batch", "close", "schema", "plan_cache", "on_query"])
def test_model_name_colliding_with_client_attribute(name):
    msg = _err(**{name: model(table="t", fields={"id": f.id()})})
    assert msg == f'Model name "{name}" collides with the ORM client attribute orm.{name}. Rename the model.'


def test_every_public_client_attribute_is_reserved():
    from farmorm.runtime.orm import Orm
    from farmorm.schema.manifest import RESERVED_MODEL_NAMES

    public = {a for a in dir(Orm) if not a.startswith("_")}
    assert public <= RESERVED_MODEL_NAMES


def test_relation_named_like_a_field():
    msg = _err(
        user=model(table="users", fields={"id": f.id(), "posts": f.string()},
                   relations={"posts": has_many("post", foreign_key="user_id")}),
        post=model(table="posts", fields={"id": f.id(), "user_id": f.string()}),
    )
    assert msg == 'Model "user" uses "posts" as both a field and a relation.'


def test_invalid_enum_default():
    msg = _err(user=model(table="users", fields={"id": f.id(), "tier": f.enumeration(["free", "pro"]).default("enterprise")}))
    assert msg == 'Invalid default value "enterprise" for enum field "user.tier". Expected one of: free, pro.'


def test_callable_enum_default_is_not_checked_at_definition():
    s = define_schema(user=model(table="users", fields={"id": f.id(), "tier": f.enumeration(["free"]).default(lambda: "x")}))
    assert callable(s.models["user"].fields["tier"].default)


def test_unknown_belongs_to_foreign_key():
    msg = _err(
        user=model(table="users", fields={"id": f.id()}),
        post=model(table="posts", fields={"id": f.id()}, relations={"author": belongs_to("user", foreign_key="user_id")}),
    )
    assert msg == 'Relation "post.author" uses unknown foreign key field "post.user_id".'


def test_unknown_has_many_foreign_key():
    msg = _err(
        user=model(table="users", fields={"id": f.id()}, relations={"posts": has_many("post", foreign_key="owner")}),
        post=model(table="posts", fields={"id": f.id()}),
    )
    assert msg == 'Relation "user.posts" uses unknown foreign key field "post.owner".'


def test_unknown_through_model():
    msg = _err(
        user=model(table="users", fields={"id": f.id()},
                   relations={"tags": many_to_many("tag", through="user_tag", from_="user_id", to="tag_id")}),
        tag=model(table="tags", fields={"id": f.id()}),
    )
    assert msg == 'Relation "user.tags" goes through unknown model "user_tag".'


def test_unknown_join_field():
    msg = _err(
        user=model(table="users", fields={"id": f.id()},
                   relations={"tags": many_to_many("tag", through="user_tag", from_="user_id", to="tag")}),
        tag=model(table="tags", fields={"id": f.id()}),
        user_tag=model(table="user_tags", fields={"id": f.id(), "user_id": f.string(), "tag_id": f.string()}),
    )
    assert msg == 'Relation "user.tags" uses unknown join field "user_tag.tag".'


def test_two_models_on_one_table():
    msg = _err(a=model(table="t", fields={"id": f.id()}), b=model(table="t", fields={"id": f.id()}))
    assert msg == 'Models "a" and "b" both use table "t".'


def test_more_than_one_id():
    msg = _err(m=model(table="m", fields={"id": f.id(), "other": f.id()}))
    assert msg == 'Model "m" declares more than one id field: id, other.'


def test_reserved_field_names():
    msg = _err(m=model(table="m", fields={"id": f.id(), "OR": f.string()}))
    assert msg == 'Model "m" field name "OR" is reserved for where clauses.'
    msg = _err(m=model(table="m", fields={"id": f.id(), "class": f.string()}))
    assert msg == "Model \"m\" field name 'class' must be a Python identifier."


def test_model_name_must_be_identifier():
    msg = _err(**{"_hidden": model(table="t", fields={"id": f.id()})})
    assert msg == 'Model name "_hidden" must be a Python identifier not starting with "_".'


def test_define_schema_requires_models():
    assert _err() == "define_schema() requires at least one model."


def test_define_schema_requires_model_defs():
    assert _err(user={"table": "users"}) == 'Model "user" must be built with model(...).'


# ---------------------------------------------------------------------------------------------
# merge_schemas


def test_merge_schemas():
    a = define_schema(user=model(table="users", fields={"id": f.id()}))
    b = define_schema(post=model(table="posts", fields={"id": f.id(), "user_id": f.string()}))
    merged = merge_schemas(a, b)
    assert list(merged.models) == ["user", "post"]
    assert merged.models["post"].qualified_table == "posts"


def test_merge_schemas_keeps_definitions_and_revalidates():
    a_def = model(table="users", fields={"id": f.id()})
    a = define_schema(user=a_def)
    b = define_schema(person=model(table="users", fields={"id": f.id()}))
    assert merge_schemas(a).definitions["user"] is a_def
    with pytest.raises(SchemaError) as e:
        merge_schemas(a, b)
    assert str(e.value) == 'Models "user" and "person" both use table "users".'


def test_merge_schemas_duplicate_model():
    a = define_schema(user=model(table="users", fields={"id": f.id()}))
    b = define_schema(user=model(table="people", fields={"id": f.id()}))
    with pytest.raises(SchemaError) as e:
        merge_schemas(a, b)
    assert str(e.value) == 'Duplicate model "user" detected while merging schemas.'


# ---------------------------------------------------------------------------------------------
# manifest


@pytest.fixture(scope="module")
def auth_schema():
    return define_schema(
        user=model(
            table="users",
            fields={
                "id": f.id(),
                "email": f.string().unique(),
                "name": f.string().nullable().describe("Display name"),
                "login_count": f.integer().default(0).map("logins"),
                "tier": f.enumeration(["free", "pro"]).default("free"),
                "created_at": f.datetime().default_now(),
            },
            relations={
                "sessions": has_many("session", foreign_key="user_id"),
                "profile": has_one("profile", foreign_key="user_id"),
                "organizations": many_to_many("organization", through="member", from_="user_id", to="organization_id"),
            },
            constraints={"indexes": [["created_at"]]},
            description="A person",
        ),
        session=model(
            table=table_name("sessions", schema="auth"),
            fields={"id": f.id(), "token": f.string().unique(), "user_id": f.string().references("user.id").map("user_ref")},
            relations={"user": belongs_to("user", foreign_key="user_id")},
        ),
        profile=model(
            table="profiles",
            fields={"id": f.id(), "user_id": f.string().unique().references("user.id")},
            relations={"user": belongs_to("user", foreign_key="user_id")},
        ),
        organization=model(table="organizations", fields={"id": f.id(), "slug": f.string().unique()},
                           relations={"members": has_many("member", foreign_key="organization_id")}),
        member=model(
            table="members",
            fields={
                "id": f.id(),
                "userId": f.string().references("user.id"),
                "organizationId": f.string().references("organization.id"),
                "user_id": f.string().map("uid"),
                "organization_id": f.string().map("oid"),
            },
            constraints={"unique": [["userId", "organizationId"]], "indexes": [["user_id", "organization_id"]]},
        ),
    )


def test_manifest_fields(auth_schema):
    user = auth_schema.models["user"]
    assert list(user.fields) == ["id", "email", "name", "login_count", "tier", "created_at"]
    lc = user.fields["login_count"]
    assert (lc.name, lc.column, lc.kind, lc.nullable, lc.unique, lc.default, lc.has_default) == (
        "login_count", "logins", "integer", False, False, 0, True,
    )
    assert user.fields["email"].column == "email"
    assert user.fields["email"].unique is True
    assert user.fields["name"].description == "Display name"
    assert user.fields["name"].nullable is True
    assert user.fields["name"].has_default is False
    assert user.fields["tier"].enum_values == ("free", "pro")
    assert user.fields["created_at"].generated == "now"
    assert user.fields["id"].is_id and user.fields["id"].value_kind == "string"
    assert user.description == "A person"
    sess = auth_schema.models["session"]
    assert sess.fields["user_id"].references == ("user", "id")
    assert sess.fields["user_id"].column == "user_ref"


def test_value_kind_of_integer_id():
    s = define_schema(m=model(table="m", fields={"id": f.numeric_id(generated="increment")}))
    fm = s.models["m"].fields["id"]
    assert (fm.kind, fm.id_type, fm.generated, fm.value_kind) == ("id", "integer", "increment", "integer")


def test_manifest_tables(auth_schema):
    user = auth_schema.models["user"]
    assert (user.table, user.schema, user.qualified_table) == ("users", None, "users")
    sess = auth_schema.models["session"]
    assert (sess.table, sess.schema, sess.qualified_table) == ("sessions", "auth", "auth.sessions")


def test_manifest_is_read_only(auth_schema):
    with pytest.raises(TypeError):
        auth_schema.models["x"] = None  # type: ignore[index]
    with pytest.raises(TypeError):
        auth_schema.models["user"].fields["x"] = None  # type: ignore[index]


def test_constraint_names_without_map(auth_schema):
    member = auth_schema.models["member"]
    (u,) = member.uniques
    assert (u.name, u.fields, u.columns, u.unique) == (
        "members_userid_organizationid_unique", ("userId", "organizationId"), ("userId", "organizationId"), True,
    )


def test_constraint_names_use_mapped_columns(auth_schema):
    member = auth_schema.models["member"]
    (ix,) = member.indexes
    assert (ix.name, ix.fields, ix.columns, ix.unique) == (
        "members_uid_oid_idx", ("user_id", "organization_id"), ("uid", "oid"), False,
    )
    assert auth_schema.models["user"].indexes[0].name == "users_created_at_idx"


def test_constraint_name_with_map_reference_example():
    s = define_schema(member=model(
        table="members",
        fields={"id": f.id(), "userId": f.string().map("user_id"), "organizationId": f.string().map("organization_id")},
        constraints={"unique": [["userId", "organizationId"]], "indexes": [["organizationId"]]},
    ))
    m = s.models["member"]
    assert m.uniques[0].name == "members_user_id_organization_id_unique"
    assert m.uniques[0].columns == ("user_id", "organization_id")
    assert m.indexes[0].name == "members_organization_id_idx"


def test_constraint_name_accounts():
    s = define_schema(account=model(
        table="accounts",
        fields={"id": f.id(), "provider": f.string(), "account_id": f.string()},
        constraints={"unique": [["provider", "account_id"]]},
    ))
    assert s.models["account"].uniques[0].name == "accounts_provider_account_id_unique"


def test_constraint_name_includes_schema_namespace_and_slugs():
    s = define_schema(account=model(
        table=table_name("Accounts", schema="Auth"),
        fields={"id": f.id(), "provider": f.string().map("Provider-Name"), "account_id": f.string()},
        constraints={"unique": [["provider", "account_id"]], "indexes": [["account_id"]]},
    ))
    m = s.models["account"]
    assert m.uniques[0].name == "auth_accounts_provider_name_account_id_unique"
    assert m.indexes[0].name == "auth_accounts_account_id_idx"


def test_relation_belongs_to_via_references(auth_schema):
    r = auth_schema.models["session"].relations["user"]
    assert (r.kind, r.model, r.target, r.local_field, r.remote_field, r.to_many) == (
        "belongs_to", "session", "user", "user_id", "id", False,
    )


def test_relation_has_many_and_has_one_via_references(auth_schema):
    r = auth_schema.models["user"].relations["sessions"]
    assert (r.kind, r.target, r.local_field, r.remote_field, r.to_many) == ("has_many", "session", "id", "user_id", True)
    r = auth_schema.models["user"].relations["profile"]
    assert (r.kind, r.target, r.local_field, r.remote_field, r.to_many) == ("has_one", "profile", "id", "user_id", False)


def test_relation_many_to_many_through_fields(auth_schema):
    r = auth_schema.models["user"].relations["organizations"]
    assert (r.kind, r.target, r.local_field, r.remote_field, r.through, r.through_from, r.through_to, r.to_many) == (
        "many_to_many", "organization", "id", "id", "member", "user_id", "organization_id", True,
    )


def test_relation_references_pick_non_id_fields():
    s = define_schema(
        user=model(table="users", fields={"id": f.id(), "email": f.string().unique()},
                   relations={"posts": has_many("post", foreign_key="author_email"),
                              "tags": many_to_many("tag", through="user_tag", from_="email", to="label")}),
        post=model(table="posts", fields={"id": f.id(), "author_email": f.string().references("user.email")},
                   relations={"author": belongs_to("user", foreign_key="author_email")}),
        tag=model(table="tags", fields={"id": f.id(), "label": f.string().unique()}),
        user_tag=model(table="user_tags", fields={"id": f.id(), "email": f.string().references("user.email"),
                                                  "label": f.string().references("tag.label")}),
    )
    r = s.models["user"].relations["posts"]
    assert (r.local_field, r.remote_field) == ("email", "author_email")
    r = s.models["post"].relations["author"]
    assert (r.local_field, r.remote_field) == ("author_email", "email")
    r = s.models["user"].relations["tags"]
    assert (r.local_field, r.remote_field, r.through_from, r.through_to) == ("email", "label", "email", "label")


def test_relation_identity_fallback_without_references():
    # no .references(): join on the identity field (id, else the first unique field)
    s = define_schema(
        account=model(table="accounts", fields={"code": f.string().unique(), "name": f.string()},
                      relations={"items": has_many("item", foreign_key="account_code"),
                                 "badge": has_one("badge", foreign_key="account_code")}),
        item=model(table="items", fields={"id": f.id(), "account_code": f.string()},
                   relations={"account": belongs_to("account", foreign_key="account_code")}),
        badge=model(table="badges", fields={"id": f.id(), "account_code": f.string()}),
        user=model(table="users", fields={"id": f.id()},
                   relations={"items": has_many("item", foreign_key="account_code")}),
    )
    r = s.models["account"].relations["items"]
    assert (r.kind, r.local_field, r.remote_field) == ("has_many", "code", "account_code")
    r = s.models["account"].relations["badge"]
    assert (r.kind, r.local_field, r.remote_field) == ("has_one", "code", "account_code")
    r = s.models["item"].relations["account"]
    assert (r.kind, r.local_field, r.remote_field) == ("belongs_to", "account_code", "code")
    r = s.models["user"].relations["items"]
    assert (r.local_field, r.remote_field) == ("id", "account_code")


def test_relation_reference_to_other_model_falls_back_to_identity():
    # the FK references another model: it does not decide the join column for this relation
    s = define_schema(
        user=model(table="users", fields={"id": f.id(), "email": f.string().unique()}),
        team=model(table="teams", fields={"id": f.id()}),
        post=model(table="posts", fields={"id": f.id(), "owner": f.string().references("team.id")},
                   relations={"author": belongs_to("user", foreign_key="owner")}),
    )
    r = s.models["post"].relations["author"]
    assert (r.local_field, r.remote_field) == ("owner", "id")


def test_relation_without_joinable_field():
    msg = _err(
        pair=model(table="pairs", fields={"a": f.string(), "b": f.string()}, constraints={"unique": [["a", "b"]]}),
        item=model(table="items", fields={"id": f.id(), "pair_a": f.string()},
                   relations={"pair": belongs_to("pair", foreign_key="pair_a")}),
    )
    assert msg == 'Relation "item.pair" cannot find a field of "pair" to join on.'


def test_identity_prefers_id_field():
    s = define_schema(m=model(table="m", fields={"email": f.string().unique(), "id": f.id()}))
    m = s.models["m"]
    assert (m.id_field, m.identity) == ("id", ("id",))


def test_identity_first_unique_field():
    s = define_schema(m=model(table="m", fields={"name": f.string(), "email": f.string().unique(),
                                                 "slug": f.string().unique()}))
    m = s.models["m"]
    assert (m.id_field, m.identity) == (None, ("email",))


def test_identity_compound_unique():
    s = define_schema(m=model(table="m", fields={"a": f.string(), "b": f.integer()},
                              constraints={"unique": [["b", "a"]]}))
    m = s.models["m"]
    assert (m.id_field, m.identity) == (None, ("b", "a"))


def test_identity_none():
    s = define_schema(m=model(table="m", fields={"a": f.string()}))
    assert s.models["m"].identity is None


def test_schema_keeps_definitions():
    d = model(table="users", fields={"id": f.id()})
    s = define_schema(user=d)
    assert s.definitions["user"] is d
    assert repr(s) == "Schema(models=['user'])"


# ---------------------------------------------------------------------------- decimal(p, s)


def test_decimal_precision_and_scale_reach_the_manifest():
    from farmorm import define_schema, fields as f, model

    s = define_schema(m=model(table="t", fields={"id": f.id(), "a": f.decimal(10, 2), "b": f.decimal(7), "c": f.decimal()}))
    fields = s.models["m"].fields
    assert (fields["a"].precision, fields["a"].scale) == (10, 2)
    assert (fields["b"].precision, fields["b"].scale) == (7, 0)
    assert (fields["c"].precision, fields["c"].scale) == (None, None)


@pytest.mark.parametrize(
    "args, message",
    [
        ((0, 0), "precision must be between 1 and 65, got 0."),
        ((66, 2), "precision must be between 1 and 65, got 66."),
        ((5, 6), "scale must be between 0 and 5 (at most the precision 5), got 6."),
        ((40, 31), "scale must be between 0 and 30 (at most the precision 40), got 31."),
        ((None, 2), "scale needs a precision"),
        (("10", 2), "precision must be an integer, got '10'."),
    ],
)
def test_decimal_arguments_are_checked(args, message):
    from farmorm import fields as f
    from farmorm.core.errors import SchemaError

    with pytest.raises(SchemaError) as info:
        f.decimal(*args)
    assert message in str(info.value)


def test_normalize_decimal_is_exact_on_wide_values():
    from decimal import Decimal

    from farmorm.query.values import normalize_decimal, scaled_decimal

    cases = {
        "12.500000000000000000000000000000": "12.5", "19.00": "19", "100": "100", "1E+2": "100",
        "-0.000": "0", "-0E+3": "0", "0.0001000": "0.0001", "-5.10": "-5.1",
        "12345678901234567890123456789012345.123456789012345678901234567890":
            "12345678901234567890123456789012345.12345678901234567890123456789",
    }
    for raw, want in cases.items():
        assert str(normalize_decimal(Decimal(raw))) == want, raw
    assert str(normalize_decimal("3.10")) == "3.1"  # text (SQLite) too
    two = scaled_decimal(2)
    assert [str(two(v)) for v in (Decimal("12.5"), "7", Decimal("0E-30"))] == ["12.50", "7.00", "0.00"]
