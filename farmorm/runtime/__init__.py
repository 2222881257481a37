"""The ORM client runtime: model clients, transactions, execution and hydration."""

from .orm import Orm, create_driver, create_orm, create_orm_from_runtime, engine_of
from .model import ModelClient
from .routing import ReplicaPolicy

__all__ = ["Orm", "ModelClient", "create_orm", "create_orm_from_runtime", "create_driver", "engine_of", "ReplicaPolicy"]
