"""``define_schema``: validate the models and resolve them into the manifest every layer reads.

The manifest holds physical column names, qualified table names, resolved relation join fields
and deterministic constraint names, so no later layer re-derives them.
"""

from __future__ import annotations

import dataclasses
import keyword
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from ..core.errors import SchemaError
from .definition import ModelDef, RelationDef, RelationKind, TableName
from . import system as system_models
from .fields import MISSING, FieldBuilder, FieldKind
from .meta import (  # re-exported: every layer reads the manifest's parts from here
    ConstraintMeta as ConstraintMeta,
    FieldMeta as FieldMeta,
    ModelMeta as ModelMeta,
    RelationMeta as RelationMeta,
)
from .structs import make_struct

#: Attributes of the ORM client; a model with one of these names could not be reached as orm.<name>.
RESERVED_MODEL_NAMES = frozenset(
    {"driver", "schema", "transaction", "batch", "close", "aclose", "plan_cache", "on_query",
     "models", "model", "connection", "raw", "on_commit", "primary", "outbox", "idempotency",
     "replica_status", "reconnect"}
)


class Schema:
    """A validated schema: ``schema.models[name]`` is a :class:`ModelMeta`."""

    __slots__ = ("models", "definitions", "options", "_structs")

    def __init__(self, models: Mapping[str, ModelMeta], definitions: Mapping[str, ModelDef],
                 options: Iterable[str] = ()):
        self.models: Mapping[str, ModelMeta] = MappingProxyType(dict(models))
        self.definitions: Mapping[str, ModelDef] = MappingProxyType(dict(definitions))
        #: the system features switched on in ``define_schema`` (``"outbox"``, ``"idempotency"``)
        self.options: frozenset[str] = frozenset(options)
        self._structs: dict[str, type[Any]] = {}  # schema.struct(name), built on first use

    def model(self, name: str) -> ModelMeta:
        return self.models[name]

    @property
    def foreign_keys(self) -> bool:
        """False for ``define_schema(..., foreign_keys=False)``: DDL and migrations create no FOREIGN KEY
        constraints (Vitess / PlanetScale) and the ORM enforces references and ``on_delete`` itself."""
        return NO_FOREIGN_KEYS not in self.options

    def struct(self, name: str) -> type[Any]:
        """The ``msgspec.Struct`` class of model ``name`` (its scalar fields; nullable ones ``T | None``),
        built once per schema: pass it as ``as_=`` to read rows straight into Structs."""
        structs: dict[str, type[Any]] = self._structs
        cls = structs.get(name)
        if cls is None:
            if name not in self.models:
                raise KeyError(f'Unknown model "{name}". Known models: {", ".join(self.models)}.')
            cls = structs[name] = make_struct(self.models[name])
        return cls

    def __repr__(self) -> str:
        return f"Schema(models={list(self.models)})"


def _constraint_name(schema: str | None, table: str, columns: Iterable[str], suffix: str) -> str:
    raw = "_".join([*(p for p in (schema, table) if p), *columns])
    slug = re.sub(r"[^a-z0-9]+", "_", raw.lower()).strip("_")
    return f"{slug}_{suffix}"


def _resolve_table(name: str, table: str | TableName) -> tuple[str, str | None]:
    if isinstance(table, TableName):
        return table.name, table.schema
    if not isinstance(table, str) or not table.strip():
        raise SchemaError(f'Model "{name}" requires a non-empty table name.')
    if "." in table:
        short = table.split(".")[-1]
        ns = table.split(".")[0]
        raise SchemaError(
            "Schema-qualified table strings are not supported. "
            f'Use table_name("{short}", schema="{ns}") instead.'
        )
    return table.strip(), None


#: the fields the lifecycle options add: option -> (field name, what it records)
LIFECYCLE_FIELDS = {
    "soft_delete": ("deleted_at", "When the record was soft-deleted; None while it is live."),
    "archive": ("archived_at", "When the record was archived; None while it is active."),
}


def _with_lifecycle_fields(name: str, mdef: ModelDef) -> dict[str, FieldBuilder]:
    """The declared fields plus ``deleted_at`` / ``archived_at`` for the options that need them."""
    builders = dict(mdef.fields)
    for option, (fname, text) in LIFECYCLE_FIELDS.items():
        if not getattr(mdef, option, False):
            continue
        declared = builders.get(fname)
        if declared is None:
            builders[fname] = FieldBuilder("datetime", is_nullable=True, description=text)
        elif declared.kind != "datetime" or not declared.is_nullable or declared.generated is not None \
                or declared.default_value is not MISSING:
            raise SchemaError(
                f'Model "{name}" uses {option}=True, so its "{fname}" field must be a plain nullable datetime '
                f"(f.datetime().nullable()); leave it out and farmorm adds it."
            )
    return builders


