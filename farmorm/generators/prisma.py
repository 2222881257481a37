"""``render_prisma_schema``: a ``schema.prisma`` describing the same models, as the reference writes it.

Field names stay as written in the Python schema (usually snake_case) with ``@map("column")`` when
the column differs; model names are PascalCase (``auth_session`` → ``AuthSession``) with
``@@map("table")``; enums are ``enum <Model><Field>Enum`` blocks. Relations: ``belongs_to`` →
``@relation(fields:, references:)``, ``has_one`` → ``Target?``, ``has_many`` → ``Target[]``,
``many_to_many`` is left to the explicit join model; a ``references()`` field without a
``belongs_to`` gets a relation named after the target model, and targets get back-relations
(``<source>s Source[]`` or ``<source> Source?``) unless the schema declares the inverse.

Deliberate differences from the reference's text: string defaults are escaped; a nullable foreign
key makes its relation field optional (``Target?``), as Prisma requires; when namespaces are used
(PostgreSQL only), models and enums without one get ``@@schema("public")`` and ``"public"`` joins
``schemas`` (Prisma's multiSchema requires every model to name its schema); an enum value whose
identifier would start with a digit is prefixed ``VALUE_``. String ids keep the reference's
``@default(cuid())`` (farmorm's runtime sends its own ids, as the reference's runtime does).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import math
import re
from typing import Literal

from ..core.errors import SchemaError
from ..schema.manifest import FieldMeta, ModelMeta, Schema

PrismaProvider = Literal["postgresql", "mysql", "sqlite", "mongodb"]
PROVIDERS: tuple[str, ...] = ("postgresql", "mysql", "sqlite", "mongodb")
#: the Prisma field that carries a document's own ``_id`` when the farmorm id is another field
MONGO_ID_FIELD = "mongo_id"

_TYPES = {
    "string": "String", "boolean": "Boolean", "datetime": "DateTime", "integer": "Int",
    "json": "Json", "bigint": "BigInt", "decimal": "Decimal",
}


def pascalize(value: str) -> str:
    """``auth_session`` → ``AuthSession`` (alphanumeric runs, each capitalized)."""
    parts = [p for p in re.split(r"[^a-zA-Z0-9]+", value) if p]
    text = "".join(p[0].upper() + p[1:] for p in parts)
    text = re.sub(r"^[^a-zA-Z]+", "", text)
    return text or "Value"


def enum_type_name(model: ModelMeta, f: FieldMeta) -> str:
    """``<Model><Field>Enum``, e.g. ``UserTierEnum``."""
    return f"{pascalize(model.name)}{pascalize(f.name)}Enum"


def enum_identifiers(values: tuple[str, ...]) -> dict[str, str]:
    """Upper-snake Prisma identifiers for enum values, de-duplicated with ``_2``, ``_3``…"""
    used: dict[str, int] = {}
    out: dict[str, str] = {}
    for value in values:
        base = re.sub(r"[^a-zA-Z0-9]+", "_", value).strip("_").upper() or "VALUE"
        if base[0].isdigit():
            base = f"VALUE_{base}"
        n = used.get(base, 0) + 1
        used[base] = n
        out[value] = base if n == 1 else f"{base}_{n}"
    return out


def _enum_default(model: ModelMeta, f: FieldMeta) -> str:
    ident = enum_identifiers(f.enum_values or ()).get(f.default) if isinstance(f.default, str) else None
    if ident is None:
        raise SchemaError(
            f"Invalid default value {json.dumps(f.default, default=str)} for enum field "
            f'"{model.name}.{f.name}". Expected one of: {", ".join(f.enum_values or ())}.'
        )
    return ident


def _literal_default(model: ModelMeta, f: FieldMeta) -> str | None:
    v = f.default
    if not f.has_default or callable(v) or v is None or f.generated or f.kind == "json":
        return None
    if f.kind == "enum":
        return _enum_default(model, f)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, decimal.Decimal)) or (isinstance(v, float) and math.isfinite(v)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, _dt.datetime):
        return json.dumps(v.isoformat())
    return None


def _check_mongo(model: ModelMeta) -> None:
    """What farmorm's Mongo runtime (or Prisma's MongoDB connector) cannot hold, refused by name."""
    for f in model.fields.values():
        if f.generated == "increment":
            raise SchemaError(
                f'The Mongo runtime does not support generated integer ids for model "{model.name}". '
                "Use manual integer ids or string ids instead."
            )
        if f.kind == "decimal":
            raise SchemaError(
                f'render_prisma_schema(provider="mongodb") cannot describe decimal field "{model.name}.{f.name}": '
                "farmorm stores it as BSON Decimal128 and Prisma's MongoDB connector has no Decimal type."
            )


def _mongo_id_line(model: ModelMeta) -> str | None:
    """Prisma's MongoDB models need an ``@id`` mapped to ``_id``: farmorm's id when it is mapped
    there (``f.id().map("_id")``), else the document's own ObjectId ``_id`` farmorm leaves alone."""
    ident = next((f for f in model.fields.values() if f.is_id), None)
    if ident is not None and ident.column == "_id":
        return None
    if MONGO_ID_FIELD in model.fields:
        raise SchemaError(f'Model "{model.name}" has a field "{MONGO_ID_FIELD}": rename it to render for MongoDB.')
    return f'  {MONGO_ID_FIELD} String @id @default(auto()) @map("_id") @db.ObjectId'


