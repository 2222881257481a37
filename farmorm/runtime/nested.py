"""Running nested writes (the plans of ``query/nested.py``) through the model clients.

``create_nested`` / ``update_nested`` are ``create()`` / ``update()`` with relation operations in
``data`` (``model.py`` hands them over); the levels below run through ``Clients``.

A level of records is written with one ``create_many`` (one multi-row ``INSERT``), and the
records of the next level are gathered across the whole level first, so a parent with 1,000
children is two ``INSERT`` statements. belongs_to parents are written (or found) before their
level, has_one / has_many children and many-to-many links after it. The caller runs it all in one
transaction (opened when none is running; on MongoDB without transactions the steps run as
plain writes, see ``capabilities.supports_transactions``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import msgspec

from ..core.driver import DriverHandle
from ..core.errors import RecordNotFound
from ..query import mutations
from ..query.nested import Nested, split_nested
from ..query.parse import parse_read, parse_where, scope_of
from ..query.plan import Read
from ..query.writes import identity_of, identity_where
from ..schema.manifest import ModelMeta, RelationMeta, Schema
from .writes import Client, atomic


class Models(Protocol):
    """What the runner needs of a client: its schema, model clients and driver handle."""

    schema: Schema

    def model(self, name: str) -> Any: ...

    @property
    def driver(self) -> Any: ...


class Clients:
    """``Models`` for the levels below a nested write: the clients of its model's siblings, on the
    same engine and transaction binding as the write."""

    __slots__ = ("client", "schema")

    def __init__(self, client: Client) -> None:
        self.client = client
        self.schema = client._schema

    @property
    def driver(self) -> DriverHandle:
        """The driver handle (for the errors' backend kind and dialect)."""
        return self.client._engine.handle

    def model(self, name: str) -> Any:
        """The client of model ``name``, bound like the write's own client."""
        return self.client._sibling(name)


async def create_nested(client: Client, data: Mapping[str, Any], select: Any, include: Any, how: str) -> Any:
    """create() with relation operations: the whole tree in one transaction, one multi-row INSERT
    per level; the result read back when select/include ask. ``how``: record, id or none."""
    model = client.model
    plan = split_nested(client._schema, model, data)
    mutations.write_read(client._schema, model, select, include, "create")  # checked before any I/O
    async with atomic(client._engine):
        record = (await create_level(Clients(client), model, [plan]))[0]
        if select is not None or include is not None:
            record = (await client.find_many(where=identity_where(model, record), select=select, include=include,
                                             with_deleted=True, with_archived=True, take=1))[0]
    if how == "record":
        return record
    return identity_of(model, record) if how == "id" else None


async def update_nested(client: Client, where: Any, data: Mapping[str, Any], select: Any, include: Any,
                        expected_version: Any, with_deleted: bool, with_archived: bool, how: str) -> Any:
    """update() with to-many relation operations, in one transaction: the record's own fields
    first (None / 0 when nothing matches, and nothing else runs), then each relation's operations."""
    model, schema, engine = client.model, client._schema, client._engine
    plan = split_nested(schema, model, data, update=True)
    mutations.write_read(schema, model, select, include, "update")
    parse_where(schema, model, where, [], scope_of(model, with_deleted, with_archived))
    async with atomic(engine):
        keys = {rel.local_field: True for rel, _ in plan.relations} | {f: True for f in model.identity or ()}
        if plan.scalars or expected_version is not None:
            record = await client.update(where=where, data=plan.scalars, select=keys,
                                         expected_version=expected_version, with_deleted=with_deleted,
                                         with_archived=with_archived)
        else:
            # lock the record (FOR UPDATE where rows lock) so concurrent nested writes on one
            # record take turns instead of deadlocking on its children
            read = parse_read(schema, model, where=where, select=keys, take=1,
                              scope=scope_of(model, with_deleted, with_archived))
            locked = Read(msgspec.structs.replace(read.node, lock="update"), read.params, read.relations,
                          read.hidden, read.counts)
            async with engine.scope(write=True) as conn:
                found = await engine.read(conn, locked)
            record = found[0] if found else None
        if record is None:
            return 0 if how == "count" else None
        clients = Clients(client)
        for rel, ops in plan.relations:
            await run_relation(clients, rel, record, ops)
        if how == "count":
            return 1
        return (await client.find_many(where=identity_where(model, record), select=select, include=include,
                                       with_deleted=True, with_archived=True, take=1))[0]


def _missing(orm: Models, rel: RelationMeta, op: str, wanted: int, found: int) -> RecordNotFound:
    handle = orm.driver
    return RecordNotFound(
        f'Nested {op} of relation "{rel.name}" on model "{rel.model}": {wanted - found} of {wanted} '
        f'{rel.target} record(s) matched no record.',
        backend_kind=handle.kind, dialect=handle.dialect, meta={"model": rel.target, "relation": rel.name},
    )


def _any_of(wheres: Sequence[Any]) -> Any:
    return wheres[0] if len(wheres) == 1 else {"OR": list(wheres)}


async def _key_of(orm: Models, target: str, where: Any, field: str, rel: RelationMeta, op: str) -> Any:
    found = await orm.model(target).find_unique(where=where, select={field: True})
    if found is None:
        raise _missing(orm, rel, op, 1, 0)
    return found[field]


async def create_level(orm: Models, model: ModelMeta, items: Sequence[Nested],
                       fk: tuple[str, Sequence[Any]] | None = None) -> list[dict[str, Any]]:
    """Create ``items`` (records of ``model``) and everything nested in them; returns the records.

    ``fk`` = (field, one value per item) is the foreign key a parent level fills in."""
    scalars = [dict(item.scalars) for item in items]
    if fk is not None:
        for row, value in zip(scalars, fk[1]):
            row[fk[0]] = value
    # belongs_to first: the parent's key is this record's foreign key
    for i, item in enumerate(items):
        for rel, plan in item.relations:
            if rel.kind != "belongs_to":
                continue
            scalars[i][rel.local_field] = await _parent_key(orm, rel, plan)
    client = orm.model(model.name)
    records: list[dict[str, Any]] = await client.create_many(data=scalars) if scalars else []
    for rel in model.relations.values():
        if rel.kind == "belongs_to":
            continue
        work = [(records[i], plan) for i, item in enumerate(items) for r, plan in item.relations if r.name == rel.name]
        if work:
            await _children(orm, rel, work)
    return records


async def _parent_key(orm: Models, rel: RelationMeta, plan: dict[str, list[Any]]) -> Any:
    target = orm.schema.models[rel.target]
    if "create" in plan:
        made = await create_level(orm, target, plan["create"])
        return made[0][rel.remote_field]
    if "connect" in plan:
        return await _key_of(orm, rel.target, plan["connect"][0], rel.remote_field, rel, "connect")
    item = plan["connect_or_create"][0]
    found = await orm.model(rel.target).find_unique(where=item["where"], select={rel.remote_field: True})
    if found is not None:
        return found[rel.remote_field]
    return (await create_level(orm, target, [item["create"]]))[0][rel.remote_field]


async def run_relation(orm: Models, rel: RelationMeta, record: dict[str, Any], plan: dict[str, list[Any]]) -> None:
    """update()'s operations on one to-many relation of ``record``."""
    await _children(orm, rel, [(record, plan)])


async def _children(orm: Models, rel: RelationMeta, work: list[tuple[dict[str, Any], dict[str, list[Any]]]]) -> None:
    """The has_one / has_many / many_to_many operations of a level's records, one statement per
    operation kind across the level where the operation allows it."""
    target = orm.schema.models[rel.target]
    client = orm.model(rel.target)
    if rel.kind == "many_to_many":
        await _links(orm, rel, target, work)
        return
    creates = [(rec[rel.local_field], child) for rec, plan in work for child in plan.get("create", ())]
    if creates:
        await create_level(orm, target, [c for _, c in creates], (rel.remote_field, [k for k, _ in creates]))
    for rec, plan in work:
        key = rec[rel.local_field]
        if plan.get("connect"):
            wheres = plan["connect"]
            done = await client.update_many(where=_any_of(wheres), data={rel.remote_field: key})
            if done < len(wheres):
                raise _missing(orm, rel, "connect", len(wheres), done)
        for item in plan.get("connect_or_create", ()):
            if not await client.update_many(where=item["where"], data={rel.remote_field: key}):
                await create_level(orm, target, [item["create"]], (rel.remote_field, [key]))
        await _to_many_changes(orm, rel, client, target, key, plan)


async def _to_many_changes(orm: Models, rel: RelationMeta, client: Any, target: ModelMeta, key: Any,
                           plan: dict[str, list[Any]]) -> None:
    """update's to-many operations on a has_many relation of the record whose key is ``key``."""
    fk = rel.remote_field
    mine = {fk: key}
    if "set" in plan:
        keep = plan["set"]
        stale: Any = {"AND": [mine, {"NOT": _any_of(keep)}]} if keep else mine
        await client.update_many(where=stale, data={fk: None})
        if keep:
            done = await client.update_many(where=_any_of(keep), data={fk: key})
            if done < len(keep):
                raise _missing(orm, rel, "set", len(keep), done)
    if plan.get("disconnect"):
        await client.update_many(where={"AND": [mine, _any_of(plan["disconnect"])]}, data={fk: None})
    for item in plan.get("update", ()):
        await client.update_or_raise(where={"AND": [mine, item["where"]]}, data=item["data"])
    for item in plan.get("update_many", ()):
        await client.update_many(where={"AND": [mine, item["where"]]}, data=item["data"])
    for item in plan.get("upsert", ()):
        if await client.update(where={"AND": [mine, item["where"]]}, data=item["update"], returning="count") == 0:
            await create_level(orm, target, [item["create"]], (fk, [key]))
    if plan.get("delete"):
        wheres = plan["delete"]
        done = await client.delete_many(where={"AND": [mine, _any_of(wheres)]})
        if done < len(wheres):
            raise _missing(orm, rel, "delete", len(wheres), done)
    for where in plan.get("delete_many", ()):
        await client.delete_many(where={"AND": [mine, where]})


async def _links(orm: Models, rel: RelationMeta, target: ModelMeta,
                 work: list[tuple[dict[str, Any], dict[str, list[Any]]]]) -> None:
    """many_to_many: rows of the through model link this record's key to the targets' keys."""
    assert rel.through is not None and rel.through_from is not None and rel.through_to is not None
    through = orm.model(rel.through)
    client = orm.model(rel.target)
    frm, to, remote = rel.through_from, rel.through_to, rel.remote_field
    links: list[dict[str, Any]] = []
    creates = [(rec[rel.local_field], child) for rec, plan in work for child in plan.get("create", ())]
    if creates:
        made = await create_level(orm, target, [c for _, c in creates])
        links += [{frm: k, to: r[remote]} for (k, _), r in zip(creates, made)]
    for rec, plan in work:
        key = rec[rel.local_field]
        linked = await _linked(through, frm, to, key) if len(plan) > (1 if "create" in plan else 0) else set()

        async def keys_of(wheres: list[Any], op: str) -> list[Any]:
            rows = await client.find_many(where=_any_of(wheres), select={remote: True})
            if len(rows) < len(wheres):
                raise _missing(orm, rel, op, len(wheres), len(rows))
            return [r[remote] for r in rows]

        if "set" in plan:
            await through.delete_many(where={frm: key})
            linked = set()
            links += [{frm: key, to: k} for k in (await keys_of(plan["set"], "set") if plan["set"] else [])]
        if plan.get("connect"):
            links += [{frm: key, to: k} for k in await keys_of(plan["connect"], "connect") if k not in linked]
        for item in plan.get("connect_or_create", ()):
            found = await client.find_unique(where=item["where"], select={remote: True})
            if found is None:
                found = (await create_level(orm, target, [item["create"]]))[0]
            if found[remote] not in linked:
                links.append({frm: key, to: found[remote]})
        if plan.get("disconnect"):
            gone = await keys_of(plan["disconnect"], "disconnect")
            await through.delete_many(where={frm: key, to: {"in": gone}})
        scope = {remote: {"in": sorted(linked, key=repr)}}
        for item in plan.get("update", ()):
            await client.update_or_raise(where={"AND": [scope, item["where"]]}, data=item["data"])
        for item in plan.get("update_many", ()):
            await client.update_many(where={"AND": [scope, item["where"]]}, data=item["data"])
        for item in plan.get("upsert", ()):
            if await client.update(where={"AND": [scope, item["where"]]}, data=item["update"],
                                   returning="count") == 0:
                made = await create_level(orm, target, [item["create"]])
                links.append({frm: key, to: made[0][remote]})
        doomed_where = [*({"AND": [scope, w]} for w in plan.get("delete", ())),
                        *({"AND": [scope, w]} for w in plan.get("delete_many", ()))]
        if doomed_where:
            doomed = [r[remote] for r in await client.find_many(where=_any_of(doomed_where), select={remote: True})]
            if plan.get("delete"):
                want = len(plan["delete"])
                hit = len(await client.find_many(where=_any_of([{"AND": [scope, w]} for w in plan["delete"]]),
                                                 select={remote: True}))
                if hit < want:
                    raise _missing(orm, rel, "delete", want, hit)
            if doomed:
                await through.delete_many(where={to: {"in": doomed}})
                await client.delete_many(where={remote: {"in": doomed}})
    if links:
        await through.create_many(data=links, returning="count")


async def _linked(through: Any, frm: str, to: str, key: Any) -> set[Any]:
    return {r[to] for r in await through.find_many(where={frm: key}, select={to: True})}