def _resolve_fields(name: str, mdef: ModelDef) -> dict[str, FieldMeta]:
    fields: dict[str, FieldMeta] = {}
    columns: dict[str, str] = {}
    for fname, b in _with_lifecycle_fields(name, mdef).items():
        if not isinstance(fname, str) or not fname.isidentifier() or keyword.iskeyword(fname):
            raise SchemaError(f'Model "{name}" field name {fname!r} must be a Python identifier.')
        if fname in ("AND", "OR", "NOT"):
            raise SchemaError(f'Model "{name}" field name "{fname}" is reserved for where clauses.')
        column = b.column or fname
        if column in columns:
            raise SchemaError(
                f'Model "{name}" maps fields "{columns[column]}" and "{fname}" to the same column "{column}".'
            )
        columns[column] = fname
        if b.kind == "enum" and b.default_value is not MISSING and not callable(b.default_value):
            if b.default_value not in (b.enum_values or ()):
                raise SchemaError(
                    f'Invalid default value "{b.default_value}" for enum field "{name}.{fname}". '
                    f"Expected one of: {', '.join(b.enum_values or ())}."
                )
        ref = tuple(b.reference.split(".", 1)) if b.reference else None
        fields[fname] = FieldMeta(
            name=fname,
            column=column,
            kind=b.kind,
            id_type=b.id_type,
            nullable=b.is_nullable,
            unique=b.is_unique,
            generated=b.generated,
            default=b.default_value,
            references=ref,  # type: ignore[arg-type]
            description=b.description,
            enum_values=b.enum_values,
            precision=b.precision,
            scale=b.scale,
            max_length=b.max_length,
            on_delete=b.on_delete,
            on_update=b.on_update,
        )
        if "set null" in (b.on_delete, b.on_update) and not b.is_nullable:
            raise SchemaError(
                f'Field "{name}.{fname}" uses "set null" in references() but is not nullable: add .nullable().'
            )
    ids = [f.name for f in fields.values() if f.kind == "id"]
    if len(ids) > 1:
        raise SchemaError(f'Model "{name}" declares more than one id field: {", ".join(ids)}.')
    versions = [f.name for f in fields.values() if f.generated == "version"]
    if len(versions) > 1:
        raise SchemaError(f'Model "{name}" declares more than one version field: {", ".join(versions)}.')
    return fields


def _resolve_constraints(
    name: str, table: str, schema: str | None, fields: Mapping[str, FieldMeta], mdef: ModelDef
) -> tuple[tuple[ConstraintMeta, ...], tuple[ConstraintMeta, ...]]:
    out: dict[str, list[ConstraintMeta]] = {"unique": [], "indexes": []}
    for key, label, article, suffix in (("unique", "unique constraint", "a", "unique"), ("indexes", "index", "an", "idx")):
        for group in mdef.constraints.get(key, []):
            if not group:
                raise SchemaError(f'Model "{name}" defines an empty {label}.')
            for fname in group:
                if fname not in fields:
                    raise SchemaError(f'Model "{name}" defines {article} {label} on unknown field "{fname}".')
            if len(set(group)) != len(group):
                raise SchemaError(f'Model "{name}" repeats a field in {article} {label}: {list(group)}.')
            cols = tuple(fields[f].column for f in group)
            out[key].append(
                ConstraintMeta(
                    name=_constraint_name(schema, table, cols, suffix),
                    fields=tuple(group),
                    columns=cols,
                    unique=key == "unique",
                )
            )
    return tuple(out["unique"]), tuple(out["indexes"])


def _implicit_constraints(
    table: str, schema: str | None, fields: Mapping[str, FieldMeta],
    uniques: tuple[ConstraintMeta, ...], indexes: tuple[ConstraintMeta, ...],
) -> tuple[tuple[ConstraintMeta, ...], tuple[ConstraintMeta, ...]]:
    """Named unique keys of single ``.unique()`` fields, and indexes of unindexed foreign keys."""
    field_uniques = tuple(
        ConstraintMeta(_constraint_name(schema, table, (f.column,), "unique"), (f.name,), (f.column,), True)
        for f in fields.values()
        if f.unique and not f.is_id and not any(c.fields == (f.name,) for c in uniques)
    )
    # a key or index whose first column is the foreign key already serves lookups by it
    leading = {c.fields[0] for c in (*uniques, *indexes, *field_uniques)}
    leading.update(f.name for f in fields.values() if f.is_id)
    fk_indexes = tuple(
        ConstraintMeta(_constraint_name(schema, table, (f.column,), "idx"), (f.name,), (f.column,), False)
        for f in fields.values() if f.references and f.name not in leading
    )
    return field_uniques, fk_indexes


def _identity(fields: Mapping[str, FieldMeta], uniques: tuple[ConstraintMeta, ...]) -> tuple[str, ...] | None:
    for f in fields.values():
        if f.kind == "id":
            return (f.name,)
    for f in fields.values():
        if f.unique:
            return (f.name,)
    return uniques[0].fields if uniques else None


