"""The schema contract: models, fields, relations and the resolved manifest."""

from .definition import (
    ModelDef,
    RelationDef,
    TableName,
    belongs_to,
    has_many,
    has_one,
    many_to_many,
    model,
    table_name,
)
from .fields import MISSING, FieldBuilder
from .manifest import (
    ConstraintMeta,
    FieldMeta,
    ModelMeta,
    RelationMeta,
    Schema,
    define_schema,
    merge_schemas,
)

__all__ = [
    "ModelDef", "RelationDef", "TableName", "belongs_to", "has_many", "has_one", "many_to_many",
    "model", "table_name", "MISSING", "FieldBuilder", "ConstraintMeta", "FieldMeta", "ModelMeta",
    "RelationMeta", "Schema", "define_schema", "merge_schemas",
]
