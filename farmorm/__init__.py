"""farmorm: one schema contract, one async query API on PostgreSQL, MySQL, SQLite and MongoDB."""

from . import fields
from .core.version import __version__
from .core.detect import (
    Detected,
    RuntimeReport,
    detect_database_runtime,
    inspect_database_runtime,
    require_database_runtime,
)
from .core.driver import Capabilities, DriverHandle, QueryEvent
from .core.errors import (
    CheckViolation,
    Deadlock,
    ForeignKeyViolation,
    IdempotencyConflict,
    MissingSchema,
    MissingTable,
    NotNullViolation,
    OrmConnectionError,
    OrmError,
    QueryValidationError,
    RecordNotFound,
    SchemaError,
    TransactionConflict,
    UniqueConstraintViolation,
    UnsupportedError,
    VersionConflict,
    is_orm_error,
)
from .features.factories import define_factory, define_seed
from .runtime import ModelClient, Orm, ReplicaPolicy, create_orm, create_orm_from_runtime
from .schema import (
    Schema,
    belongs_to,
    define_schema,
    has_many,
    has_one,
    many_to_many,
    merge_schemas,
    model,
    table_name,
)


__all__ = [
    "__version__",
    "fields",
    "define_schema", "merge_schemas", "model", "table_name", "Schema",
    "belongs_to", "has_one", "has_many", "many_to_many",
    "create_orm", "create_orm_from_runtime", "Orm", "ModelClient", "ReplicaPolicy",
    "detect_database_runtime", "inspect_database_runtime", "require_database_runtime",
    "Detected", "RuntimeReport",
    "Capabilities", "DriverHandle", "QueryEvent",
    "OrmError", "is_orm_error", "SchemaError",
    "UniqueConstraintViolation", "ForeignKeyViolation", "NotNullViolation", "CheckViolation",
    "MissingTable", "MissingSchema", "TransactionConflict", "Deadlock", "OrmConnectionError",
    "QueryValidationError", "RecordNotFound", "VersionConflict", "UnsupportedError",
    "IdempotencyConflict",
    "define_factory", "define_seed",
]
