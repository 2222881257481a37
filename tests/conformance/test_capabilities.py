"""The driver handle: frozen, with kind / dialect / client and the frozen capability set."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from tests.conformance.auth import cap

BOOL_KEYS = (
    "supports_numeric_ids", "supports_json", "supports_dates", "supports_booleans",
    "supports_transactions", "supports_schema_namespaces", "supports_transactional_ddl", "supports_join",
)
TEXT_VALUES = {"database-default", "case-sensitive", "case-insensitive"}
# Documented per-dialect values (REFERENCE §6 and DESIGN §2): the one place tests name a backend.
DIALECT = {"sqlite": "sqlite", "postgres": "postgres", "mysql": "mysql", "mongo": None}


def part(obj, key):
    """``obj.key`` or ``obj[key]``: nested capability groups may be objects or mappings."""
    if isinstance(obj, Mapping):
        return obj[key]
    return getattr(obj, key)


def assert_frozen(obj, key):
    if isinstance(obj, Mapping):
        with pytest.raises(TypeError):
            obj[key] = "changed"  # type: ignore[index]
    else:
        with pytest.raises((AttributeError, TypeError)):
            setattr(obj, key, "changed")
    assert part(obj, key) != "changed"


# ------------------------------------------------------------------------------------- handle


async def test_driver_has_kind_dialect_and_client(auth_orm, backend):
    driver = auth_orm.driver
    assert isinstance(driver.kind, str) and driver.kind
    assert driver.dialect == DIALECT[backend]
    assert driver.client is not None


async def test_driver_kind_names_the_library(auth_orm, backend):
    # "sqlalchemy": an AsyncEngine / AsyncConnection was passed (docs/clients.md)
    expected = {"sqlite": {"aiosqlite", "sqlalchemy"}, "postgres": {"asyncpg", "psycopg", "sqlalchemy"},
                "mysql": {"aiomysql", "asyncmy", "sqlalchemy"}}
    if backend not in expected:
        pytest.skip("no documented library name for this backend's kind")
    assert auth_orm.driver.kind in expected[backend]


async def test_driver_handle_is_stable(auth_orm):
    assert auth_orm.driver is auth_orm.driver
    assert auth_orm.driver.capabilities is auth_orm.driver.capabilities


@pytest.mark.parametrize("attr", ["kind", "dialect", "client", "capabilities"])
async def test_driver_attributes_cannot_be_assigned(auth_orm, attr):
    driver = auth_orm.driver
    before = getattr(driver, attr)
    with pytest.raises((AttributeError, TypeError)):
        setattr(driver, attr, "changed")
    assert getattr(driver, attr) is before


async def test_driver_rejects_new_attributes(auth_orm):
    with pytest.raises((AttributeError, TypeError)):
        auth_orm.driver.extra = 1
    assert not hasattr(auth_orm.driver, "extra")


async def test_driver_still_works_after_a_refused_assignment(auth_orm):
    with pytest.raises((AttributeError, TypeError)):
        auth_orm.driver.kind = "other"
    assert await auth_orm.user.count() == 2


# ------------------------------------------------------------------------------- capabilities


@pytest.mark.parametrize("key", BOOL_KEYS + ("numeric_ids", "native_relation_loading", "text_comparison", "upsert"))
async def test_capabilities_are_frozen(auth_orm, key):
    assert_frozen(auth_orm.driver.capabilities, key)


@pytest.mark.parametrize("group", ["text_matching", "returning", "returning_mode", "native_relations"])
async def test_nested_capability_groups_are_frozen(auth_orm, group):
    value = cap(auth_orm, group)
    first = next(iter(value)) if isinstance(value, Mapping) else _first_field(value)
    assert_frozen(value, first)


def _first_field(obj):
    for name in getattr(obj, "__struct_fields__", ()) or getattr(obj, "__dataclass_fields__", {}) or vars(obj):
        return name
    raise AssertionError(f"cannot list the fields of {obj!r}")


@pytest.mark.parametrize("key", BOOL_KEYS)
async def test_boolean_capabilities_are_bools(auth_orm, key):
    assert isinstance(cap(auth_orm, key), bool)


async def test_enumerated_capabilities_have_documented_values(auth_orm):
    assert cap(auth_orm, "numeric_ids") in {"none", "manual", "generated"}
    assert cap(auth_orm, "native_relation_loading") in {"none", "partial", "full"}
    assert cap(auth_orm, "text_comparison") in TEXT_VALUES
    assert cap(auth_orm, "upsert") in {"none", "emulated", "native"}


async def test_text_matching_group(auth_orm):
    tm = cap(auth_orm, "text_matching")
    assert {part(tm, k) for k in ("equality", "contains", "ordering")} <= TEXT_VALUES


async def test_returning_groups(auth_orm):
    returning, mode = cap(auth_orm, "returning"), cap(auth_orm, "returning_mode")
    for op in ("create", "update", "delete"):
        assert isinstance(part(returning, op), bool)
        assert part(mode, op) in {"none", "record"}
        assert part(mode, op) == ("record" if part(returning, op) else "none")


async def test_native_relations_group(auth_orm):
    nr = cap(auth_orm, "native_relations")
    for key in ("singular_chains", "has_many", "many_to_many", "filtered", "ordered", "paginated"):
        assert isinstance(part(nr, key), bool)


async def test_numeric_id_capabilities_are_consistent(auth_orm):
    assert cap(auth_orm, "supports_numeric_ids") == (cap(auth_orm, "numeric_ids") != "none")


async def test_value_type_capabilities(auth_orm):
    assert cap(auth_orm, "supports_json") is True
    assert cap(auth_orm, "supports_dates") is True
    assert cap(auth_orm, "supports_booleans") is True
    assert cap(auth_orm, "supports_join") is False


async def test_sql_backends_generate_numeric_ids_and_support_transactions(auth_orm):
    if auth_orm.driver.dialect is None:
        pytest.skip("not a SQL backend")
    assert cap(auth_orm, "numeric_ids") == "generated"
    assert cap(auth_orm, "supports_transactions") is True
    assert cap(auth_orm, "upsert") == "native"


async def test_schema_namespaces_only_on_postgres(auth_orm, backend):
    assert cap(auth_orm, "supports_schema_namespaces") is (backend == "postgres")


async def test_transactional_ddl_matches_the_dialect(auth_orm, backend):
    expected = {"sqlite": True, "postgres": True, "mysql": False, "mongo": False}[backend]
    assert cap(auth_orm, "supports_transactional_ddl") is expected
