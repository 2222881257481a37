"""Write arguments: create/update data, unique lookups and the upsert consistency rules.

Defaults are applied here, client-side, so every backend stores the same values: generated
string ids (UUIDv7), ``default_now`` (create only) and literal or callable defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence  # isinstance against typing.Mapping is ~3x slower
from functools import partial
from typing import Any

from ..core.errors import validation_error
from ..schema.manifest import FieldMeta, ModelMeta
from . import nodes as n
from .values import accepts_as_is, check_value, check_writable, utc_now, uuid7


def _mapping(model: ModelMeta, label: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise validation_error(
            f'"{label}" on model "{model.name}" must be a mapping, got {type(value).__name__}.',
            model=model.name,
        )
    return value


def _check_keys(model: ModelMeta, data: Mapping[str, Any]) -> None:
    for key in data:
        if key not in model.fields:
            if key in model.relations:
                raise validation_error(
                    f'Relation "{key}" on model "{model.name}" cannot be written here: nested writes go in '
                    "the data of create() and update() (not create_many, update_many or upsert).",
                    model=model.name, field=key,
                )
            raise validation_error(f'Unknown field "{key}" on model "{model.name}".', model=model.name, field=key)


def _refuse_version(model: ModelMeta, data: Mapping[str, Any]) -> None:
    vf = model.version_field
    if vf is not None and vf in data:
        raise validation_error(
            f'Field "{vf}" on model "{model.name}" is a version field managed by farmorm: it starts at 1 '
            "and every update adds 1, so it cannot be set in data. Pass expected_version= to update().",
            model=model.name, field=vf,
        )


def create_values(model: ModelMeta, data: Any, label: str = "data") -> dict[str, Any]:
    """Validate create data and apply defaults; returns {field: value} in schema field order."""
    if type(data) is dict:
        plan = _plans(model).get(frozenset(data))
        if plan is not None:  # this key set passed the key checks before: only values to check
            return plan(data)
    data = _mapping(model, label, data)
    _check_keys(model, data)
    _refuse_version(model, data)
    _refuse_protected(model, data, update=False)
    out: dict[str, Any] = {}
    for f in model.fields.values():
        if f.name in data:
            out[f.name] = check_writable(model, f, data[f.name])
        elif f.generated == "id":
            out[f.name] = uuid7()
        elif f.generated == "now":
            out[f.name] = utc_now()
        elif f.generated == "increment":
            continue
        elif f.generated == "version":
            out[f.name] = 1
        elif f.has_default:
            value = f.default() if callable(f.default) else f.default
            out[f.name] = check_writable(model, f, value)
        elif f.nullable:
            continue
        else:
            raise validation_error(
                f'Missing required field "{f.name}" on model "{model.name}".', model=model.name, field=f.name
            )
    if type(data) is dict:
        _remember(model, frozenset(data))
    return out


#: where a model keeps its create plans ({key set: plan}); at most _MAX_PLANS key sets per model
_PLANS_KEY = "_farmorm_create_plans"
_MAX_PLANS = 256
_Plan = Callable[[Mapping[str, Any]], dict[str, Any]]


def _plans(model: ModelMeta) -> dict[frozenset[str], _Plan]:
    found: dict[frozenset[str], _Plan] | None = vars(model).get(_PLANS_KEY)
    if found is None:
        found = vars(model)[_PLANS_KEY] = {}  # a frozen dataclass: its __dict__ takes derived data
    return found


def _remember(model: ModelMeta, keys: frozenset[str]) -> None:
    """Keep the plan of ``keys``, a key set that just passed every key check of ``create_values``."""
    plans = _plans(model)
    if keys not in plans and len(plans) < _MAX_PLANS:
        plans[keys] = create_plan(model, keys)


def _plan_values(model: ModelMeta, keys: frozenset[str], env: dict[str, Any],
                 indent: str) -> tuple[list[str], list[str], list[str]]:
    """The generated code computing ``create_values``' value of each field for a record ``d``
    with exactly ``keys`` (into ``v0``, ``v1``, …): the statements reading ``d`` (unindented; they
    go first, having no effect), the lines checking and filling values (in schema order, indented
    by ``indent``), and the fields filled."""
    env.update(uuid7=uuid7, utc_now=utc_now)
    loads: list[str] = []
    lines: list[str] = []
    names: list[str] = []
    for i, f in enumerate(model.fields.values()):
        v = f"v{i}"
        if f.name in keys:
            env[f"w{i}"] = partial(check_writable, model, f)
            loads.append(f"{v} = d[{f.name!r}]")
            fast = accepts_as_is(f, v, f"c{i}")
            if fast is None:
                lines.append(f"{indent}{v} = w{i}({v})")
            else:
                env[f"c{i}"] = fast[1]
                lines.append(f"{indent}if not ({fast[0]}):\n{indent}    {v} = w{i}({v})")
        elif f.generated == "id":
            lines.append(f"{indent}{v} = uuid7()")
        elif f.generated == "now":
            lines.append(f"{indent}{v} = utc_now()")
        elif f.generated == "version":
            lines.append(f"{indent}{v} = 1")
        elif f.generated != "increment" and f.has_default:
            env[f"w{i}"] = partial(check_writable, model, f)
            env[f"f{i}"] = f.default
            call = "()" if callable(f.default) else ""
            lines.append(f"{indent}{v} = w{i}(f{i}{call})")
        else:
            continue
        names.append(f.name)
    return loads, lines, names


def create_plan(model: ModelMeta, keys: frozenset[str]) -> _Plan:
    """Generate, once per (model, valid key set), ``create_values`` for records with exactly ``keys``.

    The same values in the same order and the same errors, without the key checks (done once for
    the key set) and with each value's common case tested inline (``values.accepts_as_is``); any
    other value goes through ``check_writable``. The source is built from schema field names
    (validated identifiers, written with repr) and never from user values."""
    env: dict[str, Any] = {}
    loads, lines, names = _plan_values(model, keys, env, "    ")
    items = ", ".join(f"{name!r}: v{i}" for i, name in _numbered(model, names))
    src = "def create(d):\n" + "\n".join([f"    {load}" for load in loads] + lines) + f"\n    return {{{items}}}\n"
    exec(compile(src, "<farmorm create plan>", "exec"), env)  # noqa: S102 - trusted source
    return env["create"]  # type: ignore[no-any-return]


def _numbered(model: ModelMeta, names: list[str]) -> list[tuple[int, str]]:
    """``names`` with each field's position in the model (the ``v<i>`` of ``_plan_values``)."""
    position = {name: i for i, name in enumerate(model.fields)}
    return [(position[name], name) for name in names]


