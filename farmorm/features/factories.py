"""Test-data factories and named seeds: ``define_factory`` / ``define_seed``.

A factory turns a sequence number into the data of one record (``defaults=lambda seq: {...}``),
applies keyword overrides and creates the record through an ORM. Values for relations create the
related records too: a factory (or a record) for a ``belongs_to`` relation is the parent, a
``factory.batch(n)`` for a ``has_many`` relation makes the children. The whole tree is built and
validated before any I/O and written in one transaction.

A seed is a named ``async def run(orm)``; ``farmorm db seed`` runs the config's seeds.
"""

from __future__ import annotations

import inspect
import weakref
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable, Mapping, Sequence

from ..core.errors import validation_error
from ..query.writes import create_values
from ..runtime.orm import Orm
from ..schema.manifest import ModelMeta, RelationMeta

Defaults = Callable[[int], Mapping[str, Any]]

#: every factory defined in this process, so the pytest plugin can reset their sequences per test
_FACTORIES: weakref.WeakSet[Factory] = weakref.WeakSet()


@dataclass(frozen=True)
class Batch:
    """``factory.batch(n, **overrides)``: ``n`` records of a factory, as the value of a to-many relation."""

    factory: Factory
    count: int
    overrides: Mapping[str, Any]


@dataclass
class _Plan:
    """One record to create: its scalar data, the parents to resolve first and the children after."""

    factory: Factory
    data: dict[str, Any]
    parents: list[tuple[RelationMeta, _Plan | Mapping[str, Any] | None]] = field(default_factory=list)
    children: list[tuple[RelationMeta, list[_Plan]]] = field(default_factory=list)

    def has_relations(self) -> bool:
        return bool(self.parents or self.children)


