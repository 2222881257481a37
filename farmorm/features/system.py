"""What the system-model features (outbox, idempotency) share: finding their model, checking JSON."""

from __future__ import annotations

from typing import Any

from ..core.errors import validation_error
from ..runtime.orm import Orm


def require_model(orm: Orm, name: str, option: str) -> Any:
    """The system model ``name``, or a VALIDATION_ERROR naming the ``define_schema`` option."""
    model = orm.schema.models.get(name)
    if model is None:
        raise validation_error(
            f'The {option} needs define_schema(..., {option}=True): model "{name}" is not in the schema.'
        )
    return model


def check_json(model: str, field: str, value: Any) -> None:
    """VALIDATION_ERROR unless ``value`` is plain JSON (dict/list/str/int/float/bool/None)."""

    def bad(v: Any) -> str | None:
        """The description of the first non-JSON part of ``v`` (None when it is all JSON)."""
        if v is None or isinstance(v, (str, bool, int, float)):
            return None
        if isinstance(v, (list, tuple)):
            return next((b for b in map(bad, v) if b is not None), None)
        if isinstance(v, dict):
            for k, i in v.items():
                if not isinstance(k, str):
                    return f"a {type(k).__name__} key"
                found = bad(i)
                if found is not None:
                    return found
            return None
        return f"a {type(v).__name__}"

    problem = bad(value)
    if problem is not None:
        raise validation_error(
            f'Invalid value for field "{field}" on model "{model}": expected JSON data '
            f"(dict, list, str, int, float, bool or None), found {problem}.",
            model=model, field=field,
        )