def _identity_field(model: ModelMeta) -> str | None:
    if model.id_field:
        return model.id_field
    for f in model.fields.values():
        if f.unique:
            return f.name
    return None


def _check_reference(models: Mapping[str, ModelMeta], owner: str, f: FieldMeta) -> None:
    assert f.references is not None
    tmodel, tfield = f.references
    if tmodel not in models:
        raise SchemaError(
            f'Field "{owner}.{f.name}" references unknown model "{tmodel}".'
        )
    if tfield not in models[tmodel].fields:
        raise SchemaError(
            f'Field "{owner}.{f.name}" references unknown field "{tmodel}.{tfield}".'
        )


def _widen_foreign_keys(models: Mapping[str, ModelMeta], model: ModelMeta) -> ModelMeta:
    """An ``integer`` field referencing a 64-bit column gets ``column_kind="bigint"``: a foreign
    key has its target's type (PostgreSQL ``bigint`` ids, not ``integer``) and takes every id."""
    changed: dict[str, FieldMeta] = {}
    for f in model.fields.values():
        if f.references is None or f.kind != "integer":
            continue
        target = models[f.references[0]].fields[f.references[1]]
        if target.kind == "bigint" or (target.is_id and target.value_kind == "integer"):
            changed[f.name] = dataclasses.replace(f, column_kind="bigint")
    if not changed:
        return model
    fields = MappingProxyType({**model.fields, **changed})
    return dataclasses.replace(model, fields=fields)


def _resolve_relation(
    models: Mapping[str, ModelMeta], owner: ModelMeta, rname: str, rdef: RelationDef
) -> RelationMeta:
    where = f'Relation "{owner.name}.{rname}"'
    if not isinstance(rdef, RelationDef):
        raise SchemaError(f"{where} must be built with belongs_to, has_one, has_many or many_to_many.")
    if rdef.target not in models:
        raise SchemaError(f'{where} targets unknown model "{rdef.target}".')
    target = models[rdef.target]
    if rdef.kind == "belongs_to":
        fk = rdef.foreign_key or ""
        if fk not in owner.fields:
            raise SchemaError(f'{where} uses unknown foreign key field "{owner.name}.{fk}".')
        ref = owner.fields[fk].references
        remote = ref[1] if ref and ref[0] == target.name else _identity_field(target)
        if remote is None:
            raise SchemaError(f'{where} cannot find a field of "{target.name}" to join on.')
        return RelationMeta(rname, "belongs_to", owner.name, target.name, fk, remote)
    if rdef.kind in ("has_one", "has_many"):
        fk = rdef.foreign_key or ""
        if fk not in target.fields:
            raise SchemaError(f'{where} uses unknown foreign key field "{target.name}.{fk}".')
        ref = target.fields[fk].references
        local = ref[1] if ref and ref[0] == owner.name else _identity_field(owner)
        if local is None:
            raise SchemaError(f'{where} cannot find a field of "{owner.name}" to join on.')
        return RelationMeta(rname, rdef.kind, owner.name, target.name, local, fk)
    through_name = rdef.through or ""
    if through_name not in models:
        raise SchemaError(f'{where} goes through unknown model "{through_name}".')
    through = models[through_name]
    for jf in (rdef.from_, rdef.to):
        if jf not in through.fields:
            raise SchemaError(f'{where} uses unknown join field "{through_name}.{jf}".')
    assert rdef.from_ and rdef.to
    from_ref = through.fields[rdef.from_].references
    to_ref = through.fields[rdef.to].references
    local = from_ref[1] if from_ref and from_ref[0] == owner.name else _identity_field(owner)
    remote = to_ref[1] if to_ref and to_ref[0] == target.name else _identity_field(target)
    if local is None or remote is None:
        raise SchemaError(f"{where} cannot find the fields to join on.")
    return RelationMeta(
        rname, "many_to_many", owner.name, target.name, local, remote,
        through=through_name, through_from=rdef.from_, through_to=rdef.to,
    )


def define_schema(**models: ModelDef | bool) -> Schema:
    """Validate and resolve models given as ``name=model(...)``; raises :class:`SchemaError`.

    ``outbox=True`` / ``idempotency=True`` (booleans, not models) add the system models
    ``farmorm_outbox`` / ``farmorm_idempotency`` (see ``farmorm.outbox`` / ``farmorm.idempotency``).
    ``foreign_keys=False`` is the no-foreign-key relation mode (see ``Schema.foreign_keys``)."""
    options: set[str] = set()
    defs: dict[str, Any] = {}
    for name, value in models.items():
        if name == "foreign_keys" and isinstance(value, bool):
            if not value:
                options.add(NO_FOREIGN_KEYS)
        elif name in system_models.options() and isinstance(value, bool):
            if value:
                options.add(name)
        else:
            defs[name] = value
    return _build(defs, frozenset(options))


