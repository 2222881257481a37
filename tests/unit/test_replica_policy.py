"""ReplicaPolicy validation and the recovery-conflict mapping (no server needed).

The replicas themselves run in tests/scaleout/test_replicas.py against a real standby."""

from __future__ import annotations

import asyncpg
import pytest

from farmorm import ReplicaPolicy, define_schema, model
from farmorm import fields as f
from farmorm_drivers.postgres.errors import map_error

schema = define_schema(note=model(table="notes", fields={"id": f.id()}))


def test_defaults_fall_back_and_read_your_writes() -> None:
    policy = ReplicaPolicy()
    assert policy.fallback and policy.read_your_writes and policy.max_lag is None


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"max_lag": -1}, "max_lag"),
    ({"max_lag": True}, "max_lag"),
    ({"retry_after": "1s"}, "retry_after"),
    ({"sticky_seconds": -0.5}, "sticky_seconds"),
])
def test_bad_values_are_named(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        ReplicaPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("exc", [
    asyncpg.exceptions.SerializationError("canceling statement due to conflict with recovery"),
    asyncpg.exceptions.SerializationError("terminating connection due to conflict with recovery"),
])
def test_a_recovery_conflict_is_a_retryable_conflict_with_its_reason(exc: Exception) -> None:
    err = map_error(schema, exc)
    assert err is not None and err.code == "TRANSACTION_CONFLICT" and err.retryable
    assert err.meta["reason"] == "recovery_conflict"


def test_an_ordinary_serialization_failure_has_no_recovery_reason() -> None:
    err = map_error(schema, asyncpg.exceptions.SerializationError("could not serialize access"))
    assert err is not None and "reason" not in err.meta


async def test_create_orm_refuses_a_policy_of_another_type() -> None:
    from farmorm import create_orm

    with pytest.raises(TypeError, match="ReplicaPolicy"):
        await create_orm(schema, "sqlite:///:memory:", replicas=["sqlite:///:memory:"],
                         replica_policy={"fallback": False})  # type: ignore[arg-type]
