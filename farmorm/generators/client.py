"""``farmorm generate client``: a typed module per schema (docs/typed-client.md).

Per model it writes the record types (a msgspec Struct for ``as_=``, the record TypedDict with
relations ``NotRequired``, the partial record a ``select`` returns), the query arguments
(``Where`` with per-field operator filters, enum ``Literal``s, relation filters and AND/OR/NOT;
the unique ``where``; ``OrderBy``; ``Select``/``Include``; ``Create``/``Update`` data) and a
client protocol; then ``TypedClient``, whose attributes are the Orm's model clients typed by
those protocols. The text depends only on the schema (deterministic) and passes mypy --strict,
basedpyright and ruff (tests/typing).

TypedDicts come from ``typing_extensions`` so Pydantic (and FastAPI) accept them on Python 3.11
as response models (docs/typed-client.md#fastapi-and-pydantic).
"""

from __future__ import annotations

import dataclasses
import json
import keyword
import re

from ..schema.manifest import FieldMeta, ModelMeta, RelationMeta, Schema
from ..schema.structs import class_name, model_doc
from ..schema.fingerprint import model_hash

_RECORD = {
    "string": "str", "boolean": "bool", "integer": "int", "bigint": "int",
    "decimal": "_decimal.Decimal", "datetime": "_dt.datetime", "json": "Json",
}
#: what a write (and a where value) accepts per kind, where it is wider than what a read returns
_INPUT = {"decimal": "DecimalInput"}
#: aggregate functions (a field named like one cannot be a group_by key) and the kinds each takes
FUNCTIONS = ("count", "sum", "avg", "min", "max")
_NUMERIC = frozenset({"integer", "bigint", "decimal"})
_MIN_MAX = _NUMERIC | {"datetime", "string"}
AGGREGATE_SUFFIXES = (
    "CountInput", "SumInput", "MinMaxInput", "CountResult", "SumResult", "AvgResult", "MinMaxResult",
    "AggregateResult", "GroupField", "GroupRow", "CountHaving", "SumHaving", "AvgHaving", "MinMaxHaving", "Having",
    "CountOrder", "SumOrder", "MinMaxOrder", "GroupOrderBy",
)
_FILTER = {
    "string": "StringFilter", "boolean": "BoolFilter", "integer": "IntFilter", "bigint": "IntFilter",
    "decimal": "DecimalFilter", "datetime": "DateTimeFilter",
}
#: names the module imports from farmorm.typed when it uses them
_TYPED_NAMES = (
    "Aggregates", "Archives", "AvgFilter", "AvgInput", "DecimalUpdate", "IntUpdate", "Json", "NotRequired", "NullableDecimalUpdate",
    "NullableIntUpdate", "RelationCountOrder", "SortSpec", "Struct", "TypedDict", "BoolFilter", "DateTimeFilter", "DecimalFilter", "DecimalInput", "IntFilter", "NullableBoolFilter",
    "NullableDateTimeFilter", "NullableDecimalFilter", "NullableIntFilter", "NullableStringFilter", "QueryMode",
    "SoftDeletes", "SortOrder", "StringFilter", "TypedModelClient", "TypedOrm",
)
_TYPING_NAMES = ("Any", "Literal", "Never", "Protocol", "TypeAlias", "cast")
_RESERVED = frozenset(
    (*_TYPED_NAMES, *_TYPING_NAMES, "cached_property", "Sequence",
     "TypedClient", "SCHEMA_HASHES", "STRUCTS", "Orm")
)


def _str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _alias_literal(name: str, values: list[str]) -> list[str]:
    """``Name: TypeAlias = Literal[...]``, one value per line when it would not fit on one."""
    if not values:
        return [f"{name}: TypeAlias = Never"]
    line = f"{name}: TypeAlias = Literal[{', '.join(_str(v) for v in values)}]"
    if len(line) <= 100:
        return [line]
    return [f"{name}: TypeAlias = Literal[", *(f"    {_str(v)}," for v in values), "]"]


def _alias_union(name: str, parts: list[str]) -> list[str]:
    """``Name: TypeAlias = A | B``, one member per line when it would not fit on one."""
    line = f"{name}: TypeAlias = {' | '.join(parts)}"
    if len(line) <= 100 or len(parts) < 2:
        return [line]
    return [f"{name}: TypeAlias = (", f"    {parts[0]}", *(f"    | {p}" for p in parts[1:]), ")"]


def _doc(text: str, indent: str = "    ") -> str:
    safe = " ".join(text.split()).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return f'{indent}"""{safe}"""'


