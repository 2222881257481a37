"""``aggregate`` / ``group_by`` arguments -> nodes, and their rows -> results.

Validated before any I/O like every read: unknown fields, an aggregate on a field it does not
apply to, ``having`` on a field that is neither grouped nor aggregated, and bad operators are a
VALIDATION_ERROR naming the model and field.

Result types are the same on every backend: ``count`` is an ``int``; ``sum`` of integers an
``int``; ``sum`` / ``min`` / ``max`` of decimals an exact ``Decimal``; ``avg`` of integers a
``float`` and of decimals a ``Decimal`` (both finished here from the database's exact sum and
count, the decimal rounded to 34 significant digits); ``min`` / ``max`` of datetimes an aware UTC
``datetime``; every aggregate but ``count`` is ``None`` over no (non-null) values.
"""

from __future__ import annotations

import dataclasses
import decimal
from collections.abc import Mapping
from typing import Any

from ..core.errors import validation_error
from ..schema.manifest import FieldMeta, ModelMeta, Schema
from . import nodes as n
from .parse import _LOGICAL, _direction, order_entries, parse_count_arg, parse_where, with_visibility
from .values import normalize_decimal

#: aggregate functions, in result order
FUNCTIONS: tuple[str, ...] = ("count", "sum", "avg", "min", "max")
_NUMERIC = frozenset({"integer", "bigint", "decimal"})
_INTEGER = frozenset({"integer", "bigint"})
#: the value kinds each function takes (count takes every field)
_KINDS: dict[str, frozenset[str]] = {
    "sum": _NUMERIC,
    "avg": _NUMERIC,
    "min": _NUMERIC | {"datetime", "string"},
    "max": _NUMERIC | {"datetime", "string"},
}
#: significant digits of an average of decimals (Decimal128's, so MongoDB agrees with SQL)
AVG_DIGITS = 34
_AVG_CONTEXT = decimal.Context(prec=AVG_DIGITS, rounding=decimal.ROUND_HALF_EVEN)


def _spec(model: ModelMeta, fn: str, value: Any) -> list[n.Agg]:
    """``sum={"total": True}`` (or ``count=True`` / ``count={"_all": True, "email": True}``) -> aggs."""
    if value is None or value is False:
        return []
    if fn == "count" and value is True:
        return [n.Agg("count")]
    if not isinstance(value, Mapping):
        hint = 'True or a mapping like {"_all": True, "<field>": True}' if fn == "count" else \
            'a mapping like {"<field>": True}'
        raise validation_error(f'"{fn}" on model "{model.name}" must be {hint}, got {value!r}.', model=model.name)
    out: list[n.Agg] = []
    for name, on in value.items():
        if on not in (True, False, None):
            raise validation_error(
                f'"{fn}" value for field "{name}" on model "{model.name}" must be True or False.',
                model=model.name, field=name,
            )
        if not on:
            continue
        if fn == "count" and name == "_all":
            out.append(n.Agg("count"))
            continue
        f = model.fields.get(name)
        if f is None:
            raise validation_error(
                f'Unknown field "{name}" in "{fn}" on model "{model.name}".', model=model.name, field=name
            )
        kinds = _KINDS.get(fn)
        if kinds is not None and f.value_kind not in kinds:
            raise validation_error(
                f'Cannot compute "{fn}" of field "{name}" ({f.value_kind}) on model "{model.name}": '
                f'"{fn}" takes {", ".join(sorted(kinds))} fields.',
                model=model.name, field=name,
            )
        out.append(n.Agg(fn, name))  # type: ignore[arg-type]
    return out


def parse_aggs(model: ModelMeta, specs: Mapping[str, Any]) -> tuple[n.Agg, ...]:
    """The aggregates ``count=`` / ``sum=`` / ``avg=`` / ``min=`` / ``max=`` ask for, in that order."""
    aggs: list[n.Agg] = []
    for fn in FUNCTIONS:
        aggs.extend(a for a in _spec(model, fn, specs.get(fn)) if a not in aggs)
    return tuple(aggs)


def parse_aggregate(schema: Schema, model: ModelMeta, *, where: Any, specs: Mapping[str, Any],
                    scope: frozenset[str]) -> tuple[n.Aggregate, list[Any], dict[str, Any]]:
    """``aggregate(...)`` -> (node, params, result layout)."""
    aggs = parse_aggs(model, specs)
    if not aggs:
        raise validation_error(
            f'aggregate on model "{model.name}" needs at least one of count, sum, avg, min, max.', model=model.name
        )
    params: list[Any] = []
    cond = with_visibility(model, parse_where(schema, model, where, params, scope), scope)
    return n.Aggregate(model.name, aggs, cond), params, _layout(specs, aggs)


