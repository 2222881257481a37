"""A feature's system model lives with the feature (``farmorm/features/``) and reaches
``define_schema`` through ``farmorm/schema/system.py``: the schema layer names no feature."""

from __future__ import annotations

import pytest

from farmorm import define_schema, fields as f, model
from farmorm.core.errors import SchemaError
from farmorm.schema import system
from farmorm.schema.definition import ModelDef


def test_the_built_in_features_register_their_tables() -> None:
    assert system.options() == {"outbox", "idempotency"}
    schema = define_schema(note=model(table="notes", fields={"id": f.id()}, history=True), outbox=True,
                           idempotency=True)
    assert list(schema.models) == ["note", "farmorm_history", "farmorm_idempotency", "farmorm_outbox"]
    assert schema.models["farmorm_outbox"].table == "farmorm_outbox"
    assert list(define_schema(note=model(table="notes", fields={"id": f.id()})).models) == ["note"]


@pytest.mark.parametrize(("name", "options", "why"), [
    ("farmorm_history", {}, "models with history=True"),
    ("farmorm_outbox", {"outbox": True}, "outbox=True"),
])
def test_a_system_model_name_is_reserved(name: str, options: dict[str, bool], why: str) -> None:
    models = {"note": model(table="notes", fields={"id": f.id()}, history=True),
              name: model(table="mine", fields={"id": f.id()})}
    with pytest.raises(SchemaError) as info:
        define_schema(**models, **options)  # type: ignore[arg-type]
    assert str(info.value) == f'Model name "{name}" is reserved: define_schema adds it for {why}.'


def test_a_new_feature_registers_its_table_and_its_option() -> None:
    def audit_model() -> ModelDef:
        return model(table="farmorm_audit", fields={"id": f.id(), "what": f.string()})

    system.register_system_model(system.SystemModel("farmorm_audit", audit_model, option="audit"))
    try:
        schema = define_schema(note=model(table="notes", fields={"id": f.id()}), audit=True)
        assert list(schema.models) == ["note", "farmorm_audit"]
    finally:
        system.unregister_system_model("farmorm_audit")
    with pytest.raises(SchemaError):  # no feature answers audit=True any more: a plain (bad) model value
        define_schema(note=model(table="notes", fields={"id": f.id()}), audit=True)
