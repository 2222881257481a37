"""User arguments -> (node, params). Validates everything against the schema before any I/O.

Every refusal is a VALIDATION_ERROR ``OrmError`` whose message names the model and field.
Values are checked (type, range, enum, timezone) and appended to a params list; nodes only hold
``Param(index)``, so they stay value-free and cacheable.
"""

from __future__ import annotations

from collections.abc import Mapping  # isinstance against typing.Mapping is ~3x slower (hot path)
from typing import Any

from ..core.errors import validation_error
from ..schema.manifest import FieldMeta, ModelMeta, RelationMeta, Schema
from . import nodes as n
from .plan import LINK_COLUMN, Read, RelationRead
from .values import check_text, check_value

OPERATORS = frozenset(
    {"eq", "not", "in", "not_in", "contains", "starts_with", "ends_with", "gt", "gte", "lt", "lte", "mode"}
)
_TEXT_OPS = OPERATORS
_ORDERED_OPS = frozenset({"eq", "not", "in", "not_in", "gt", "gte", "lt", "lte"})
_PLAIN_OPS = frozenset({"eq", "not", "in", "not_in"})
_JSON_OPS = frozenset({"eq", "not"})
ALLOWED_OPS = {
    "string": _TEXT_OPS,
    "enum": _TEXT_OPS,
    "integer": _ORDERED_OPS,
    "bigint": _ORDERED_OPS,
    "decimal": _ORDERED_OPS,
    "datetime": _ORDERED_OPS,
    "boolean": _PLAIN_OPS,
    "json": _JSON_OPS,
}
_CMP = {"gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte"}
#: the operators mode="insensitive" folds case for: equality, set and substring tests
MODE_OPERATORS = ("eq", "not", "in", "not_in", "contains", "starts_with", "ends_with")
_LOGICAL = ("AND", "OR", "NOT")
_TO_MANY_FILTERS = frozenset({"some", "every", "none"})
_TO_ONE_FILTERS = frozenset({"is", "is_not"})
_READ_KEYS = frozenset({"select", "include", "where", "order_by", "take", "skip"})
#: how deeply where objects may nest (AND / OR / NOT / not / relation filters): deeper trees are
#: refused before any I/O instead of exhausting Python's or the database's stack
MAX_WHERE_DEPTH = 32
_INT64_MAX = 2**63 - 1


#: What a query sees beyond live records: "deleted" (soft-deleted) and/or "archived" ones.
DEFAULT_SCOPE: frozenset[str] = frozenset()
ALL_SCOPE: frozenset[str] = frozenset({"deleted", "archived"})


def scope_of(model: ModelMeta, with_deleted: Any, with_archived: Any) -> frozenset[str]:
    """Validate the ``with_deleted`` / ``with_archived`` flags into a scope."""
    if with_deleted is False and with_archived is False:  # the default, on every read
        return DEFAULT_SCOPE
    for label, flag in (("with_deleted", with_deleted), ("with_archived", with_archived)):
        if not isinstance(flag, bool):
            raise validation_error(
                f'"{label}" on model "{model.name}" must be True or False, got {flag!r}.', model=model.name
            )
    return frozenset(k for k, on in (("deleted", with_deleted), ("archived", with_archived)) if on)


def visibility(model: ModelMeta, scope: frozenset[str]) -> list[n.Condition]:
    """The conditions that hide soft-deleted / archived records of ``model`` outside ``scope``."""
    out: list[n.Condition] = []
    if model.soft_delete_field is not None and "deleted" not in scope:
        out.append(n.IsNull(model.soft_delete_field))
    if model.archive_field is not None and "archived" not in scope:
        out.append(n.IsNull(model.archive_field))
    return out


def with_visibility(model: ModelMeta, cond: n.Condition | None, scope: frozenset[str]) -> n.Condition | None:
    """``cond`` AND the visibility conditions of ``model`` (see :func:`visibility`)."""
    vis = visibility(model, scope)
    if not vis:
        return cond
    return _and(([cond] if cond is not None else []) + vis)