class _Names:
    """The generated class names of each model (``user`` -> ``User``, ``UserRecord``, ``UserWhere`` …);
    two models (or a model and farmorm's imports) that map to one name are an error."""

    SUFFIXES = ("", "Record", "Partial", "Where", "WhereUnique", "OrderBy", "Select", "Include", "Args",
                "Create", "Update", "Client", "ListFilter", "RefFilter", "CountSelect", "RelationCounts", "CountArgs",
                "DistinctField", "Identity",
                *AGGREGATE_SUFFIXES)

    def __init__(self, schema: Schema) -> None:
        self.base = {name: class_name(name) for name in schema.models}
        taken: dict[str, str] = {}
        for m in schema.models.values():
            for cls in self.all_of(m):
                other = taken.get(cls)
                if other is not None or cls in _RESERVED or keyword.iskeyword(cls):
                    who = f'models "{other}" and "{m.name}" both' if other else f'model "{m.name}"'
                    raise ValueError(f'Cannot generate the typed client: {who} map to the name "{cls}". Rename a model.')
                taken[cls] = m.name

    def of(self, model: str, suffix: str = "") -> str:
        return self.base[model] + suffix

    def all_of(self, m: ModelMeta) -> list[str]:
        out = [self.of(m.name, s) for s in self.SUFFIXES]
        out += [self.of(m.name, _pascal(f.name)) for f in m.fields.values() if f.value_kind == "enum"]
        for f in m.fields.values():
            if f.value_kind == "enum":
                stem = self.of(m.name, _pascal(f.name) + ("Nullable" if f.nullable else ""))
                out += [stem + "Filter", stem + "CaseFilter", stem + "RangeFilter"]
        out += [self.of(m.name, "UniqueBy" + "".join(_pascal(p) for p in key)) for key in _unique_keys(m)]
        return out


def _pascal(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.split("_") if p) or name


def _unique_keys(m: ModelMeta) -> list[tuple[str, ...]]:
    """The field sets ``find_unique`` / ``upsert`` accept: the id, each unique field, each compound unique."""
    keys: list[tuple[str, ...]] = []
    for f in m.fields.values():
        if f.kind == "id" or f.unique:
            keys.append((f.name,))
    for c in m.uniques:
        if c.fields not in keys:
            keys.append(tuple(c.fields))
    return keys


def _safe_key(name: str) -> bool:
    """Whether ``name`` can be a TypedDict class-body key (not a keyword, not name-mangled)."""
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("__")


def _typeddict(name: str, items: list[tuple[str, str, bool]], *, total: bool, doc: str,
               pending: set[str]) -> list[str]:
    """A TypedDict: class syntax, or the functional form when a key cannot be a class attribute.
    ``items`` are (key, type source, flip): flip marks a ``NotRequired`` key of a total TypedDict
    (for ``total=False`` it is ignored). ``pending``: generated names not defined yet."""
    def typ(src: str, flip: bool) -> str:
        src = _forward(src, pending | {name})
        return f"NotRequired[{src}]" if flip and total else src

    if not all(_safe_key(k) for k, _, _ in items):
        lines = _functional(name, [(k, typ(src, flip)) for k, src, flip in items], total=total, pending=set())
    else:
        lines = [f"class {name}(TypedDict{'' if total else ', total=False'}):", _doc(doc)]
        if items:
            lines.append("")
        lines += [f"    {key}: {typ(src, flip)}" for key, src, flip in items]
    pending.discard(name)
    return lines


def _forward(src: str, pending: set[str]) -> str:
    """``src`` quoted when it names a type defined further down (the module has no
    ``from __future__ import annotations``: TypedDicts then see ``NotRequired`` at run time too)."""
    return _str(src) if set(re.findall(r"\b\w+\b", src)) & pending else src


def _functional(name: str, items: list[tuple[str, str]], *, total: bool, pending: set[str]) -> list[str]:
    """A TypedDict in the functional form (keys such as ``not`` and ``in``), one key per line."""
    lines = [f"{name} = TypedDict(", f"    {_str(name)},", "    {"]
    lines += [f"        {_str(k)}: {_forward(src, pending | {name})}," for k, src in items]
    lines += ["    },"] if total else ["    },", "    total=False,"]
    lines.append(")")
    pending.discard(name)
    return lines


