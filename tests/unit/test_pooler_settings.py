"""PgBouncer mode and pool options from the URL (no server needed: parsing and error mapping).

The real PgBouncer runs are in tests/scaleout/test_pgbouncer.py."""

from __future__ import annotations

import asyncpg
import pytest

from farmorm import define_schema, model
from farmorm import fields as f
from farmorm.core.detect import Detected
from farmorm_drivers.postgres import pool_settings, split_url
from farmorm_drivers.postgres.errors import map_error

schema = define_schema(note=model(table="notes", fields={"id": f.id()}))


def _settings(url: str, **options: object) -> tuple[str, dict[str, object]]:
    return pool_settings(Detected("asyncpg", url, "postgres", "url"), dict(options))


def test_farmorm_options_leave_the_url_and_others_stay() -> None:
    url, found = split_url("postgresql://u@h:6432/app?sslmode=disable&pgbouncer=true&max_size=20&timeout=2.5")
    assert url == "postgresql://u@h:6432/app?sslmode=disable"
    assert found == {"pgbouncer": True, "max_size": 20, "timeout": 2.5}


def test_pgbouncer_turns_off_named_statements_for_both_libraries() -> None:
    url, settings = _settings("postgresql://h/app?pgbouncer=1")
    assert url == "postgresql://h/app"
    assert settings["statement_cache_size"] == 0 and settings["prepare_threshold"] is None
    _, settings = _settings("postgresql://h/app", pgbouncer=True)
    assert settings["statement_cache_size"] == 0


def test_create_orm_options_win_over_the_url() -> None:
    _, settings = _settings("postgresql://h/app?max_size=5&min_size=2", max_size=9)
    assert (settings["max_size"], settings["min_size"]) == (9, 2)


@pytest.mark.parametrize(("query", "needle"), [
    ("pgbouncer=maybe", "pgbouncer='maybe'"),
    ("max_size=lots", "max_size='lots'"),
])
def test_a_bad_url_option_is_named(query: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        split_url(f"postgresql://h/app?{query}")


def test_pgbouncer_refuses_a_statement_cache() -> None:
    with pytest.raises(ValueError, match="statement_cache_size=0"):
        _settings("postgresql://h/app?pgbouncer=true&statement_cache_size=100")
    with pytest.raises(ValueError, match="prepare_threshold=None"):
        _settings("postgresql://h/app?pgbouncer=true&prepare_threshold=5")


@pytest.mark.parametrize("exc", [
    asyncpg.exceptions.InvalidSQLStatementNameError('prepared statement "__asyncpg_stmt_2__" does not exist'),
    asyncpg.exceptions.DuplicatePreparedStatementError('prepared statement "__asyncpg_stmt_2__" already exists'),
    asyncpg.exceptions.ProtocolViolationError(
        'bind message supplies 2 parameters, but prepared statement "__asyncpg_stmt_9__" requires 1'),
    asyncpg.exceptions.InvalidBinaryRepresentationError("incorrect binary data format in bind parameter 1"),
])
def test_pooler_symptoms_map_to_pooler_misconfigured(exc: Exception) -> None:
    err = map_error(schema, exc)
    assert err is not None and err.code == "POOLER_MISCONFIGURED"
    assert "pgbouncer=true" in err.message and err.meta["setting"] == "pgbouncer=true"
    assert not err.retryable  # the same statement fails again until the setting changes


def test_other_protocol_and_limit_errors_keep_their_codes() -> None:
    lost = map_error(schema, asyncpg.exceptions.ProtocolViolationError("unexpected message type 0x50"))
    assert lost is not None and lost.code == "CONNECTION_ERROR"
    assert map_error(schema, asyncpg.exceptions.ProgramLimitExceededError("index row size 9000 exceeds maximum")) is None


def test_mysql_urls_take_the_same_pool_option_names() -> None:
    from farmorm_drivers.mysql import connect_args

    args = connect_args("mysql://root@127.0.0.1:3306/app?max_size=7&min_size=2&connect_timeout=5")
    assert (args["maxsize"], args["minsize"], args["connect_timeout"]) == (7, 2, 5)
    assert "max_size" not in args