def _field_line(model: ModelMeta, f: FieldMeta, provider: str = "postgresql") -> str:
    if f.kind == "id":
        typ = "Int" if f.id_type == "integer" else "String"
    elif f.kind == "enum":
        typ = enum_type_name(model, f)
    else:
        typ = _TYPES[f.kind]
    mods: list[str] = []
    mongo = provider == "mongodb"
    if f.kind == "id" and not (mongo and f.column != "_id"):
        mods.append("@id")
    if f.generated == "id":
        mods.append("@default(cuid())")
    elif f.generated == "increment":
        mods.append("@default(autoincrement())")
    elif f.generated == "now":
        mods.append("@default(now())")
    lit = _literal_default(model, f)
    if lit is not None:
        mods.append(f"@default({lit})")
    if f.max_length is not None and f.kind == "string" and provider in ("postgresql", "mysql"):
        mods.append(f"@db.VarChar({f.max_length})")
    if f.kind == "decimal" and provider in ("postgresql", "mysql"):
        # the pushed column's digits (Prisma's own default is Decimal(65, 30), push's too)
        mods.append(f"@db.Decimal({f.precision or 65}, {30 if f.precision is None else f.scale})")
    if (f.unique and f.kind != "id") or (f.kind == "id" and mongo and f.column != "_id"):
        # the manifest's name (PostgreSQL, MySQL, SQLite and Mongo all carry it)
        name = next((c.name for c in model.field_uniques if c.fields == (f.name,)), None)
        if f.kind == "id":
            name = f"{model.table}_{f.column}_pk_unique"  # the Mongo runtime's index on the id field
        mods.append(f"@unique(map: {json.dumps(name)})" if name else "@unique")
    if f.column != f.name:
        mods.append(f"@map({json.dumps(f.column)})")
    suffix = " " + " ".join(mods) if mods else ""
    return f"  {f.name} {typ}{'?' if f.nullable else ''}{suffix}"


_ACTIONS = {"cascade": "Cascade", "set null": "SetNull", "restrict": "Restrict", "no action": "NoAction"}


def _actions(f: FieldMeta) -> str:
    """``, onDelete: Cascade, onUpdate: SetNull`` for a foreign key that declares them."""
    return "".join(f", {key}: {_ACTIONS[a]}" for key, a in (("onDelete", f.on_delete), ("onUpdate", f.on_update)) if a)


def _back_relations(schema: Schema) -> dict[str, list[tuple[str, str, bool]]]:
    """Per target model: (source model, foreign key field, many) for every ``references()`` field."""
    out: dict[str, list[tuple[str, str, bool]]] = {}
    for m in schema.models.values():
        for f in m.fields.values():
            if f.references:
                out.setdefault(f.references[0], []).append((m.name, f.name, not f.unique))
    return out


def _has_inverse(model: ModelMeta, source: str, foreign_key: str) -> bool:
    return any(
        r.target == source and r.kind in ("has_one", "has_many") and r.remote_field == foreign_key
        for r in model.relations.values()
    )


