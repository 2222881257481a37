"""System models: the tables a feature owns, which ``define_schema`` adds to the schema.

A feature (``farmorm/features/``) declares its system model next to its client and hooks and
registers it here when its module is imported (``import farmorm`` imports the built-in features);
``define_schema`` adds it when the schema asks for the feature: ``define_schema(outbox=True)``
(``option``), or a model declared with ``history=True`` (``model_option``).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple

from .definition import ModelDef


class SystemModel(NamedTuple):
    """A feature's table: its model name, how to build its definition, and what turns it on."""

    name: str
    build: Callable[[], ModelDef]
    #: the ``define_schema`` keyword that adds it (``outbox=True``), or None
    option: str | None = None
    #: the ``model(...)`` option that adds it when any model sets it (``history``), or None
    model_option: str | None = None


_registered: dict[str, SystemModel] = {}


def register_system_model(model: SystemModel) -> SystemModel:
    """Let ``define_schema`` add ``model`` (a model of the same name registered before is replaced)."""
    _registered[model.name] = model
    return model


def unregister_system_model(name: str) -> None:
    """Stop adding model ``name`` to schemas defined afterwards (a no-op when not registered)."""
    _registered.pop(name, None)


def options() -> frozenset[str]:
    """The ``define_schema`` keywords that add a system model (``outbox``, ``idempotency``)."""
    return frozenset(m.option for m in _registered.values() if m.option is not None)


def wanted(defs: Mapping[str, Any], chosen: frozenset[str]) -> list[tuple[SystemModel, str]]:
    """The system models this schema needs, each with what asked for it (for the reserved-name
    error): those a model option asks for first, in registration order, then the keywords' by name."""
    by_model = [(m, f"models with {m.model_option}=True") for m in _registered.values()
                if m.model_option is not None
                and any(getattr(d, m.model_option, False) for d in defs.values() if isinstance(d, ModelDef))]
    by_option = [(m, f"{m.option}=True") for m in sorted(_registered.values(), key=lambda m: m.option or "")
                 if m.option is not None and m.option in chosen]
    return by_model + by_option
