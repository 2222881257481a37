"""OpenTelemetry tracing: one CLIENT span per executed statement, built from ``orm.on_query`` events.

Needs ``opentelemetry-api`` (``pip install "farmorm[otel]"``); farmorm itself never imports it.
Spans carry the statement text (placeholders only: farmorm never puts values in SQL) and never a
parameter value.
"""

from __future__ import annotations

import time
from typing import Callable

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider

from ..core.version import __version__
from ..core.driver import QueryEvent
from ..runtime.orm import Orm

__all__ = ["instrument", "DB_SYSTEMS"]

#: ``orm.driver.dialect`` -> the semantic conventions' ``db.system`` value (MongoDB has no dialect)
DB_SYSTEMS: dict[str | None, str] = {"postgres": "postgresql", "mysql": "mysql", "sqlite": "sqlite", None: "mongodb"}


def instrument(orm: Orm, *, tracer_provider: TracerProvider | None = None) -> Callable[[], None]:
    """Trace every statement ``orm`` runs as a span (the global tracer provider by default);
    returns a function that stops tracing."""
    tracer = trace.get_tracer("farmorm", __version__, tracer_provider=tracer_provider)
    handle = orm.driver
    system = DB_SYSTEMS.get(handle.dialect, handle.dialect or "other_sql")
    base: dict[str, str] = {"db.system": system, "db.system.name": system, "farmorm.runtime": handle.kind}

    def on_query(event: QueryEvent) -> None:
        # the event arrives once the statement has finished: date the span back by its duration
        end = time.time_ns()
        operation = event.operation
        attributes: dict[str, str | int] = {
            **base,
            "db.statement": event.statement,
            "db.query.text": event.statement,
            "db.operation": operation,
            "db.operation.name": operation,
            "farmorm.params_count": event.params_count,
        }
        if event.rows >= 0:
            attributes["farmorm.rows"] = event.rows
        span = tracer.start_span(operation or system, kind=SpanKind.CLIENT,
                                 start_time=end - int(event.duration * 1e9), attributes=attributes)
        if event.error_code is not None:
            span.set_attribute("error.type", event.error_code)
            span.set_status(Status(StatusCode.ERROR, event.error_code))
        span.end(end_time=end)

    return orm.on_query(on_query)