class _Model:
    """Renders the types of one model."""

    def __init__(self, schema: Schema, names: _Names, m: ModelMeta, pending: set[str]) -> None:
        self.pending = pending
        self.schema = schema
        self.names = names
        self.m = m
        self.cls = names.of(m.name)

    def name(self, suffix: str, model: str | None = None) -> str:
        return self.names.of(model or self.m.name, suffix)

    def enum(self, f: FieldMeta) -> str:
        return self.name(_pascal(f.name))

    def value(self, f: FieldMeta, *, write: bool) -> str:
        """The Python type of a value of ``f`` (read: what records hold; write: what data accepts)."""
        kind = f.value_kind
        if kind == "enum":
            text = self.enum(f)
        else:
            text = (_INPUT.get(kind) if write else None) or _RECORD[kind]
        return f"{text} | None" if f.nullable and kind != "json" else text

    def relation_type(self, r: RelationMeta, suffix: str) -> str:
        target = self.name(suffix, r.target)
        return f"list[{target}]" if r.to_many else f"{target} | None"

    # -- blocks --------------------------------------------------------------------------------
    def enums(self) -> list[str]:
        out: list[str] = []
        for f in self.m.fields.values():
            if f.value_kind != "enum":
                continue
            lit = self.enum(f)
            out += _alias_literal(lit, list(f.enum_values or ()))
            self.pending.discard(lit)
            # two shapes, as farmorm.typed.StringFilter: mode (case-insensitive) or comparisons
            fname = self.name(_pascal(f.name) + ("NullableFilter" if f.nullable else "Filter"))
            eq = f"{lit} | None" if f.nullable else lit
            common = [("eq", eq), ("not", f"{eq} | {fname}"), ("in", f"list[{lit}] | tuple[{lit}, ...]"),
                      ("not_in", f"list[{lit}] | tuple[{lit}, ...]"), ("contains", "str"), ("starts_with", "str"),
                      ("ends_with", "str")]
            case, ranged = fname.removesuffix("Filter") + "CaseFilter", fname.removesuffix("Filter") + "RangeFilter"
            out += _functional(case, [*common, ("mode", "QueryMode")], total=False, pending=self.pending)
            out += _functional(ranged, [*common, ("gt", lit), ("gte", lit), ("lt", lit), ("lte", lit)], total=False,
                               pending=self.pending)
            out.append(f"{fname}: TypeAlias = {case} | {ranged}")
            self.pending.discard(fname)
        return out

    def struct(self) -> list[str]:
        lines = [f"class {self.cls}(Struct):", _doc(model_doc(self.m) + " Read into it with as_=."), ""]
        for f in self.m.fields.values():
            if f.description:
                lines.append(f"    #: {' '.join(f.description.split())}")
            lines.append(f"    {f.name}: {self.value(f, write=False)}")
        return lines

    def record(self) -> list[str]:
        items = [(f.name, self.value(f, write=False), False) for f in self.m.fields.values()]
        items += [(r.name, self.relation_type(r, "Record"), True) for r in self.m.relations.values()]
        if self.to_many():
            items.append(("_count", self.name("RelationCounts"), True))
        return _typeddict(self.name("Record"), items, total=True,
                          doc=f'A record of model "{self.m.name}" (relations only when included).', pending=self.pending)

    def partial(self) -> list[str]:
        items = [(f.name, self.value(f, write=False), False) for f in self.m.fields.values()]
        items += [(r.name, self.relation_type(r, "Partial"), False) for r in self.m.relations.values()]
        if self.to_many():
            items.append(("_count", self.name("RelationCounts"), False))
        return _typeddict(self.name("Partial"), items, total=False,
                          doc=f'A record of model "{self.m.name}" read with select: only the selected keys.', pending=self.pending)

    def where_value(self, f: FieldMeta) -> str:
        kind = f.value_kind
        if kind == "json":
            return "Json"
        if kind == "enum":
            base, filt = self.enum(f), self.name(_pascal(f.name) + ("NullableFilter" if f.nullable else "Filter"))
        else:
            base, filt = _INPUT.get(kind) or _RECORD[kind], ("Nullable" if f.nullable else "") + _FILTER[kind]
        return f"{base} | {filt} | None" if f.nullable else f"{base} | {filt}"

    def where(self) -> list[str]:
        w = self.name("Where")
        items = [(f.name, self.where_value(f), False) for f in self.m.fields.values()]
        for r in self.m.relations.values():
            target = r.target
            if r.to_many:
                items.append((r.name, self.name("ListFilter", target), False))
            else:
                items.append((r.name, f"{self.name('Where', target)} | {self.name('RefFilter', target)} | None", False))
        items += [("AND", f"{w} | Sequence[{w}]", False), ("OR", f"{w} | Sequence[{w}]", False),
                  ("NOT", f"{w} | Sequence[{w}]", False)]
        return _typeddict(w, items, total=False, doc=f'A where clause on model "{self.m.name}".', pending=self.pending)

    def relation_filters(self) -> list[str]:
        w = self.name("Where")
        return [
            *_typeddict(self.name("ListFilter"), [("some", w, False), ("every", w, False), ("none", w, False)],
                        total=False, doc=f'Filter on a to-many relation to model "{self.m.name}".', pending=self.pending),
            "",
            "",
            *_typeddict(self.name("RefFilter"), [("is", f"{w} | None", False), ("is_not", f"{w} | None", False)],
                        total=False, doc=f'Filter on a to-one relation to model "{self.m.name}".', pending=self.pending),
        ]

    def unique(self) -> list[str]:
        out: list[str] = []
        choices: list[str] = []
        for key in _unique_keys(self.m):
            cls = self.name("UniqueBy" + "".join(_pascal(p) for p in key))
            choices.append(cls)
            items = [(k, self.value(self.m.fields[k], write=True).removesuffix(" | None"), False) for k in key]
            out += _typeddict(cls, items, total=True,
                              doc=f'Names one record of model "{self.m.name}" by {", ".join(key)}.', pending=self.pending)
            out += ["", ""]
        out += _alias_union(self.name("WhereUnique"), choices or ["Never"])
        self.pending.discard(self.name("WhereUnique"))
        return out

    def to_many(self) -> list[RelationMeta]:
        return [r for r in self.m.relations.values() if r.to_many]

    def counts(self) -> list[str]:
        """``_count`` in select / include (how many related records per to-many relation) and its result."""
        if not self.to_many():
            return []
        return [
            *_typeddict(self.name("CountSelect"),
                        [(r.name, f"bool | {self.name('CountArgs', r.target)}", False) for r in self.to_many()],
                        total=False, doc=f'"_count" in a select or include of model "{self.m.name}".',
                        pending=self.pending),
            "",
            "",
            *_typeddict(self.name("RelationCounts"), [(r.name, "int", False) for r in self.to_many()], total=False,
                        doc=f'"_count" of a record of model "{self.m.name}": the relations asked for.',
                        pending=self.pending),
        ]

    def count_args(self) -> list[str]:
        return _typeddict(self.name("CountArgs"), [("where", self.name("Where"), False)], total=False,
                          doc=f'Which related records of model "{self.m.name}" a "_count" counts.',
                          pending=self.pending)

    def identity(self) -> list[str]:
        """What ``create(returning="id")`` returns: the id's value, or a dict of a compound identity."""
        ident = self.m.identity or ()
        name = self.name("Identity")
        if len(ident) == 1:
            self.pending.discard(name)
            return [f"{name}: TypeAlias = {self.value(self.m.fields[ident[0]], write=False).removesuffix(' | None')}"]
        return _typeddict(name, [(k, self.value(self.m.fields[k], write=False).removesuffix(" | None"), False)
                                 for k in ident], total=True,
                          doc=f'The identity of a record of model "{self.m.name}".', pending=self.pending)

    def distinct(self) -> list[str]:
        """The fields ``distinct=`` may name (every field but JSON ones)."""
        out = _alias_literal(self.name("DistinctField"), [f.name for f in self.m.fields.values() if f.value_kind != "json"])
        self.pending.discard(self.name("DistinctField"))
        return out

    def order_by(self) -> list[str]:
        items = [(f.name, "SortOrder | SortSpec", False) for f in self.m.fields.values()]
        items += [(r.name, "RelationCountOrder" if r.to_many else self.name("OrderBy", r.target), False)
                  for r in self.m.relations.values()]
        return _typeddict(self.name("OrderBy"), items, total=False, doc=f'Sort order of model "{self.m.name}".', pending=self.pending)

    def select(self) -> list[str]:
        items = [(f.name, "bool", False) for f in self.m.fields.values()]
        items += [(r.name, f"bool | {self.name('Args', r.target)}", False) for r in self.m.relations.values()]
        if self.to_many():
            items.append(("_count", self.name("CountSelect"), False))
        return _typeddict(self.name("Select"), items, total=False,
                          doc=f'Which fields and relations of model "{self.m.name}" to read.', pending=self.pending)

    def include(self) -> list[str]:
        items = [(r.name, f"bool | {self.name('Args', r.target)}", False) for r in self.m.relations.values()]
        if self.to_many():
            items.append(("_count", self.name("CountSelect"), False))
        return _typeddict(self.name("Include"), items, total=False,
                          doc=f'Which relations of model "{self.m.name}" to read with every field.', pending=self.pending)

    def args(self) -> list[str]:
        o = self.name("OrderBy")
        items = [("where", self.name("Where"), False), ("select", self.name("Select"), False),
                 ("include", self.name("Include"), False), ("order_by", f"{o} | Sequence[{o}]", False),
                 ("take", "int", False), ("skip", "int", False)]
        return _typeddict(self.name("Args"), items, total=False,
                          doc=f'The query of a relation level that reads model "{self.m.name}".', pending=self.pending)

    def _writable(self, f: FieldMeta) -> bool:
        m = self.m
        return f.generated != "version" and f.name not in (m.soft_delete_field, m.archive_field)

    # -- create data, with nested writes (docs/queries.md#nested-writes) -------------------------
    def _fk_required(self, r: RelationMeta) -> bool:
        f = self.m.fields[r.local_field]
        return not (f.nullable or f.has_default or f.generated is not None)

    def _create_scalars(self, skip: set[str]) -> list[tuple[str, str, bool]]:
        items = []
        for f in self.m.fields.values():
            if self._writable(f) and f.name not in skip:
                optional = f.generated is not None or f.has_default or f.nullable
                items.append((f.name, self.value(f, write=True), optional))
        return items

    def create_shapes(self, stem: str, fk: str | None, doc: str) -> list[str]:
        """Create data named ``stem``: scalar fields plus nested relation operations. A required
        foreign key of a belongs_to relation is given either as the field or through the relation
        (``{"author": {"connect": {...}}}``), never both: one TypedDict per choice, and ``stem`` their
        union (up to three such relations; past that both are optional). ``fk``: the foreign key a
        nesting parent sets (left out, with the relation it belongs to)."""
        m = self.m
        rels = [r for r in m.relations.values() if not (r.kind == "belongs_to" and r.local_field == fk)]
        choice = [r for r in rels if r.kind == "belongs_to" and self._fk_required(r)]
        if len(choice) > 3:
            choice = []
        chosen_fks = {r.local_field for r in choice}
        skip = {fk} if fk else set()
        base = self._create_scalars(skip | chosen_fks)
        loose = [(r.name, self.name(_pascal(r.name) + "NestedCreate"), True) for r in rels if r not in choice]
        if not choice:
            return _typeddict(stem, [*base, *loose], total=True, doc=doc, pending=self.pending)
        out: list[str] = []
        names: list[str] = []
        for mask in range(2 ** len(choice)):
            items = list(base)
            label = []
            for i, r in enumerate(choice):
                if mask >> i & 1:
                    items.append((r.name, self.name(_pascal(r.name) + "NestedCreate"), False))
                    label.append(_pascal(r.name))
                else:
                    f = m.fields[r.local_field]
                    items.append((f.name, self.value(f, write=True), False))
                    label.append(_pascal(f.name))
            name = f"{stem}With{''.join(label)}"
            names.append(name)
            out += _typeddict(name, [*items, *loose], total=True, doc=doc, pending=self.pending)
            out += ["", ""]
        out += _alias_union(stem, names)
        self.pending.discard(stem)
        return out

    def create(self) -> list[str]:
        out = self.create_shapes(self.name("Create"), None,
                                 f'Data to create a record of model "{self.m.name}" (required keys have no default).')
        for fk in self.nested_fks():
            out += ["", ""]
            out += self.create_shapes(self.name("CreateWithout" + _pascal(fk)), fk,
                                      f'Data to create a record of model "{self.m.name}" inside a nested write that '
                                      f'sets its "{fk}".')
        return out

    def nested_fks(self) -> list[str]:
        """This model's foreign keys that a has_many / has_one relation of another model sets."""
        out: list[str] = []
        for other in self.schema.models.values():
            for r in other.relations.values():
                if r.target == self.m.name and r.kind in ("has_many", "has_one") and r.remote_field not in out:
                    out.append(r.remote_field)
        return out

    def nested_ops(self) -> list[str]:
        """Per relation: the nested operations of create data (and of update data, to-many)."""
        out: list[str] = []
        for r in self.m.relations.values():
            t = r.target
            wu, where, upd = self.name("WhereUnique", t), self.name("Where", t), self.name("Update", t)
            item = self.name("CreateWithout" + _pascal(r.remote_field), t) if r.kind in ("has_many", "has_one") \
                else self.name("Create", t)
            rel = self.name(_pascal(r.name))

            def many(x: str) -> str:
                return f"{x} | Sequence[{x}]" if r.to_many else x

            def td(suffix: str, items: list[tuple[str, str]], doc: str, total: bool = True) -> None:
                out.extend(_typeddict(rel + suffix, [(k, v, False) for k, v in items], total=total, doc=doc,
                                      pending=self.pending))
                out.extend(["", ""])

            td("ConnectOrCreate", [("where", wu), ("create", item)],
               f'Nested connect_or_create of relation "{r.name}" of model "{self.m.name}".')
            td("NestedCreate", [("create", many(item)), ("connect", many(wu)),
                                ("connect_or_create", many(rel + "ConnectOrCreate"))],
               f'Nested writes of relation "{r.name}" in create data of model "{self.m.name}".', total=False)
            if not r.to_many:
                continue
            td("UpdateOne", [("where", wu), ("data", upd)], f'Nested update of relation "{r.name}".')
            td("UpdateMany", [("where", where), ("data", upd)], f'Nested update_many of relation "{r.name}".')
            td("Upsert", [("where", wu), ("create", item), ("update", upd)], f'Nested upsert of relation "{r.name}".')
            td("NestedUpdate", [
                ("create", many(item)), ("connect", many(wu)), ("connect_or_create", many(rel + "ConnectOrCreate")),
                ("disconnect", many(wu)), ("set", many(wu)), ("update", many(rel + "UpdateOne")),
                ("update_many", many(rel + "UpdateMany")), ("delete", many(wu)), ("delete_many", many(where)),
                ("upsert", many(rel + "Upsert")),
            ], f'Nested writes of relation "{r.name}" in update data of model "{self.m.name}".', total=False)
        return out[:-2] if out else out

    def update(self) -> list[str]:
        m = self.m
        single = m.identity if m.identity is not None and len(m.identity) == 1 else ()
        items = [(f.name, self.update_value(f), False) for f in m.fields.values()
                 if self._writable(f) and not f.is_id and f.name not in single]
        items += [(r.name, self.name(_pascal(r.name) + "NestedUpdate"), False) for r in m.relations.values()
                  if r.to_many]
        return _typeddict(self.name("Update"), items, total=False,
                          doc=f'Data to update records of model "{self.m.name}" (identity fields stay).', pending=self.pending)

    def update_value(self, f: FieldMeta) -> str:
        """A value, or for a number field one atomic operation (``{"increment": 1}``)."""
        if f.kind not in _NUMERIC:
            return self.value(f, write=True)
        base, op = ("DecimalInput", "DecimalUpdate") if f.kind == "decimal" else ("int", "IntUpdate")
        return f"{base} | Nullable{op} | None" if f.nullable else f"{base} | {op}"

    # -- aggregate / group_by ------------------------------------------------------------------
    def _agg_types(self) -> tuple[list[FieldMeta], list[FieldMeta], list[FieldMeta], list[FieldMeta]]:
        fields = list(self.m.fields.values())
        return (fields, [f for f in fields if f.value_kind in _NUMERIC], [f for f in fields if f.value_kind in _MIN_MAX],
                [f for f in fields if f.name not in FUNCTIONS])

    def aggregates(self) -> list[str]:
        fields, num, mm, keys = self._agg_types()
        name, model = self.name, self.m.name
        out: list[str] = []

        def td(suffix: str, items: list[tuple[str, str]], doc: str) -> None:
            out.extend(_typeddict(name(suffix), [(k, v, False) for k, v in items], total=False, doc=doc,
                                  pending=self.pending))
            out.extend(["", ""])

        def plain(f: FieldMeta) -> str:
            return self.value(f, write=False).removesuffix(" | None")

        td("CountInput", [("_all", "bool"), *((f.name, "bool") for f in fields)],
           f'count= of model "{model}": _all counts records, a field its non-null values.')
        td("SumInput", [(f.name, "bool") for f in num], f'sum= / avg= of model "{model}": its number fields.')
        td("MinMaxInput", [(f.name, "bool") for f in mm],
           f'min= / max= of model "{model}": its number, datetime and string fields.')
        td("CountResult", [("_all", "int"), *((f.name, "int") for f in fields)], f'Counts of model "{model}".')
        td("SumResult", [(f.name, f"{plain(f)} | None") for f in num], f'Sums of model "{model}" (None over no values).')
        td("AvgResult", [(f.name, "_decimal.Decimal | None" if f.value_kind == "decimal" else "float | None")
                         for f in num], f'Averages of model "{model}" (decimals stay exact).')
        td("MinMaxResult", [(f.name, f"{plain(f)} | None") for f in mm], f'Minimums or maximums of model "{model}".')
        aggs = [("count", f"int | {name('CountResult')}"), ("sum", name("SumResult")), ("avg", name("AvgResult")),
                ("min", name("MinMaxResult")), ("max", name("MinMaxResult"))]
        td("AggregateResult", aggs, f'aggregate() of model "{model}": the functions asked for.')
        out += [*_alias_literal(name("GroupField"), [f.name for f in keys]), "", ""]
        self.pending.discard(name("GroupField"))
        td("GroupRow", [*((f.name, self.value(f, write=False)) for f in keys), *aggs],
           f'A group_by() row of model "{model}": the grouped fields and the functions asked for.')
        td("CountHaving", [("_all", "int | IntFilter"), *((f.name, "int | IntFilter") for f in fields)],
           f'having on counts of model "{model}".')
        td("SumHaving", [(f.name, "DecimalInput | DecimalFilter" if f.value_kind == "decimal" else "int | IntFilter")
                         for f in num], f'having on sums of model "{model}".')
        td("AvgHaving", [(f.name, "AvgInput | AvgFilter") for f in num], f'having on averages of model "{model}".')
        td("MinMaxHaving", [(f.name, self.where_value(dataclasses.replace(f, nullable=False))) for f in mm],
           f'having on minimums or maximums of model "{model}".')
        h = name("Having")
        td("Having", [*((f.name, self.where_value(f)) for f in keys), ("count", name("CountHaving")),
                      ("sum", name("SumHaving")), ("avg", name("AvgHaving")), ("min", name("MinMaxHaving")),
                      ("max", name("MinMaxHaving")), ("AND", f"{h} | Sequence[{h}]"), ("OR", f"{h} | Sequence[{h}]"),
                      ("NOT", f"{h} | Sequence[{h}]")],
           f'having of a group_by() on model "{model}": grouped fields and aggregates.')
        order = "SortOrder | SortSpec"
        td("CountOrder", [("_all", order), *((f.name, order) for f in fields)], f'Sort by counts of model "{model}".')
        td("SumOrder", [(f.name, order) for f in num], f'Sort by sums or averages of model "{model}".')
        td("MinMaxOrder", [(f.name, order) for f in mm], f'Sort by minimums or maximums of model "{model}".')
        td("GroupOrderBy", [*((f.name, order) for f in keys), ("count", name("CountOrder")), ("sum", name("SumOrder")),
                            ("avg", name("SumOrder")), ("min", name("MinMaxOrder")), ("max", name("MinMaxOrder"))],
           f'order_by of a group_by() on model "{model}".')
        return out[:-2]

    def client(self) -> list[str]:
        args = ", ".join(self.name(s) for s in ("Record", "Partial", "Where", "WhereUnique", "OrderBy", "Select",
                                                "Include", "Create", "Update", "DistinctField", "Identity"))
        aggs = ", ".join(self.name(s) for s in ("Where", "CountInput", "SumInput", "MinMaxInput", "GroupField",
                                                 "Having", "GroupOrderBy", "AggregateResult", "GroupRow"))
        bases = [f"TypedModelClient[{args}]", f"Aggregates[{aggs}]"]
        if self.m.soft_delete_field:
            bases.append(f"SoftDeletes[{self.name('Where')}]")
        if self.m.archive_field:
            bases.append(f"Archives[{self.name('Where')}]")
        lines = [f"class {self.name('Client')}("]
        for b in bases:
            if "," in b:  # one type argument per line
                head, _, rest = b.partition("[")
                lines.append(f"    {head}[")
                lines += [f"        {a}," for a in rest.rstrip("]").split(", ")]
                lines.append("    ],")
            else:
                lines.append(f"    {b},")
        lines += ["    Protocol,", "):", _doc(f'orm.{self.m.name}, typed: the queries of model "{self.m.name}".')]
        return lines