def _scoped_relation(kind: str, inner: n.Condition | None, vis: list[n.Condition]) -> n.Condition | None:
    """Restrict a relation filter to visible related records.

    some / none / is / is_not: the related record must be visible AND match. every: hidden
    records must not count against it, so each one passes (``hidden OR inner``); the hidden
    test is never NULL, so a visible record whose condition is NULL still fails, as before."""
    if not vis:
        return inner
    if kind == "every":
        if inner is None:
            return None
        hidden = [n.IsNull(c.field, negated=True) for c in vis if isinstance(c, n.IsNull)]
        return n.Or((*hidden, inner))
    return _and(vis + ([inner] if inner is not None else []))


def _unknown_field(model: ModelMeta, name: str) -> Exception:
    return validation_error(f'Unknown field "{name}" on model "{model.name}".', model=model.name, field=name)


def _field(model: ModelMeta, name: str) -> FieldMeta:
    f = model.fields.get(name)
    if f is None:
        raise _unknown_field(model, name)
    return f


def _add(params: list[Any], value: Any) -> n.Param:
    params.append(value)
    return n.Param(len(params) - 1)


def _and(items: list[n.Condition]) -> n.Condition | None:
    if not items:
        return None
    return items[0] if len(items) == 1 else n.And(tuple(items))


# ---------------------------------------------------------------------------------------------
# where