def _layout(specs: Mapping[str, Any], shown: tuple[n.Agg, ...]) -> dict[str, Any]:
    """How flat agg keys become the result's nesting: ``count=True`` is a bare int."""
    return {"bare_count": specs.get("count") is True, "shown": shown}


# ---------------------------------------------------------------------------------------------
# group_by


def _by(model: ModelMeta, by: Any) -> tuple[str, ...]:
    names = [by] if isinstance(by, str) else by
    if not isinstance(names, (list, tuple)) or not names:
        raise validation_error(
            f'"by" on model "{model.name}" must be a field name or a non-empty list of field names.',
            model=model.name,
        )
    out: list[str] = []
    for name in names:
        if not isinstance(name, str) or name not in model.fields:
            raise validation_error(
                f'Unknown field "{name}" in "by" on model "{model.name}".', model=model.name,
                field=name if isinstance(name, str) else None,
            )
        if name in FUNCTIONS:
            raise validation_error(
                f'Cannot group model "{model.name}" by field "{name}": its name is also an aggregate '
                "in the group's result; group by a field with another name (or filter on it in where).",
                model=model.name, field=name,
            )
        if model.fields[name].value_kind == "json":
            raise validation_error(
                f'Cannot group model "{model.name}" by JSON field "{name}".', model=model.name, field=name
            )
        if name not in out:
            out.append(name)
    return tuple(out)


def agg_kind(model: ModelMeta, agg: n.Agg) -> str:
    """The value kind of an aggregate's result (how ``having`` values are checked and bound)."""
    if agg.fn == "count":
        return "bigint"
    if agg.fn == "avg":
        return "decimal"
    assert agg.field is not None
    return model.fields[agg.field].value_kind


def ref_fields(model: ModelMeta, by: tuple[str, ...], aggs: tuple[n.Agg, ...]) -> dict[str, FieldMeta]:
    """Pseudo-fields for ``having`` and ``order_by`` over groups: the group fields and one per
    aggregate key. Compilers give each its column (an SQL expression, a pipeline key)."""
    refs = {b: model.fields[b] for b in by}
    for a in aggs:
        base = model.fields[a.field] if a.field is not None else next(iter(model.fields.values()))
        refs[a.key] = dataclasses.replace(base, name=a.key, kind=agg_kind(model, a), id_type=None,  # type: ignore[arg-type]
                                          nullable=True, enum_values=None)
    return refs


def ref_model(model: ModelMeta, fields: Mapping[str, FieldMeta]) -> ModelMeta:
    """``model`` with only ``fields`` and no relations (a group row's shape)."""
    return dataclasses.replace(model, fields=dict(fields), relations={}, soft_delete_field=None, archive_field=None)


def _having_refs(model: ModelMeta, having: Any, by: tuple[str, ...], aggs: list[n.Agg]) -> Any:
    """Rewrite ``{"sum": {"total": {...}}}`` to ``{"sum.total": {...}}``, adding the aggregates it names."""
    if not isinstance(having, Mapping):
        raise validation_error(f'"having" on model "{model.name}" must be a mapping.', model=model.name)
    out: dict[str, Any] = {}
    for key, value in having.items():
        if key in _LOGICAL:
            items = [value] if isinstance(value, Mapping) else value
            if not isinstance(items, (list, tuple)):
                raise validation_error(
                    f'"{key}" in "having" on model "{model.name}" expects a list of conditions.', model=model.name
                )
            out[key] = [_having_refs(model, v, by, aggs) for v in items]
        elif key in FUNCTIONS:
            if not isinstance(value, Mapping):
                raise validation_error(
                    f'"{key}" in "having" on model "{model.name}" must map fields to conditions.', model=model.name
                )
            for name, cond in value.items():
                (agg,) = _spec(model, key, {name: True})
                if agg not in aggs:
                    aggs.append(agg)
                out[agg.key] = _floats_as_decimals(cond) if agg.fn == "avg" else cond
        elif key in by:
            out[key] = value
        else:
            raise validation_error(
                f'"having" on model "{model.name}" names field "{key}", which is neither grouped ("by") '
                'nor aggregated; filter rows with "where" or aggregate it (e.g. {"sum": {"' + str(key) + '": ...}}).',
                model=model.name, field=key,
            )
    return out