class _Emitted(set[str]):
    """The names a first rendering pass emits (each emitted name is discarded from ``pending``), so
    the second pass knows every name defined further down and quotes references to them."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []

    def discard(self, name: object, /) -> None:
        assert isinstance(name, str)
        if name in self.order:
            raise ValueError(f'Cannot generate the typed client: two types map to the name "{name}". Rename a model '
                             "or relation.")
        self.order.append(name)


def _model_blocks(schema: Schema, names: _Names, pending: set[str]) -> tuple[list[_Model], list[list[str]]]:
    models = [_Model(schema, names, m, pending) for m in schema.models.values()]
    targets = {r.target for m in schema.models.values() for r in m.relations.values()}
    many_targets = {r.target for m in schema.models.values() for r in m.relations.values() if r.to_many}
    blocks: list[list[str]] = []
    for mod in models:
        m = mod.m
        blocks.append([f"# -- model {_str(m.name)} " + "-" * max(4, 90 - len(m.name))])
        enum_lines = mod.enums()
        if enum_lines:
            blocks.append(enum_lines)
        blocks += [mod.struct(), mod.record(), mod.partial(), mod.where()]
        if m.name in targets:
            blocks.append(mod.relation_filters())
        if m.name in many_targets:
            blocks.append(mod.count_args())
        if mod.to_many():
            blocks.append(mod.counts())
        blocks += [mod.unique(), mod.identity(), mod.distinct(), mod.order_by(), mod.select(), mod.include(), mod.args(),
                   mod.create(), mod.update(), mod.aggregates()]
        nested = mod.nested_ops()
        if nested:
            blocks.append(nested)
    return models, blocks


def render_client(schema: Schema) -> str:
    """The typed client module of ``schema`` (``farmorm generate client``); deterministic."""
    names = _Names(schema)
    emitted = _Emitted()
    _model_blocks(schema, names, emitted)  # first pass: which names the module defines, in order
    defined = set(emitted.order) | {n for m in schema.models.values() for n in names.all_of(m)}
    models, blocks = _model_blocks(schema, names, defined)
    blocks.append(["# -- the client " + "-" * 80])
    blocks += [mod.client() for mod in models]
    typed = ["class TypedClient(TypedOrm, schema_hashes=SCHEMA_HASHES):",
             _doc("An Orm seen through the schema's types: client = TypedClient(orm); client.<model> is orm.<model>."),
             ]
    for mod in models:
        cls = mod.name("Client")
        typed += ["", "    @cached_property", f"    def {mod.m.name}(self) -> {cls}:",
                  _doc(f'orm.{mod.m.name}, typed by {cls}.', "        "),
                  f"        return cast({_str(cls)}, self._model({_str(mod.m.name)}))"]
    blocks.append(typed)
    hashes = ["#: model name -> digest of what its types depend on; TypedClient(orm) checks the Orm's schema against it",
              "SCHEMA_HASHES = {"]
    hashes += [f"    {_str(m.name)}: {_str(model_hash(m))}," for m in schema.models.values()]
    hashes.append("}")
    structs = ["#: model name -> its Struct (for as_=)", "STRUCTS: dict[str, type[Struct]] = {"]
    structs += [f"    {_str(mod.m.name)}: {mod.cls}," for mod in models]
    structs.append("}")
    body_blocks = [hashes, *blocks, structs]
    body = "\n\n\n".join("\n".join(b) for b in body_blocks)
    # a model without fields of some kind needs no import for it: import what the body names
    used = set(re.findall(r"\b[A-Za-z_][A-Za-z_0-9]*\b", body))
    typed_names = sorted(n for n in _TYPED_NAMES if n in used)
    typing_names = sorted(n for n in _TYPING_NAMES if n in used)
    first = next(iter(schema.models), "model")
    head = [
        f'"""Typed client of the farmorm schema (models: {", ".join(schema.models)}).',
        "",
        "Generated by `farmorm generate client`: do not edit (`farmorm check client` fails when it is stale).",
        f"`client = TypedClient(orm)`: `client.{first}` is `orm.{first}` with its arguments and results typed, so",
        "mypy and pyright catch unknown models and fields, wrong value types and missing create data.",
        '"""',
        "",
    ]
    if "_dt" in used:
        head.append("import datetime as _dt")
    if "_decimal" in used:
        head.append("import decimal as _decimal")
    if "Sequence" in used:
        head.append("from collections.abc import Sequence")
    head.append("from functools import cached_property")
    if typing_names:
        head.append(f"from typing import {', '.join(typing_names)}")
    # one import outside the standard library, so isort agrees whether farmorm is first- or third-party
    head += ["", "from farmorm.typed import ("]
    head += [f"    {n}," for n in typed_names]
    head += [")", ""]
    exported = ["SCHEMA_HASHES", "STRUCTS", "TypedClient"]
    for mod in models:
        exported += names.all_of(mod.m)
    exported += [n for n in emitted.order if n not in exported]
    exported = sorted((n for n in exported if re.search(rf"^(class )?{re.escape(n)}\b", body, re.M)),
                      key=lambda n: (0 if n.isupper() else 1 if n[:1].isupper() else 2, n))
    tail = ["__all__ = ["] + [f"    {_str(n)}," for n in exported] + ["]"]
    return "\n".join(head) + "\n" + body + "\n\n\n" + "\n".join(tail) + "\n"


__all__ = ["render_client"]