class WhereParser:
    """Compiles a ``where`` mapping into a condition node, appending values to ``params``."""

    __slots__ = ("schema", "params", "scope", "depth")

    def __init__(self, schema: Schema, params: list[Any], scope: frozenset[str] = DEFAULT_SCOPE):
        self.schema = schema
        self.params = params
        self.scope = scope
        self.depth = 0

    def _deeper(self, model: ModelMeta) -> None:
        self.depth += 1
        if self.depth > MAX_WHERE_DEPTH:
            raise validation_error(
                f'"where" on model "{model.name}" nests deeper than {MAX_WHERE_DEPTH} levels.', model=model.name
            )

    def parse(self, model: ModelMeta, where: Any) -> n.Condition | None:
        if where is None:
            return None
        self._deeper(model)
        try:
            return self._parse(model, where)
        finally:
            self.depth -= 1

    def _parse(self, model: ModelMeta, where: Any) -> n.Condition | None:
        if not isinstance(where, Mapping):
            raise validation_error(
                f'"where" on model "{model.name}" must be a mapping, got {type(where).__name__}.',
                model=model.name,
            )
        parts: list[n.Condition] = []
        for key, value in where.items():
            if key in _LOGICAL:
                cond = self._logical(model, key, value)
            elif key in model.fields:
                cond = self._field(model, model.fields[key], value)
            elif key in model.relations:
                cond = self._relation(model, model.relations[key], value)
            elif isinstance(value, Mapping) and value and value.keys() <= _TO_MANY_FILTERS | _TO_ONE_FILTERS:
                raise validation_error(  # shaped like a relation filter: name it as one
                    f'Unknown relation "{key}" on model "{model.name}".', model=model.name, field=key
                )
            else:
                raise _unknown_field(model, key)
            if cond is not None:
                parts.append(cond)
        return _and(parts)

    def _logical(self, model: ModelMeta, key: str, value: Any) -> n.Condition | None:
        items = [value] if isinstance(value, Mapping) else value
        if not isinstance(items, (list, tuple)):
            raise validation_error(
                f'"{key}" on model "{model.name}" expects a list of where objects.', model=model.name
            )
        conds = [c for c in (self.parse(model, w) for w in items) if c is not None]
        if key == "AND":
            return _and(conds)
        if key == "OR":
            if not conds:
                return None
            return conds[0] if len(conds) == 1 else n.Or(tuple(conds))
        inner = _and(conds)
        return None if inner is None else n.Not(inner)

    def _field(self, model: ModelMeta, f: FieldMeta, value: Any) -> n.Condition | None:
        kind = f.value_kind
        if isinstance(value, Mapping) and not (kind == "json" and not (value.keys() <= OPERATORS and value)):
            return self._operators(model, f, kind, value)
        return self._equals(model, f, kind, value, insensitive=False)

    def _equals(self, model: ModelMeta, f: FieldMeta, kind: str, value: Any, *, insensitive: bool,
                negated: bool = False) -> n.Condition:
        if value is None:
            return n.IsNull(f.name, negated=negated)
        if kind == "json":
            return n.JsonEquals(f.name, _add(self.params, check_value(model, f, value)), negated=negated)
        v = check_value(model, f, value)
        return n.Compare(f.name, "ne" if negated else "eq", _add(self.params, v), insensitive)

    def _operators(self, model: ModelMeta, f: FieldMeta, kind: str, ops: Mapping[str, Any]) -> n.Condition | None:
        self._deeper(model)
        try:
            return self._operator_object(model, f, kind, ops)
        finally:
            self.depth -= 1

    def _operator_object(self, model: ModelMeta, f: FieldMeta, kind: str, ops: Mapping[str, Any]) -> n.Condition | None:
        allowed = ALLOWED_OPS[kind]
        for op in ops:
            if op not in OPERATORS:
                raise validation_error(
                    f'Unknown operator "{op}" for field "{f.name}" on model "{model.name}".',
                    model=model.name, field=f.name,
                )
            if op not in allowed:
                raise validation_error(
                    f'Operator "{op}" is not supported for field "{f.name}" ({kind}) on model "{model.name}".',
                    model=model.name, field=f.name,
                )
        mode = ops.get("mode", "default")
        if mode not in ("default", "insensitive"):
            raise validation_error(
                f'Invalid mode "{mode}" for field "{f.name}" on model "{model.name}". '
                'Use "default" or "insensitive".',
                model=model.name, field=f.name,
            )
        ins = mode == "insensitive"
        if "mode" in ops:
            self._check_mode(model, f, ops)
        parts: list[n.Condition] = []
        for op, value in ops.items():
            if op == "mode":
                continue
            if op == "eq":
                parts.append(self._equals(model, f, kind, value, insensitive=ins))
            elif op == "not":
                if isinstance(value, Mapping) and kind != "json":
                    if ins and "mode" not in value:
                        value = {**value, "mode": "insensitive"}  # a nested operator object inherits the mode
                    inner = self._operators(model, f, kind, value)
                    if inner is not None:
                        parts.append(n.Not(inner))
                else:
                    parts.append(self._equals(model, f, kind, value, insensitive=ins, negated=True))
            elif op in ("in", "not_in"):
                listed = self._in(model, f, op, value, ins)
                if listed is not None:  # not_in [] keeps every row: no condition
                    parts.append(listed)
            elif op in _CMP:
                if value is None:
                    raise validation_error(
                        f'Operator "{op}" for field "{f.name}" on model "{model.name}" needs a non-null value.',
                        model=model.name, field=f.name,
                    )
                parts.append(n.Compare(f.name, _CMP[op], _add(self.params, check_value(model, f, value))))  # type: ignore[arg-type]
            else:  # contains / starts_with / ends_with
                if not isinstance(value, str):
                    raise validation_error(
                        f'Invalid value for field "{f.name}" on model "{model.name}": '
                        f'"{op}" expects str, got {type(value).__name__}.',
                        model=model.name, field=f.name,
                    )
                parts.append(n.Match(f.name, op, _add(self.params, check_text(model, f, value)), ins))  # type: ignore[arg-type]
        return _and(parts)

    @staticmethod
    def _check_mode(model: ModelMeta, f: FieldMeta, ops: Mapping[str, Any]) -> None:
        """``mode`` folds case for equality, set and substring operators; it must have one to act on,
        and ordering comparisons refuse it (case-folded order differs between databases)."""
        ordered = [op for op in ops if op in _CMP]
        if ordered:
            raise validation_error(
                f'mode="{ops["mode"]}" does not apply to "{ordered[0]}" for field "{f.name}" on model '
                f'"{model.name}"; it applies to {", ".join(f"{o}" for o in MODE_OPERATORS)}.',
                model=model.name, field=f.name,
            )
        if not any(op in MODE_OPERATORS for op in ops):
            raise validation_error(
                f'mode on field "{f.name}" on model "{model.name}" needs an operator it applies to '
                f'({", ".join(MODE_OPERATORS)}).',
                model=model.name, field=f.name,
            )

    def _in(self, model: ModelMeta, f: FieldMeta, op: str, value: Any, ins: bool = False) -> n.Condition | None:
        if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
            raise validation_error(
                f'Operator "{op}" for field "{f.name}" on model "{model.name}" expects a list of values.',
                model=model.name, field=f.name,
            )
        values = []
        for v in value:
            if v is None:
                raise validation_error(
                    f'Operator "{op}" for field "{f.name}" on model "{model.name}" cannot contain null; '
                    'use {"eq": None} instead.',
                    model=model.name, field=f.name,
                )
            values.append(check_value(model, f, v))
        if not values:
            return n.FALSE if op == "in" else None
        return n.InList(f.name, _add(self.params, values), negated=op == "not_in", insensitive=ins)

    def _relation(self, model: ModelMeta, rel: RelationMeta, value: Any) -> n.Condition:
        target = self.schema.models[rel.target]
        if not rel.to_many and (value is None or not isinstance(value, Mapping) or
                                not value.keys() <= _TO_ONE_FILTERS | _TO_MANY_FILTERS):
            value = {"is": value}  # to-one shorthand: {"profile": None} / {"user": {...}}
        if not isinstance(value, Mapping) or not value:
            raise validation_error(
                f'Relation filter "{rel.name}" on model "{model.name}" expects an object with '
                + ('"some", "every" or "none".' if rel.to_many else '"is" or "is_not".'),
                model=model.name, field=rel.name,
            )
        allowed = _TO_MANY_FILTERS if rel.to_many else _TO_ONE_FILTERS
        vis = visibility(target, self.scope)
        parts: list[n.Condition] = []
        for kind, sub in value.items():
            if kind not in allowed:
                hint = '"some", "every" or "none"' if rel.to_many else '"is" or "is_not"'
                raise validation_error(
                    f'Relation filter "{kind}" is not valid for {"to-many" if rel.to_many else "to-one"} '
                    f'relation "{rel.name}" on model "{model.name}". Use {hint}.',
                    model=model.name, field=rel.name,
                )
            if sub is None and kind in _TO_ONE_FILTERS:
                # is: None -> no related record; is_not: None -> a related record exists
                parts.append(n.RelationFilter(rel.name, "none" if kind == "is" else "some", _and(list(vis))))
                continue
            inner = _scoped_relation(kind, self.parse(target, sub), vis)
            parts.append(n.RelationFilter(rel.name, kind, inner))
        cond = _and(parts)
        assert cond is not None
        return cond