def _floats_as_decimals(value: Any) -> Any:
    """An average is compared as a decimal: a float bound (``{"gte": 2.5}``) becomes the Decimal of
    its shortest repr, exactly what was typed (never 2.5's binary expansion)."""
    if isinstance(value, float):
        return decimal.Decimal(repr(value)) if value == value and value not in (float("inf"), float("-inf")) else value
    if isinstance(value, Mapping):
        return {k: _floats_as_decimals(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_floats_as_decimals(v) for v in value]
    return value


def _group_order(model: ModelMeta, order_by: Any, by: tuple[str, ...], aggs: list[n.Agg]) -> tuple[n.GroupOrder, ...]:
    items: list[n.GroupOrder] = []
    for entry in order_entries(model, order_by):
        for key, value in entry.items():
            if key in FUNCTIONS and isinstance(value, Mapping):
                for name, direction in value.items():
                    (agg,) = _spec(model, key, {name: True})
                    if agg not in aggs:
                        aggs.append(agg)
                    desc, nulls = _direction(model, f"{key}.{name}", direction)
                    items.append(n.GroupOrder(agg=agg, desc=desc, nulls=nulls))
            elif key in by:
                desc, nulls = _direction(model, key, value)
                items.append(n.GroupOrder(field=key, desc=desc, nulls=nulls))
            else:
                raise validation_error(
                    f'"order_by" of a group_by on model "{model.name}" names "{key}", which is neither a grouped '
                    'field ("by") nor an aggregate like {"sum": {"<field>": "desc"}}.',
                    model=model.name, field=key,
                )
    # the group keys break ties, so take / skip page the same groups on every backend
    for b in by:
        if not any(i.field == b for i in items):
            items.append(n.GroupOrder(field=b))
    return tuple(items)


def parse_group_by(schema: Schema, model: ModelMeta, *, by: Any, where: Any, specs: Mapping[str, Any],
                   having: Any, order_by: Any, take: Any, skip: Any,
                   scope: frozenset[str]) -> tuple[n.GroupBy, list[Any], dict[str, Any]]:
    """``group_by(...)`` -> (node, params, result layout). Params follow text order: where, having, take, skip."""
    keys = _by(model, by)
    shown = parse_aggs(model, specs)
    aggs = list(shown)
    having_refs = _having_refs(model, having, keys, aggs) if having is not None else None
    order = _group_order(model, order_by, keys, aggs)
    params: list[Any] = []
    cond = with_visibility(model, parse_where(schema, model, where, params, scope), scope)
    having_cond = None
    if having_refs is not None:
        refs = ref_model(model, ref_fields(model, keys, tuple(aggs)))
        having_cond = parse_where(schema, refs, having_refs, params)
    take_p = parse_count_arg(model, "take", take, params)
    skip_p = parse_count_arg(model, "skip", skip, params)
    node = n.GroupBy(model.name, keys, tuple(aggs), cond, having_cond, order, take_p, skip_p)
    return node, params, _layout(specs, shown)


# ---------------------------------------------------------------------------------------------
# rows -> results


def _avg(model: ModelMeta, agg: n.Agg, total: Any, count: Any) -> Any:
    if total is None or not count:
        return None
    assert agg.field is not None
    if model.fields[agg.field].value_kind in _INTEGER:
        return int(total) / int(count)  # int / int: correctly rounded, the same everywhere
    return normalize_decimal(_AVG_CONTEXT.divide(decimal.Decimal(total), decimal.Decimal(int(count))))


def shape(model: ModelMeta, row: Mapping[str, Any], layout: Mapping[str, Any],
          by: tuple[str, ...] = ()) -> dict[str, Any]:
    """One flat result row (group keys, ``"sum.total"`` …) -> ``{key: …, "sum": {"total": …}}``."""
    out: dict[str, Any] = {b: row[b] for b in by}
    for agg in layout["shown"]:
        value = row[agg.key]
        if agg.fn == "count":
            value = int(value or 0)
        elif agg.fn == "avg":
            value = _avg(model, agg, value, row[agg.key + ".n"])
        if agg.fn == "count" and layout["bare_count"] and agg.field is None:
            out["count"] = value
            continue
        out.setdefault(agg.fn, {})[agg.field or "_all"] = value
    return out