class Factory:
    """Builds and creates records of one model; made by :func:`define_factory`."""

    def __init__(self, model: ModelMeta, defaults: Defaults) -> None:
        self.model = model
        self.defaults = defaults
        self.sequence = 1
        _FACTORIES.add(self)

    def __repr__(self) -> str:
        return f"<Factory {self.model.name} seq={self.sequence}>"

    # -- sequences ---------------------------------------------------------------------------
    def reset_sequence(self, value: int = 1) -> None:
        """Start the sequence again at ``value`` (the pytest plugin does this before every test)."""
        if type(value) is not int:
            raise validation_error(f'reset_sequence() for model "{self.model.name}" expects an integer, got {value!r}.',
                                   model=self.model.name)
        self.sequence = value

    def _next(self) -> int:
        seq = self.sequence
        self.sequence += 1
        return seq

    # -- public API --------------------------------------------------------------------------
    def build(self, **overrides: Any) -> dict[str, Any]:
        """The create data of one record (defaults + overrides), validated, without any I/O.

        Relation values are checked (related factories take their sequence numbers, as in
        factory_boy) but not part of the data, since no parent or child record exists yet: pass
        the foreign key itself, e.g. ``post_factory.build(author_id=ada["id"])``."""
        plan = self._plan(overrides, filled=frozenset())
        return dict(plan.data)

    def batch(self, count: int, **overrides: Any) -> Batch:
        """``count`` records of this factory as the value of a ``has_many`` relation in another factory."""
        _check_count(self.model, "batch", count)
        self._check_keys(overrides, "overrides")
        return Batch(self, count, dict(overrides))

    async def create(self, orm: Orm, **overrides: Any) -> dict[str, Any]:
        """Create one record (and the related records its relation values ask for) and return it.

        The record has a key per relation the factory wrote: the parent record for ``belongs_to``,
        the list of created children for ``has_many``."""
        plan = self._plan(overrides, filled=frozenset())
        if not plan.has_relations():
            return await orm.model(self.model.name).create(data=plan.data)
        async with orm.transaction() as tx:
            return await _execute(tx, plan)

    async def create_list(self, orm: Orm, count: int, **overrides: Any) -> list[dict[str, Any]]:
        """Create ``count`` records with the same overrides (one ``create_many`` when no relations)."""
        _check_count(self.model, "create_list", count)
        plans = [self._plan(overrides, filled=frozenset()) for _ in range(count)]
        if not plans:
            return []
        if not any(p.has_relations() for p in plans):
            return await orm.model(self.model.name).create_many(data=[p.data for p in plans])
        async with orm.transaction() as tx:
            return [await _execute(tx, p) for p in plans]

    def bind(self, orm: Orm) -> BoundFactory:
        """This factory bound to ``orm``: ``await users.create()``, ``await users.create_list(3)``."""
        return BoundFactory(self, orm)

    # -- planning (no I/O) -------------------------------------------------------------------
    def _check_keys(self, values: Mapping[str, Any], label: str) -> None:
        model = self.model
        for key in values:
            if key not in model.fields and key not in model.relations:
                raise validation_error(
                    f'Unknown field "{key}" in factory {label} for model "{model.name}".',
                    model=model.name, field=key,
                )

    def _plan(self, overrides: Mapping[str, Any], filled: frozenset[str]) -> _Plan:
        model = self.model
        self._check_keys(overrides, "overrides")
        defaults = self.defaults(self._next())
        if not isinstance(defaults, Mapping):
            raise validation_error(
                f'Factory defaults for model "{model.name}" must return a mapping, got {type(defaults).__name__}.',
                model=model.name,
            )
        self._check_keys(defaults, "defaults")
        merged: dict[str, Any] = dict(defaults)
        for key, value in overrides.items():
            rel = model.relations.get(key)
            if rel is not None and rel.kind == "belongs_to" and rel.local_field in defaults:
                merged.pop(rel.local_field, None)  # an overridden parent replaces a default foreign key
            merged[key] = value
        for rel in model.relations.values():  # an overridden foreign key replaces a default parent
            if rel.kind == "belongs_to" and rel.local_field in overrides and rel.name in merged:
                if rel.name in overrides:
                    raise validation_error(
                        f'Factory overrides for model "{model.name}" set both relation "{rel.name}" and its '
                        f'foreign key "{rel.local_field}"; pass one of them.',
                        model=model.name, field=rel.name,
                    )
                merged.pop(rel.name)
        plan = _Plan(self, {})
        for key, value in merged.items():
            if key in model.fields:
                plan.data[key] = value
                continue
            rel = model.relations[key]
            if rel.kind == "belongs_to":
                if rel.local_field in filled:
                    continue  # the parent creating this record sets the foreign key
                plan.parents.append((rel, self._parent(rel, value)))
            elif rel.kind in ("has_many", "has_one"):
                plan.children.append((rel, self._children(rel, value)))
            else:
                raise validation_error(
                    f'Factories cannot write relation "{key}" ({rel.kind}) on model "{model.name}": '
                    "create the join records with their own factory.",
                    model=model.name, field=key,
                )
        # validate the values now (no I/O), with a stand-in for foreign keys resolved later
        stand_ins = {f: _stand_in(model, f) for f in filled}
        stand_ins.update({rel.local_field: _stand_in(model, rel.local_field) for rel, _ in plan.parents})
        create_values(model, {**plan.data, **{k: v for k, v in stand_ins.items() if k not in plan.data}})
        return plan

    def _parent(self, rel: RelationMeta, value: Any) -> _Plan | Mapping[str, Any] | None:
        model = self.model
        if isinstance(value, Factory):
            _check_target(model, rel, value)
            return value._plan({}, filled=frozenset())
        if isinstance(value, Mapping):
            if rel.remote_field not in value:
                raise validation_error(
                    f'Relation "{rel.name}" on model "{model.name}" expects a {rel.target} record with '
                    f'"{rel.remote_field}" or a factory, got a mapping without it.',
                    model=model.name, field=rel.name,
                )
            return value
        if value is None:
            if not model.fields[rel.local_field].nullable:
                raise validation_error(f'Field "{rel.local_field}" on model "{model.name}" cannot be null.',
                                       model=model.name, field=rel.local_field)
            return None
        raise validation_error(
            f'Relation "{rel.name}" on model "{model.name}" expects a factory, a {rel.target} record or None, '
            f"got {type(value).__name__}.",
            model=model.name, field=rel.name,
        )

    def _children(self, rel: RelationMeta, value: Any) -> list[_Plan]:
        model = self.model
        items = value if isinstance(value, (list, tuple)) else [value]
        plans: list[_Plan] = []
        for item in items:
            if isinstance(item, Factory):
                item = Batch(item, 1, {})
            if not isinstance(item, Batch):
                raise validation_error(
                    f'Relation "{rel.name}" on model "{model.name}" expects a factory, factory.batch(n) or a list '
                    f"of them, got {type(item).__name__}.",
                    model=model.name, field=rel.name,
                )
            _check_target(model, rel, item.factory)
            plans += [item.factory._plan(item.overrides, filled=frozenset({rel.remote_field}))
                      for _ in range(item.count)]
        if rel.kind == "has_one" and len(plans) != 1:
            raise validation_error(
                f'Relation "{rel.name}" on model "{model.name}" is has_one: give exactly one record, got {len(plans)}.',
                model=model.name, field=rel.name,
            )
        return plans