def parse_where(schema: Schema, model: ModelMeta, where: Any, params: list[Any],
                scope: frozenset[str] = DEFAULT_SCOPE) -> n.Condition | None:
    """Compile ``where`` for ``model`` into a condition, appending its values to ``params``.

    Relation filters only see related records visible in ``scope``; the root model's own
    visibility is added by :func:`with_visibility` (so an empty where stays detectable)."""
    return WhereParser(schema, params, scope).parse(model, where)


# ---------------------------------------------------------------------------------------------
# order_by, take, skip


def parse_order(model: ModelMeta, order_by: Any, schema: Schema | None = None,
                scope: frozenset[str] = DEFAULT_SCOPE) -> tuple[n.OrderItem, ...]:
    """``{"f": "asc"}`` or a list of such mappings -> order items, in order.

    A direction is ``"asc"`` / ``"desc"`` or ``{"sort": ..., "nulls": "first" | "last"}``. With
    ``schema``, a to-one relation orders by its record's fields (``{"album": {"title": "asc"}}``,
    at any depth) and a to-many relation by its count (``{"posts": {"_count": "desc"}}``)."""
    items: list[n.OrderItem] = []
    for entry in order_entries(model, order_by):
        for name, direction in entry.items():
            _order_key(schema, model, name, direction, (), items, scope, ())
    return tuple(items)