def _relation_lines(schema: Schema, model: ModelMeta, back: list[tuple[str, str, bool]]) -> list[str]:
    lines: list[str] = []
    taken = set(model.fields)
    handled: set[str] = set()
    for rname, r in model.relations.items():
        if r.kind == "many_to_many":
            continue
        taken.add(rname)
        target = pascalize(r.target)
        if r.kind == "belongs_to":
            handled.add(r.local_field)
            optional = "?" if model.fields[r.local_field].nullable else ""
            lines.append(
                f"  {rname} {target}{optional} @relation(fields: [{r.local_field}], "
                f"references: [{r.remote_field}]{_actions(model.fields[r.local_field])})"
            )
        else:
            lines.append(f"  {rname} {target}{'?' if r.kind == 'has_one' else '[]'}")
    for f in model.fields.values():
        if not f.references or f.name in handled or f.references[0] in taken:
            continue
        tmodel, tfield = f.references
        taken.add(tmodel)
        optional = "?" if f.nullable else ""
        lines.append(
            f"  {tmodel} {pascalize(tmodel)}{optional} @relation(fields: [{f.name}], references: [{tfield}]{_actions(f)})"
        )
    for source, fk, many in back:
        if _has_inverse(model, source, fk):
            continue
        name = (source if source.endswith("s") else f"{source}s") if many else source
        if name in taken:
            continue
        taken.add(name)
        lines.append(f"  {name} {pascalize(source)}{'[]' if many else '?'}")
    return lines


def _model_block(schema: Schema, model: ModelMeta, back: list[tuple[str, str, bool]], multi: bool,
                 provider: str = "postgresql") -> str:
    name = pascalize(model.name)
    lines = [_field_line(model, f, provider) for f in model.fields.values()]
    if provider == "mongodb":
        _check_mongo(model)
        mongo_id = _mongo_id_line(model)
        lines = [mongo_id, *lines] if mongo_id else lines
    lines += _relation_lines(schema, model, back)
    # the manifest's names, so a database Prisma migrates has the names push_schema gives
    lines += [f"  @@unique([{', '.join(c.fields)}], map: {json.dumps(c.name)})" for c in model.uniques]
    indexes = (*model.indexes, *model.foreign_key_indexes)
    lines += [f"  @@index([{', '.join(c.fields)}], map: {json.dumps(c.name)})" for c in indexes]
    if model.table != name:
        lines.append(f"  @@map({json.dumps(model.table)})")
    if model.schema or multi:
        lines.append(f"  @@schema({json.dumps(model.schema or 'public')})")
    return f"model {name} {{\n" + "\n".join(lines) + "\n}"


def _enum_blocks(schema: Schema, multi: bool) -> list[str]:
    blocks = []
    for m in schema.models.values():
        for f in m.fields.values():
            if f.kind != "enum" or not f.enum_values:
                continue
            idents = enum_identifiers(f.enum_values)
            lines = [
                f"  {idents[v]}" if idents[v] == v else f"  {idents[v]} @map({json.dumps(v)})"
                for v in f.enum_values
            ]
            if multi:
                lines.append(f"  @@schema({json.dumps(m.schema or 'public')})")
            blocks.append(f"enum {enum_type_name(m, f)} {{\n" + "\n".join(lines) + "\n}")
    return blocks


def render_prisma_schema(
    schema: Schema,
    *,
    provider: PrismaProvider = "postgresql",
    datasource_name: str = "db",
    generator_name: str = "client",
) -> str:
    """Render a Prisma schema (generator, datasource, enums, models) for ``schema``."""
    if provider not in PROVIDERS:
        raise ValueError(
            'render_prisma_schema() provider must be "postgresql", "mysql", "sqlite" or "mongodb", '
            f"got {provider!r}."
        )
    namespaces = list(dict.fromkeys(m.schema for m in schema.models.values() if m.schema))
    if namespaces and provider != "postgresql":
        raise SchemaError(
            f'render_prisma_schema(provider="{provider}") does not support schema-qualified tables '
            "in this configuration."
        )
    multi = bool(namespaces)
    if multi and any(not m.schema for m in schema.models.values()) and "public" not in namespaces:
        namespaces.append("public")
    gen = [f"generator {generator_name} {{", '  provider = "prisma-client-js"']
    if multi:
        gen.append('  previewFeatures = ["multiSchema"]')
    url = '"file:./dev.db"' if provider == "sqlite" else 'env("DATABASE_URL")'
    ds = [f"datasource {datasource_name} {{", f'  provider = "{provider}"', f"  url      = {url}"]
    if multi:
        ds.append(f"  schemas  = [{', '.join(json.dumps(ns) for ns in namespaces)}]")
    back = _back_relations(schema)
    blocks = [
        *_enum_blocks(schema, multi),
        *(_model_block(schema, m, back.get(m.name, []), multi, provider) for m in schema.models.values()),
    ]
    head = "\n".join([*gen, "}"]) + "\n\n" + "\n".join([*ds, "}"])
    return head + "\n\n" + "\n\n".join(blocks) + "\n"


__all__ = ["render_prisma_schema", "enum_identifiers", "pascalize"]