#: a bulk plan: (records, first index, flat values so far) -> the index of the first record it left
_BulkPlan = Callable[[Sequence[Any], int, list[Any]], int]


def bulk_plan(model: ModelMeta, keys: frozenset[str]) -> tuple[tuple[str, ...], _BulkPlan]:
    """Generate, once per (model, valid key set), the loop of ``create_flat``: the columns the
    records with exactly ``keys`` fill, and a function appending each record's ``create_values``
    (the plan's code, inlined) to a flat list, row by row, until a record that is not a dict with
    exactly ``keys``; it returns that record's index (``len(records)`` when none)."""
    env: dict[str, Any] = {}
    loads, lines, names = _plan_values(model, keys, env, "        ")
    row = ", ".join(f"v{i}" for i, _ in _numbered(model, names))
    # the constants as parameter defaults: locals, read with LOAD_FAST on every record
    consts = "".join(f", {name}={name}" for name in env if not name.startswith("__"))
    # a dict of len(keys) entries from which every key of ``keys`` reads has exactly ``keys``
    src = "\n".join([
        f"def bulk(rows, start, out{consts}, type=type, dict=dict, len=len, KeyError=KeyError):",
        "    for at in range(start, len(rows)):",
        "        d = rows[at]",
        f"        if type(d) is not dict or len(d) != {len(keys)}:",
        "            return at",
        "        try:",
        *[f"            {load}" for load in loads or ["pass"]],
        "        except KeyError:",
        "            return at",
        *lines,
        f"        out += ({row},)",
        "    return len(rows)",
    ]) + "\n"
    exec(compile(src, "<farmorm bulk plan>", "exec"), env)  # noqa: S102 - trusted source, see create_plan
    return tuple(names), env["bulk"]


