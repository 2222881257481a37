"""Observability on real databases: query events, the ``farmorm.sql`` logger, OpenTelemetry spans.

Runs on SQLite (always), PostgreSQL and MariaDB/MySQL (when reachable). The values written carry a marker that
must never show up in an event, a log record or a span: statements hold placeholders only.
"""

from __future__ import annotations

import logging
from typing import AsyncIterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from farmorm import Orm, QueryEvent, UniqueConstraintViolation, create_orm, define_schema, model
from farmorm import fields as f
from farmorm.features.otel import instrument
from farmorm.setup import push_schema
from farmorm.testing.databases import TestDatabase

from ..conftest import backend_problem, required_backends

SECRET = "s3cr3t-marker-value"
schema = define_schema(
    user=model(table="obs_users", fields={"id": f.id(), "email": f.string().unique(), "name": f.string()}),
)


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
async def orm(request: pytest.FixtureRequest) -> AsyncIterator[Orm]:
    backend: str = request.param
    problem = backend_problem(backend)
    if problem:
        if backend in required_backends():
            pytest.fail(problem)
        pytest.skip(problem)
    db = TestDatabase(backend)
    url = await db.create()
    try:
        orm = await create_orm(schema, url)
        try:
            await push_schema(schema, orm)
            yield orm
        finally:
            await orm.close()
    finally:
        await db.drop()


async def _workload(orm: Orm) -> None:
    await orm.user.create(data={"email": f"{SECRET}@example.com", "name": SECRET})
    with pytest.raises(UniqueConstraintViolation):
        await orm.user.create(data={"email": f"{SECRET}@example.com", "name": "again"})
    assert len(await orm.user.find_many(where={"name": SECRET})) == 1


async def test_query_events_carry_statement_counts_and_codes_not_values(orm: Orm) -> None:
    events: list[QueryEvent] = []
    stop = orm.on_query(events.append)
    await _workload(orm)
    stop()
    inserts = [e for e in events if e.operation == "INSERT"]
    selects = [e for e in events if e.operation == "SELECT"]
    assert [(e.params_count, e.rows, e.error_code) for e in inserts] == [
        (3, 1, None), (3, 0, "UNIQUE_CONSTRAINT_VIOLATION")]
    assert [(e.params_count, e.rows, e.error_code) for e in selects] == [(1, 1, None)]
    assert all(e.duration >= 0 for e in events)
    assert not any(SECRET in e.statement for e in events)


async def test_sql_logger_at_debug_without_values(orm: Orm, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="farmorm.sql"):
        await _workload(orm)
    records = [r for r in caplog.records if r.name == "farmorm.sql"]
    messages = [r.getMessage() for r in records]
    assert all(r.levelno == logging.DEBUG for r in records)
    assert [m.split()[0] for m in messages] == ["INSERT", "INSERT", "SELECT"], messages
    assert "[3 params," in messages[0] and "1 rows]" in messages[0]
    assert messages[1].endswith("error UNIQUE_CONSTRAINT_VIOLATION]")
    assert all(isinstance(r.farmorm_event, QueryEvent) for r in records)  # type: ignore[attr-defined]
    assert {r.farmorm_dialect for r in records} == {orm.driver.dialect}  # type: ignore[attr-defined]
    assert not any(SECRET in m for m in messages)

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="farmorm.sql"):
        await orm.user.count()
    assert not [r for r in caplog.records if r.name == "farmorm.sql"]  # quiet above DEBUG


async def test_opentelemetry_span_per_statement(orm: Orm) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")

    stop = instrument(orm, tracer_provider=provider)
    with tracer.start_as_current_span("request") as parent:
        await _workload(orm)
    stop()
    await orm.user.count()  # not traced any more

    spans = [s for s in exporter.get_finished_spans() if s.name != "request"]
    system = {"sqlite": "sqlite", "postgres": "postgresql", "mysql": "mysql"}[orm.driver.dialect or ""]
    assert [s.name for s in spans] == ["INSERT", "INSERT", "SELECT"]
    for span in spans:
        attrs = dict(span.attributes or {})
        assert span.kind is SpanKind.CLIENT
        assert attrs["db.system"] == system
        assert attrs["db.operation"] == span.name
        assert str(attrs["db.statement"]).startswith(span.name)
        assert SECRET not in str(attrs)
        assert span.parent is not None and span.parent.span_id == parent.get_span_context().span_id
        assert span.start_time is not None and span.end_time is not None and span.start_time <= span.end_time
    ok, failed, read = spans
    assert ok.status.status_code is StatusCode.UNSET and ok.attributes["farmorm.params_count"] == 3  # type: ignore[index]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "UNIQUE_CONSTRAINT_VIOLATION"
    assert failed.attributes["error.type"] == "UNIQUE_CONSTRAINT_VIOLATION"  # type: ignore[index]
    assert read.attributes["farmorm.rows"] == 1  # type: ignore[index]


async def test_mongo_commands_are_events_log_records_and_spans(caplog: pytest.LogCaptureFixture) -> None:
    """On MongoDB (mongomock here) the statement is the command and its collection."""
    problem = backend_problem("mongo")
    if problem:
        pytest.skip(problem)
    db = TestDatabase("mongo")
    url = await db.create()
    try:
        orm = await create_orm(schema, url)
        try:
            await push_schema(schema, orm)
            exporter = InMemorySpanExporter()
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            events: list[QueryEvent] = []
            stop_events = orm.on_query(events.append)
            stop_tracing = instrument(orm, tracer_provider=provider)
            with caplog.at_level(logging.DEBUG, logger="farmorm.sql"):
                await _workload(orm)
            stop_events()
            stop_tracing()
        finally:
            await orm.close()
    finally:
        await db.drop()
    assert [(e.statement, e.operation, e.params_count, e.rows, e.error_code) for e in events] == [
        ("insert_many obs_users", "insert_many", 3, 1, None),
        ("insert_many obs_users", "insert_many", 3, 0, "UNIQUE_CONSTRAINT_VIOLATION"),
        ("find obs_users", "find", 1, 1, None),
    ]
    assert not any(SECRET in e.statement for e in events)
    messages = [r.getMessage() for r in caplog.records if r.name == "farmorm.sql"]
    assert len(messages) == len(events) and not any(SECRET in m for m in messages)
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == [e.operation for e in events]
    assert {dict(s.attributes or {})["db.system"] for s in spans} == {"mongodb"}