def order_entries(model: ModelMeta, order_by: Any) -> list[Mapping[Any, Any]]:
    """``order_by`` as its list of mappings (none for None); anything else is a VALIDATION_ERROR."""
    if order_by is None:
        return []
    entries = [order_by] if isinstance(order_by, Mapping) else order_by
    if not isinstance(entries, (list, tuple)) or not all(isinstance(e, Mapping) for e in entries):
        raise validation_error(
            f'"order_by" on model "{model.name}" must be a mapping or a list of mappings.', model=model.name
        )
    return list(entries)


def _order_key(schema: Schema | None, model: ModelMeta, name: Any, direction: Any, path: tuple[str, ...],
               items: list[n.OrderItem], scope: frozenset[str] = DEFAULT_SCOPE,
               hidden: tuple[tuple[str, ...], ...] = ()) -> None:
    if name in model.relations and schema is not None:
        rel = model.relations[name]
        hop = tuple(c.field for c in visibility(schema.models[rel.target], scope) if isinstance(c, n.IsNull))
        if len(path) >= MAX_WHERE_DEPTH:
            raise validation_error(f'"order_by" on model "{model.name}" nests too deeply.', model=model.name)
        if not isinstance(direction, Mapping) or not direction:
            hint = '{"_count": "asc" | "desc"}' if rel.to_many else '{"<field>": "asc" | "desc"}'
            raise validation_error(
                f'order_by relation "{name}" on model "{model.name}" expects {hint}.', model=model.name, field=name
            )
        if rel.to_many:
            if set(direction) != {"_count"}:
                raise validation_error(
                    f'order_by to-many relation "{name}" on model "{model.name}" can only order by its count: '
                    '{"_count": "asc" | "desc"}.',
                    model=model.name, field=name,
                )
            desc, nulls = _direction(model, f"{name}._count", direction["_count"])
            items.append(n.OrderItem("", desc, nulls, (*path, name), True, _hops((*hidden, hop))))
            return
        target = schema.models[rel.target]
        for sub, value in direction.items():
            _order_key(schema, target, sub, value, (*path, name), items, scope, (*hidden, hop))
        return
    if name not in model.fields:
        if name in model.relations:
            raise validation_error(
                f'find_page on model "{model.name}" cannot order by relation "{name}": a cursor pages over '
                "the model's own fields.",
                model=model.name, field=name,
            )
        raise _unknown_field(model, name)
    desc, nulls = _direction(model, name, direction)
    items.append(n.OrderItem(name, desc, nulls, path, hidden=_hops(hidden)))