def create_rows(model: ModelMeta, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """``create_values`` for each of ``rows`` (``create_many``), with the same results and errors.

    The checks that depend only on which keys a record has (unknown fields, relations, the
    version field, missing required fields) and the per-field plan run once per distinct key
    set, not once per row: a 1,000-row insert pays them once. Every value is still checked, its
    common case inline (see ``create_plan``)."""
    plans = _plans(model)
    out: list[dict[str, Any]] = []
    for data in rows:
        plan = plans.get(frozenset(data)) if type(data) is dict else None
        out.append(create_values(model, data) if plan is None else plan(data))
    return out


#: where a model keeps its bulk plans ({key set: (columns, plan)}), as many key sets as create plans
_BULK_KEY = "_farmorm_bulk_plans"


def create_flat(model: ModelMeta, rows: Sequence[Any]) -> tuple[tuple[str, ...], list[Any]]:
    """``create_rows`` as a multi-row INSERT binds it: the columns (every field any record fills,
    in schema order) and the records' values in them, row by row (value ``r * len(columns) + c``
    is record ``r``'s column ``c``; a record without a column gives None there).

    When the records share one key set (a create_many's usual shape), one generated loop per key
    set (``bulk_plan``) checks and lays out every record without building a dict per record;
    from the first record with other keys on, the records take ``create_rows``. Values, order
    and errors are those of ``create_rows`` (each record's defaults are computed once)."""
    if not rows or type(rows[0]) is not dict:
        return _union(model, create_rows(model, rows))
    first = create_values(model, rows[0])  # the key checks, once for this key set
    keys = frozenset(rows[0])
    found: dict[frozenset[str], tuple[tuple[str, ...], _BulkPlan]] | None = vars(model).get(_BULK_KEY)
    if found is None:
        found = vars(model)[_BULK_KEY] = {}
    bulk = found.get(keys)
    if bulk is None and keys in _plans(model) and len(found) < _MAX_PLANS:
        bulk = found[keys] = bulk_plan(model, keys)
    if bulk is None:  # no plan for this key set (a model past _MAX_PLANS key sets)
        return _union(model, [first, *create_rows(model, rows[1:])])
    columns, plan = bulk
    flat = list(first.values())
    done = plan(rows, 1, flat)
    if done == len(rows):
        return columns, flat
    width = len(columns)  # a record with other keys: the rest take create_rows
    records = [dict(zip(columns, flat[r * width:(r + 1) * width])) for r in range(done)]
    return _union(model, records + create_rows(model, rows[done:]))


def _union(model: ModelMeta, records: list[dict[str, Any]]) -> tuple[tuple[str, ...], list[Any]]:
    """The flat layout of records with different key sets: every field any of them fills."""
    columns = tuple(f for f in model.fields if any(f in r for r in records))
    for f in model.fields.values():
        if f.generated == "increment" and f.name in columns and not all(f.name in r for r in records):
            raise validation_error(
                f'create_many on model "{model.name}" cannot mix records with and without "{f.name}".',
                model=model.name, field=f.name,
            )
    return columns, [r.get(c) for r in records for c in columns]


def _refuse_protected(model: ModelMeta, data: Mapping[str, Any], *, update: bool = True) -> None:
    """Write data may not set the soft-delete / archive marker, and update data may not move a
    record's identity (mass assignment: a request body passed as ``data``)."""
    if model.soft_delete_field is None and model.archive_field is None and not update:
        return
    for key in data:
        f = model.fields[key]
        if update and (f.is_id or (model.identity is not None and key in model.identity and len(model.identity) == 1)):
            raise validation_error(
                f'Field "{key}" on model "{model.name}" is the record\'s identity: an update cannot change it.',
                model=model.name, field=key,
            )
        if key in (model.soft_delete_field, model.archive_field):
            how = "delete() and restore()" if key == model.soft_delete_field else "archive() and unarchive()"
            raise validation_error(
                f'Field "{key}" on model "{model.name}" is managed by {how}: it cannot be set in data.',
                model=model.name, field=key,
            )


class Atomic:
    """A parsed atomic operation in update data: ``{"increment": 1}`` is ``Atomic("add", 1)``."""

    __slots__ = ("op", "value")

    def __init__(self, op: str, value: Any) -> None:
        self.op = op
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Atomic) and (self.op, self.value) == (other.op, other.value)

    def __hash__(self) -> int:
        return hash((self.op, self.value))

    def __repr__(self) -> str:
        return f"Atomic({self.op!r}, {self.value!r})"


