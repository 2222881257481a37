"""Record history: ``model(history=True)`` and the ``acting_as`` actor helper.

Every create/update/delete of a history model appends rows to the ``farmorm_history`` model in
the same transaction as the change (a savepoint when one is running), so both commit or roll back
together. ``before``/``after`` are JSON-safe snapshots (datetimes as ISO strings, decimals as str).
"""

from __future__ import annotations

import base64
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Iterator, Mapping

#: the model ``define_schema`` adds when a model uses ``history=True``
HISTORY_MODEL = "farmorm_history"

_actor: ContextVar[str | None] = ContextVar("farmorm_history_actor", default=None)


@contextmanager
def acting_as(actor: str | None) -> Iterator[None]:
    """``with acting_as("ada"):`` history rows written inside name ``actor`` (unless the running
    transaction was opened with ``orm.transaction(actor=...)``, which wins)."""
    if actor is not None and not isinstance(actor, str):
        from ..core.errors import validation_error

        raise validation_error(f"Invalid actor {actor!r}: expected a string.")
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> str | None:
    """The actor set by ``acting_as`` (None outside it)."""
    return _actor.get()


def json_safe(value: Any) -> Any:
    """``value`` with datetimes/dates as ISO strings, decimals as str, bytes as base64."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)

__all__ = ["HISTORY_MODEL", "acting_as", "current_actor", "json_safe"]