class BoundFactory:
    """A factory bound to one ORM (``factory.bind(orm)``)."""

    def __init__(self, factory: Factory, orm: Orm) -> None:
        self.factory = factory
        self.orm = orm

    def build(self, **overrides: Any) -> dict[str, Any]:
        """Same as ``Factory.build``."""
        return self.factory.build(**overrides)

    async def create(self, **overrides: Any) -> dict[str, Any]:
        """``Factory.create`` on the bound ORM."""
        return await self.factory.create(self.orm, **overrides)

    async def create_list(self, count: int, **overrides: Any) -> list[dict[str, Any]]:
        """``Factory.create_list`` on the bound ORM."""
        return await self.factory.create_list(self.orm, count, **overrides)


def define_factory(model: ModelMeta, *, defaults: Defaults) -> Factory:
    """A factory for ``model`` (``schema.models["user"]``): ``defaults(seq)`` returns one record's data."""
    if not isinstance(model, ModelMeta):
        raise validation_error(
            "define_factory() expects a model of a schema, e.g. define_factory(schema.models[\"user\"], "
            f"defaults=...), got {type(model).__name__}.",
        )
    if not callable(defaults):
        raise validation_error(
            f'Factory defaults for model "{model.name}" must be a callable taking the sequence number '
            f"(defaults=lambda seq: {{...}}), got {type(defaults).__name__}.",
            model=model.name, field="defaults",
        )
    return Factory(model, defaults)


def reset_sequences() -> None:
    """Reset the sequence of every factory defined in this process (the pytest plugin's per-test reset)."""
    for factory in list(_FACTORIES):
        factory.reset_sequence()


def _check_count(model: ModelMeta, label: str, count: Any) -> None:
    if type(count) is not int or count < 0:
        raise validation_error(
            f'Invalid count for {label} on model "{model.name}": expected a non-negative integer, got {count!r}.',
            model=model.name,
        )


def _check_target(model: ModelMeta, rel: RelationMeta, factory: Factory) -> None:
    if factory.model.name != rel.target:
        raise validation_error(
            f'Relation "{rel.name}" on model "{model.name}" needs a {rel.target} factory, '
            f"got a {factory.model.name} factory.",
            model=model.name, field=rel.name,
        )


def _stand_in(model: ModelMeta, name: str) -> Any:
    """A valid placeholder for a foreign key that a related record fills in at write time."""
    kind = model.fields[name].value_kind
    return 1 if kind in ("integer", "bigint") else "0"


