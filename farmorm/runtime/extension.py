"""The one extension point: how a feature (history, outbox, idempotency, ...) plugs into clients.

The runtime never imports a feature. A feature module registers an :class:`Extension` when it is
imported (``farmorm.features`` imports the built-in ones, and ``import farmorm`` imports it); the
runtime asks the registry for two things only:

- ``orm.<attribute>``: a name that is not a model (``orm.outbox``) is looked up here, and the
  feature's ``client(orm)`` answers it, bound to whatever transaction ``orm`` is bound to;
- ``orm.<model>``: the feature may serve a model with its own ``ModelClient`` subclass
  (``model_client``), e.g. one that appends history rows around every write.
"""

from __future__ import annotations

from typing import Any, TypeVar

from ..schema.manifest import ModelMeta

#: the client class a model falls back to (``ModelClient``: passed in, this module is below it)
C = TypeVar("C")


class Extension:
    """A feature attached to every client; override what the feature needs."""

    #: the client attribute the feature answers (``"outbox"`` for ``orm.outbox``), or None
    attribute: str | None = None

    def client(self, orm: Any) -> Any:
        """What ``orm.<attribute>`` returns: the feature's client bound to ``orm`` (made per access)."""
        raise NotImplementedError(f"{type(self).__name__} declares attribute {self.attribute!r} but no client()")

    def model_client(self, model: ModelMeta) -> type[Any] | None:
        """The ``ModelClient`` subclass serving ``model``, or None to leave it to the plain one."""
        return None


_registered: dict[str, Extension] = {}


def register(extension: Extension) -> Extension:
    """Attach ``extension`` to every client (made before or after); registering a feature again
    under the same class name replaces it. Returns ``extension``."""
    _registered[f"{type(extension).__module__}.{type(extension).__qualname__}"] = extension
    return extension


def unregister(extension: Extension) -> None:
    """Detach ``extension`` (clients made afterwards no longer see it); a no-op when not registered."""
    for key, found in list(_registered.items()):
        if found is extension:
            del _registered[key]


def extensions() -> tuple[Extension, ...]:
    """The registered extensions, in registration order."""
    return tuple(_registered.values())


def attribute(name: str) -> Extension | None:
    """The extension answering ``orm.<name>``, or None."""
    for ext in _registered.values():
        if ext.attribute == name:
            return ext
    return None


def model_client_class(model: ModelMeta, default: type[C]) -> type[C]:
    """The client class serving ``model``: the first extension's subclass of ``default``, else ``default``."""
    for ext in _registered.values():
        found = ext.model_client(model)
        if found is not None:
            return found
    return default
