"""``model_hash``: a short digest of what a model's generated types depend on.

``farmorm generate client`` writes it per model; ``TypedClient(orm)`` compares it with the Orm's
schema, so a module generated from another version of the schema is refused before any query.
"""

from __future__ import annotations

import hashlib
import json

from .meta import ModelMeta


def model_hash(model: ModelMeta) -> str:
    """16 hex digits over the model's fields (kind, nullability, defaults, enum values), relations,
    unique keys and lifecycle fields: what the typed client's TypedDicts and protocols are made of."""
    shape = {
        "fields": [[f.name, f.kind, f.id_type, f.nullable, f.unique, f.generated, f.has_default,
                    list(f.enum_values or ())] for f in model.fields.values()],
        "relations": [[r.name, r.kind, r.target] for r in model.relations.values()],
        "uniques": [list(c.fields) for c in model.uniques],
        "identity": list(model.identity or ()),
        "lifecycle": [model.soft_delete_field, model.archive_field, model.version_field],
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]