def _hops(hidden: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
    """No hop hides anything: the empty tuple (so the common node stays the same as before)."""
    return hidden if any(hidden) else ()


def _direction(model: ModelMeta, name: str, value: Any) -> tuple[bool, Any]:
    """``"asc"`` / ``"desc"`` / ``{"sort": "asc", "nulls": "last"}`` -> (desc, nulls)."""
    nulls = None
    direction = value
    if isinstance(value, Mapping):
        if set(value) - {"sort", "nulls"} or "sort" not in value:
            raise validation_error(
                f'Invalid order for field "{name}" on model "{model.name}". Use "asc" or "desc", or '
                '{"sort": "asc" | "desc", "nulls": "first" | "last"}.',
                model=model.name, field=name,
            )
        direction, nulls = value["sort"], value.get("nulls")
        if nulls not in (None, "first", "last"):
            raise validation_error(
                f'Invalid nulls "{nulls}" for field "{name}" on model "{model.name}". Use "first" or "last".',
                model=model.name, field=name,
            )
    if direction not in ("asc", "desc"):
        raise validation_error(
            f'Invalid order direction "{direction}" for field "{name}" on model "{model.name}". '
            'Use "asc" or "desc".',
            model=model.name, field=name,
        )
    return direction == "desc", nulls


def parse_count_arg(model: ModelMeta, label: str, value: Any, params: list[Any]) -> n.Param | None:
    """Validate ``take`` / ``skip`` and bind it as a param."""
    if value is None:
        return None
    if type(value) is not int or value < 0 or value > _INT64_MAX:
        raise validation_error(
            f'Invalid {label} on model "{model.name}": expected a non-negative integer, got {value!r}.',
            model=model.name,
        )
    return _add(params, value)


# ---------------------------------------------------------------------------------------------
# select / include -> Read


#: the select / include key of relation counts
COUNT_KEY = "_count"


def _count_spec(model: ModelMeta, value: Any) -> dict[str, Any]:
    """``{"_count": {"posts": True, "comments": {"where": {...}}}}`` -> {relation: where or None}."""
    if value in (None, False):
        return {}
    if not isinstance(value, Mapping):
        raise validation_error(
            f'"_count" on model "{model.name}" must map to-many relations to True or {{"where": ...}}.',
            model=model.name,
        )
    out: dict[str, Any] = {}
    for name, spec in value.items():
        rel = model.relations.get(name)
        if rel is None or not rel.to_many:
            raise validation_error(
                f'"_count" on model "{model.name}" names "{name}", which is not a to-many relation.',
                model=model.name, field=name,
            )
        if spec in (None, False):
            continue
        if spec is True:
            out[name] = None
        elif isinstance(spec, Mapping) and set(spec) <= {"where"}:
            out[name] = spec.get("where")
        else:
            raise validation_error(
                f'"_count" of relation "{name}" on model "{model.name}" must be True or {{"where": ...}}.',
                model=model.name, field=name,
            )
    return out


def _selection(model: ModelMeta, select: Any, include: Any) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    """Resolve select/include into (scalar fields, {relation name: sub-args or True}, {counted relation: where})."""
    if select is not None and include is not None:
        raise validation_error(
            f'Use either "select" or "include" on model "{model.name}", not both.', model=model.name
        )
    rels: dict[str, Any] = {}
    counts: dict[str, Any] = {}
    if select is None:
        fields = list(model.fields)
        spec = include or {}
        if not isinstance(spec, Mapping):
            raise validation_error(f'"include" on model "{model.name}" must be a mapping.', model=model.name)
        for name, value in spec.items():
            if name == COUNT_KEY and name not in model.relations:
                counts = _count_spec(model, value)
                continue
            if name not in model.relations:
                raise validation_error(
                    f'Unknown relation "{name}" on model "{model.name}".', model=model.name, field=name
                )
            if value:
                rels[name] = value
        return fields, rels, counts
    if not isinstance(select, Mapping):
        raise validation_error(f'"select" on model "{model.name}" must be a mapping.', model=model.name)
    fields = []
    for name, value in select.items():
        if name in model.fields:
            if value is True:
                fields.append(name)
            elif value not in (False, None):
                raise validation_error(
                    f'"select" value for field "{name}" on model "{model.name}" must be True or False.',
                    model=model.name, field=name,
                )
        elif name in model.relations:
            if value:
                rels[name] = value
        elif name == COUNT_KEY:
            counts = _count_spec(model, value)
        else:
            raise _unknown_field(model, name)
    return fields, rels, counts


def parse_read(
    schema: Schema,
    model: ModelMeta,
    *,
    where: Any = None,
    select: Any = None,
    include: Any = None,
    order_by: Any = None,
    take: Any = None,
    skip: Any = None,
    params: list[Any] | None = None,
    link: tuple[RelationMeta, bool] | None = None,
    scope: frozenset[str] = DEFAULT_SCOPE,
    distinct: Any = None,
) -> Read:
    """Build the read plan for one level (and, recursively, its relation levels).

    Soft-deleted / archived records outside ``scope`` are left out at every level."""
    if (params is None and type(where) is dict and len(where) == 1 and select is None and include is None
            and order_by is None and skip is None and link is None and distinct is None):
        fast = _point_read(model, where, take, scope)
        if fast is not None:
            return fast
    params = [] if params is None else params
    link_param = _add(params, None) if link is not None else None  # params[0]: parent keys
    fields, rels, counted = _selection(model, select, include)
    counts = tuple(
        n.RelationCount(name, _scoped_relation("some", parse_where(schema, schema.models[model.relations[name].target],
                                                                   w, params, scope),
                                               visibility(schema.models[model.relations[name].target], scope)))
        for name, w in counted.items()
    )
    cond = with_visibility(model, parse_where(schema, model, where, params, scope), scope)
    order = parse_order(model, order_by, schema, scope)
    single = link is not None and not link[0].to_many
    take_p = parse_count_arg(model, "take", take, params)
    skip_p = parse_count_arg(model, "skip", skip, params)
    if single:
        take_p = skip_p = None  # a to-one relation is one record or None: paging does not apply
    hidden: list[str] = []
    columns = list(fields)

    def need(name: str) -> None:
        if name not in columns:
            columns.append(name)
            hidden.append(name)

    link_node = None
    if link is not None:
        rel, _ = link
        if rel.kind == "many_to_many":
            link_node = n.Link(rel.remote_field, link_param, rel.through, rel.through_from, rel.through_to,  # type: ignore[arg-type]
                               per_parent=take_p is not None or skip_p is not None)
            hidden.append(LINK_COLUMN)
        else:
            need(rel.remote_field)
            # to-one levels need no window: stitching keeps the first row per key, in order_by order
            link_node = n.Link(rel.remote_field, link_param,  # type: ignore[arg-type]
                               per_parent=take_p is not None or skip_p is not None)
    for rname in counted:
        need(model.relations[rname].local_field)  # the key related records are counted by
    rel_reads: list[RelationRead] = []
    for rname, sub in rels.items():
        rel = model.relations[rname]
        need(rel.local_field)
        rel_reads.append(_relation_read(schema, model, rel, sub, scope))
    fields_distinct = parse_distinct(model, distinct)
    node = n.Select(model.name, tuple(columns), cond, order, take_p, skip_p, link_node, counts=counts,
                    distinct=fields_distinct)
    return Read(node, params, tuple(rel_reads), tuple(hidden), tuple(counted))


def parse_distinct(model: ModelMeta, distinct: Any) -> tuple[str, ...]:
    """``distinct="country"`` or ``["country", "city"]`` -> the fields, validated."""
    if distinct is None:
        return ()
    names = [distinct] if isinstance(distinct, str) else distinct
    if not isinstance(names, (list, tuple)) or not names:
        raise validation_error(
            f'"distinct" on model "{model.name}" must be a field name or a non-empty list of field names.',
            model=model.name,
        )
    out: list[str] = []
    for name in names:
        f = model.fields.get(name) if isinstance(name, str) else None
        if f is None:
            raise validation_error(
                f'Unknown field "{name}" in "distinct" on model "{model.name}".', model=model.name,
                field=name if isinstance(name, str) else None,
            )
        if f.value_kind == "json":
            raise validation_error(
                f'"distinct" on model "{model.name}" cannot use JSON field "{name}".', model=model.name, field=name
            )
        if name not in out:
            out.append(name)
    return tuple(out)


#: where a model keeps its point-read shapes ({(field, with take, scope): Select}; schema-derived)
_SHAPES_KEY = "_farmorm_point_reads"


def _point_read(model: ModelMeta, where: dict[str, Any], take: Any, scope: frozenset[str]) -> Read | None:
    """``parse_read`` for the commonest read, ``where={field: value}`` (a scalar, non-JSON field)
    with at most ``take``: the value and ``take`` are checked as the full path checks them, the
    value-free ``Select`` is built once per shape and reused (its hash is cached too). None: any
    other shape, which the full path parses."""
    for name, value in where.items():
        f = model.fields.get(name)
        if f is None or value is None or isinstance(value, Mapping) or f.value_kind == "json":
            return None
        if take is not None and (type(take) is not int or take < 0 or take > _INT64_MAX):
            return None  # the full path raises the error
        shapes: dict[Any, n.Select] | None = vars(model).get(_SHAPES_KEY)
        if shapes is None:
            shapes = vars(model)[_SHAPES_KEY] = {}  # a frozen dataclass: its __dict__ takes derived data
        key = (name, take is not None, scope)
        node = shapes.get(key)
        if node is None:
            cond = with_visibility(model, n.Compare(name, "eq", n.Param(0), False), scope)
            node = shapes[key] = n.Select(model.name, tuple(model.fields), cond, (),
                                          n.Param(1) if take is not None else None, None, None)
        params = [check_value(model, f, value)] if take is None else [check_value(model, f, value), take]
        return Read(node, params)
    return None


#: where a model keeps the relation levels of ``include={name: True}`` ({(relation, scope): RelationRead})
_LEVELS_KEY = "_farmorm_plain_levels"


def _relation_read(schema: Schema, model: ModelMeta, rel: RelationMeta, sub: Any,
                   scope: frozenset[str] = DEFAULT_SCOPE) -> RelationRead:
    if sub is True:
        # ``{name: True}`` carries no value: its level depends on the schema and the scope only, so
        # it is parsed once and handed out with its own params list (the parent keys' slot)
        levels: dict[Any, RelationRead] | None = vars(model).get(_LEVELS_KEY)
        if levels is None:
            levels = vars(model)[_LEVELS_KEY] = {}  # a frozen dataclass: its __dict__ takes derived data
        level = levels.get((rel.name, scope))
        if level is None:
            level = _parse_relation_read(schema, model, rel, True, scope)
            if level.read.relations or len(level.read.params) != 1:
                return level  # nothing shareable beyond the node (not the case for True today)
            levels[(rel.name, scope)] = level
        read = level.read
        return RelationRead(level.name, level.meta, Read(read.node, [None], read.relations, read.hidden, read.counts),
                            level.parent_key, level.child_key, level.single)
    return _parse_relation_read(schema, model, rel, sub, scope)


def _parse_relation_read(schema: Schema, model: ModelMeta, rel: RelationMeta, sub: Any,
                         scope: frozenset[str]) -> RelationRead:
    target = schema.models[rel.target]
    args: Mapping[str, Any] = {} if sub is True else sub
    if not isinstance(args, Mapping):
        raise validation_error(
            f'Relation "{rel.name}" on model "{model.name}" must be selected with True or a query mapping.',
            model=model.name, field=rel.name,
        )
    for key in args:
        if key not in _READ_KEYS:
            raise validation_error(
                f'Unknown key "{key}" in the query for relation "{rel.name}" on model "{model.name}".',
                model=model.name, field=rel.name,
            )
    read = parse_read(schema, target, **args, params=[], link=(rel, True), scope=scope)
    for o in read.node.order_by:
        if o.path or o.nulls is not None:
            raise validation_error(
                f'order_by of relation "{rel.name}" on model "{model.name}" orders by its own fields with '
                '"asc" / "desc" only; ordering through relations and "nulls" apply to the top-level query.',
                model=model.name, field=rel.name,
            )
    child_key = LINK_COLUMN if rel.kind == "many_to_many" else rel.remote_field
    return RelationRead(rel.name, rel, read, rel.local_field, child_key, not rel.to_many)