#: the atomic operations of update data and the node operator each becomes
ATOMIC_OPS = {"increment": "add", "decrement": "sub", "multiply": "mul", "divide": "div"}
#: field kinds that take atomic operations
NUMERIC_KINDS = frozenset({"integer", "bigint", "decimal"})


def _update_value(model: ModelMeta, f: FieldMeta, v: Any) -> Any:
    """One update value: a plain value, ``{"set": v}``, or an atomic operation on a number field."""
    if f.kind not in NUMERIC_KINDS or not isinstance(v, Mapping):
        return check_writable(model, f, v)
    where = f'field "{f.name}" on model "{model.name}"'
    if len(v) != 1:
        raise validation_error(
            f"An update of {where} takes exactly one operation (set, increment, decrement, multiply, "
            f"divide), got {', '.join(repr(k) for k in v) or 'none'}.",
            model=model.name, field=f.name,
        )
    (key, operand), = v.items()
    if key == "set":
        return check_writable(model, f, operand)
    op = ATOMIC_OPS.get(key) if isinstance(key, str) else None
    if op is None:
        raise validation_error(
            f'Unknown update operation {key!r} for {where}. Use one of: set, increment, decrement, '
            "multiply, divide.",
            model=model.name, field=f.name,
        )
    if operand is None:
        raise validation_error(f'The {key} operand for {where} cannot be null.', model=model.name, field=f.name)
    value = check_value(model, f, operand)
    if op == "div" and value == 0:
        raise validation_error(f"Cannot divide {where} by zero.", model=model.name, field=f.name)
    return Atomic(op, value)


def update_values(model: ModelMeta, data: Any) -> dict[str, Any]:
    """Validate update data (no defaults: ``default_now`` applies on create only).

    A number field may take an atomic operation instead of a value (``{"increment": 1}``,
    ``decrement``, ``multiply``, ``divide``; ``{"set": v}`` is a plain value): it comes back
    as an :class:`Atomic`, which :func:`assignments` turns into an ``Arith`` node."""
    data = _mapping(model, "data", data)
    _check_keys(model, data)
    _refuse_version(model, data)
    _refuse_protected(model, data)
    return {k: _update_value(model, model.fields[k], v) for k, v in data.items()}


def assignments(
    values: Mapping[str, Any], params: list[Any]
) -> tuple[tuple[str, ...], tuple[n.Param, ...], tuple[n.Arith, ...]]:
    """Update values -> (set columns, their params, atomic operations), appending to ``params``."""
    columns: list[str] = []
    slots: list[n.Param] = []
    arith: list[n.Arith] = []
    for name, value in values.items():
        if type(value) is Atomic:
            params.append(value.value)
            arith.append(n.Arith(name, value.op, n.Param(len(params) - 1)))  # type: ignore[arg-type]
        else:
            params.append(value)
            columns.append(name)
            slots.append(n.Param(len(params) - 1))
    return tuple(columns), tuple(slots), tuple(arith)


# ---------------------------------------------------------------------------------------------
# unique lookups (find_unique, upsert): the reference's requireUniqueLookup