async def _execute(tx: Orm, plan: _Plan) -> dict[str, Any]:
    data = dict(plan.data)
    extras: dict[str, Any] = {}
    for rel, parent in plan.parents:
        record = await _execute(tx, parent) if isinstance(parent, _Plan) else parent
        data[rel.local_field] = None if record is None else record[rel.remote_field]
        extras[rel.name] = record
    record = await tx.model(plan.factory.model.name).create(data=data)
    for rel, kids in plan.children:
        made = []
        for kid in kids:
            kid.data[rel.remote_field] = record[rel.local_field]
            made.append(await _execute(tx, kid))
        extras[rel.name] = made if rel.kind == "has_many" else made[0]
    return {**record, **extras}


# -------------------------------------------------------------------------------------------
# seeds


@dataclass(frozen=True)
class Seed:
    """A named seed: ``await seed.run(orm)`` fills the database with data."""

    name: str
    run: Callable[[Orm], Awaitable[Any]]
    description: str | None = None


def define_seed(name: str, *, run: Callable[[Orm], Awaitable[Any]], description: str | None = None) -> Seed:
    """A named seed for ``farmorm db seed``: ``run`` is ``async def run(orm)``."""
    if not isinstance(name, str) or not name.strip() or "," in name:
        raise validation_error(f"define_seed() expects a non-empty name without commas, got {name!r}.",
                               field="name")
    if not callable(run):
        raise validation_error(
            f'Seed "{name}" expects run= to be an async function taking the orm, got {type(run).__name__}.',
            seed=name, field="run",
        )
    return Seed(name.strip(), run, description)


class SeedRegistry:
    """Seeds by name, in the order they were added; runs all of them or a chosen few."""

    def __init__(self, seeds: Iterable[Seed] = ()) -> None:
        self._seeds: dict[str, Seed] = {}
        for seed in seeds:
            self.add(seed)

    def add(self, seed: Seed) -> Seed:
        """Register ``seed``; a second seed with the same name is a VALIDATION_ERROR."""
        if not isinstance(seed, Seed):
            raise validation_error(f"SeedRegistry.add() expects a seed made by define_seed(), got {seed!r}.")
        if seed.name in self._seeds:
            raise validation_error(f'Duplicate seed "{seed.name}".', seed=seed.name)
        self._seeds[seed.name] = seed
        return seed

    @property
    def names(self) -> list[str]:
        """The seed names in run order."""
        return list(self._seeds)

    def select(self, only: Sequence[str] | None = None) -> list[Seed]:
        """The seeds to run: all, or those named in ``only`` (in registry order); unknown names raise."""
        if not only:
            return list(self._seeds.values())
        unknown = [n for n in only if n not in self._seeds]
        if unknown:
            raise validation_error(
                f'Unknown seed "{unknown[0]}". Known seeds: {", ".join(self._seeds) or "(none)"}.', seed=unknown[0]
            )
        return [s for s in self._seeds.values() if s.name in only]

    async def run(self, orm: Orm, only: Sequence[str] | None = None,
                  on_done: Callable[[Seed], Any] | None = None) -> list[str]:
        """Run the selected seeds in order, each in its own transaction; returns their names."""
        chosen = self.select(only)
        for seed in chosen:
            async def body(tx: Orm, seed: Seed = seed) -> Any:
                result = seed.run(tx)
                if inspect.isawaitable(result):
                    await result

            await orm.transaction(body)
            if on_done is not None:
                on_done(seed)
        return [s.name for s in chosen]


async def run_seeds(orm: Orm, seeds: Iterable[Seed], *, only: Sequence[str] | None = None) -> list[str]:
    """Run ``seeds`` (all, or those named in ``only``) in order on ``orm``; returns the names run."""
    return await SeedRegistry(seeds).run(orm, only)


__all__ = [
    "define_factory", "Factory", "BoundFactory", "Batch", "reset_sequences",
    "define_seed", "Seed", "SeedRegistry", "run_seeds",
]