#: ``define_schema(..., foreign_keys=False)``: references enforced by the ORM, no FOREIGN KEY in the DDL
NO_FOREIGN_KEYS = "no_foreign_keys"


def _build(defs: Mapping[str, ModelDef], options: frozenset[str] = frozenset()) -> Schema:
    if not defs:
        raise SchemaError("define_schema() requires at least one model.")
    metas: dict[str, ModelMeta] = {}
    tables: dict[str, str] = {}
    user_defs = defs
    for system, why in system_models.wanted(defs, options):  # the features' tables (schema/system.py)
        if system.name in defs:
            raise SchemaError(f'Model name "{system.name}" is reserved: define_schema adds it for {why}.')
        defs = {**defs, system.name: system.build()}
    for name, mdef in defs.items():
        if not isinstance(mdef, ModelDef):
            raise SchemaError(f'Model "{name}" must be built with model(...).')
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
            raise SchemaError(f'Model name "{name}" must be a Python identifier not starting with "_".')
        if name in RESERVED_MODEL_NAMES:
            raise SchemaError(
                f'Model name "{name}" collides with the ORM client attribute orm.{name}. Rename the model.'
            )
        table, ns = _resolve_table(name, mdef.table)
        qualified = f"{ns}.{table}" if ns else table
        if qualified in tables:
            raise SchemaError(
                f'Models "{tables[qualified]}" and "{name}" both use table "{qualified}".'
            )
        tables[qualified] = name
        fields = _resolve_fields(name, mdef)
        uniques, indexes = _resolve_constraints(name, table, ns, fields, mdef)
        field_uniques, fk_indexes = _implicit_constraints(table, ns, fields, uniques, indexes)
        id_field = next((f.name for f in fields.values() if f.kind == "id"), None)
        metas[name] = ModelMeta(
            name=name,
            table=table,
            schema=ns,
            qualified_table=qualified,
            fields=MappingProxyType(fields),
            relations=MappingProxyType({}),
            uniques=uniques,
            indexes=indexes,
            description=mdef.description,
            id_field=id_field,
            identity=_identity(fields, uniques),
            soft_delete_field=LIFECYCLE_FIELDS["soft_delete"][0] if getattr(mdef, "soft_delete", False) else None,
            archive_field=LIFECYCLE_FIELDS["archive"][0] if getattr(mdef, "archive", False) else None,
            version_field=next((f.name for f in fields.values() if f.generated == "version"), None),
            history=bool(getattr(mdef, "history", False)),
            field_uniques=field_uniques,
            foreign_key_indexes=fk_indexes,
        )
    for name, meta in metas.items():
        for f in meta.fields.values():
            if f.references:
                _check_reference(metas, name, f)
    metas = {name: _widen_foreign_keys(metas, meta) for name, meta in metas.items()}
    resolved: dict[str, ModelMeta] = {}
    for name, mdef in defs.items():
        meta = metas[name]
        rels: dict[str, RelationMeta] = {}
        for rname, rdef in mdef.relations.items():
            if not isinstance(rname, str) or not rname.isidentifier():
                raise SchemaError(f'Model "{name}" relation name {rname!r} must be a Python identifier.')
            if rname in meta.fields:
                raise SchemaError(f'Model "{name}" uses "{rname}" as both a field and a relation.')
            rels[rname] = _resolve_relation(metas, meta, rname, rdef)
        resolved[name] = ModelMeta(**{**meta.__dict__, "relations": MappingProxyType(rels)})
    return Schema(resolved, user_defs, options)


def dependency_order(schema: Schema) -> list[ModelMeta]:
    """Models in declaration order, each referenced model moved before the models referencing it
    (so DDL can declare foreign keys inline); reference cycles keep declaration order."""
    done: dict[str, ModelMeta] = {}
    visiting: set[str] = set()

    def visit(m: ModelMeta) -> None:
        if m.name in done or m.name in visiting:
            return
        visiting.add(m.name)
        for f in m.fields.values():
            if f.references and f.references[0] != m.name:
                visit(schema.models[f.references[0]])
        done[m.name] = m

    for m in schema.models.values():
        visit(m)
    return list(done.values())


def merge_schemas(*schemas: Schema) -> Schema:
    """Compose several schemas into one; a model name defined twice is a :class:`SchemaError`."""
    merged: dict[str, ModelDef] = {}
    options: set[str] = set()
    for s in schemas:
        options |= getattr(s, "options", frozenset())
        for name, mdef in s.definitions.items():
            if name in merged:
                raise SchemaError(f'Duplicate model "{name}" detected while merging schemas.')
            merged[name] = mdef
    return _build(merged, frozenset(options))