def unique_lookup(model: ModelMeta, where: Any, operation: str) -> dict[str, Any]:
    """Check that ``where`` is an equality lookup on the id, a unique field or a compound unique."""
    if type(where) is dict and len(where) == 1:  # the commonest lookup, {"id": value}: decided here
        for key, value in where.items():
            f = model.fields.get(key)
            if f is not None and (f.kind == "id" or f.unique) and value is not None and not isinstance(value, Mapping):
                return {key: value}
    prefix = f'{operation} on model "{model.name}"'
    if not isinstance(where, Mapping) or not where or any(k in ("AND", "OR", "NOT") for k in where):
        raise validation_error(f'{prefix} requires a unique equality filter in "where".', model=model.name)
    values: dict[str, Any] = {}
    for key, value in where.items():
        f = model.fields.get(key)
        if f is None:
            raise validation_error(f'Unknown field "{key}" on model "{model.name}".', model=model.name, field=key)
        if isinstance(value, Mapping) and f.kind != "json":
            value = value["eq"] if list(value) == ["eq"] else None
        if value is None:
            raise validation_error(
                f'{prefix} requires the "where" field "{key}" to use a single non-null equality value.',
                model=model.name, field=key,
            )
        values[key] = value
    keys = set(values)
    ok = (len(keys) == 1 and (model.fields[next(iter(keys))].kind == "id" or model.fields[next(iter(keys))].unique)) \
        or any(set(c.fields) == keys for c in model.uniques)
    if not ok:
        raise validation_error(
            f'{prefix} requires the "where" clause to match an id field, unique field, or declared unique '
            "constraint using equality values only.",
            model=model.name,
        )
    return values


def upsert_values(
    model: ModelMeta, where: Any, create: Any, update: Any
) -> tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]:
    """Validate an upsert: returns (create values, update values, conflict fields)."""
    lookup = unique_lookup(model, where, "Upsert")
    create_map = dict(_mapping(model, "create", create))
    update_map = dict(_mapping(model, "update", update if update is not None else {}))
    for key, value in lookup.items():
        f = model.fields[key]
        wanted = check_writable(model, f, value)
        if key in create_map:
            if check_writable(model, f, create_map[key]) != wanted:
                raise validation_error(
                    f'Upsert on model "{model.name}" requires create.{key} to match where.{key}.',
                    model=model.name, field=key,
                )
        else:
            create_map[key] = value
        if key in update_map:
            given = update_map[key]
            if given is None or (f.kind in NUMERIC_KINDS and isinstance(given, Mapping)) \
                    or check_writable(model, f, given) != wanted:
                raise validation_error(
                    f'Upsert on model "{model.name}" cannot change the conflict field "{key}".',
                    model=model.name, field=key,
                )
            del update_map[key]
    return create_values(model, create_map, "create"), update_values(model, update_map), tuple(lookup)


# ---------------------------------------------------------------------------------------------
# the cheap path: what a write returns (``returning=``)

#: per write method, the ``returning`` values it takes (the first is the default: the records)
RETURNING = {
    "create": ("record", "id", "none"),
    "create_many": ("records", "ids", "count"),
    "update": ("record", "count"),
}


def check_returning(model: ModelMeta, method: str, returning: Any, select: Any, include: Any) -> str:
    """Validate ``returning=`` of a write; only the records take ``select`` / ``include``."""
    allowed = RETURNING[method]
    if returning not in allowed:
        raise validation_error(
            f'Invalid returning for {method} on model "{model.name}": expected one of '
            f"{', '.join(repr(a) for a in allowed)}, got {returning!r}.",
            model=model.name,
        )
    if returning != allowed[0] and (select is not None or include is not None):
        raise validation_error(
            f'{method} on model "{model.name}" with returning={returning!r} returns no records: '
            "drop select / include, or ask for the records.",
            model=model.name,
        )
    return str(returning)


def identity_where(model: ModelMeta, record: Mapping[str, Any]) -> dict[str, Any]:
    """The where that names exactly ``record``: its identity fields and their values."""
    return {f: record[f] for f in model.identity or ()}


def identity_of(model: ModelMeta, record: Mapping[str, Any]) -> Any:
    """A record's id: the value for a one-field identity, else a dict of the identity fields."""
    ident = model.identity or ()
    if len(ident) == 1:
        return record[ident[0]]
    return identity_where(model, record)
