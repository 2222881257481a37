"""``farmorm.generators.python``: ``schema.struct`` classes and the ``farmorm generate python`` module.

The golden file is the module rendered for the rich schema of ``test_generators_golden`` (the
reference auth fixture, integer-id models and a namespaced model): FARMORM_UPDATE_GOLDEN=1
rewrites it. The module must also import and pass ``mypy --strict``.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Optional

import msgspec
import pytest

from farmorm import define_schema, model
from farmorm import fields as f
from farmorm.generators.python import class_name, render_python_models

from .test_generators_golden import NAMESPACED, assert_golden

ROOT = Path(__file__).resolve().parents[2]


def test_python_models_golden() -> None:
    assert_golden("python.models.py", render_python_models(NAMESPACED))


def test_rendering_is_deterministic() -> None:
    assert render_python_models(NAMESPACED) == render_python_models(NAMESPACED)


def _import(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"farmorm_generated_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_module_imports_and_matches_schema_struct(tmp_path: Path) -> None:
    path = tmp_path / "models.py"
    path.write_text(render_python_models(NAMESPACED), encoding="utf-8")
    mod = _import(path)
    assert sorted(mod.STRUCTS) == sorted(NAMESPACED.models)
    for name, cls in mod.STRUCTS.items():
        runtime = NAMESPACED.struct(name)
        assert cls.__name__ == runtime.__name__ == class_name(name)
        assert cls.__struct_fields__ == runtime.__struct_fields__ == tuple(NAMESPACED.models[name].fields)
        assert list(getattr(mod, cls.__name__ + "Dict").__annotations__) == list(NAMESPACED.models[name].fields)
    # the generated Struct decodes a record shaped like find_many's
    account = msgspec.convert(
        {"id": "a1", "user_id": "u1", "provider": "github", "account_id": "42", "plan_tier": "pro",
         "balance": "1.50", "metadata": None},
        mod.Account, strict=False,
    )
    assert account.balance == Decimal("1.50") and account.metadata is None
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"id": "a1", "user_id": "u1", "provider": "x", "account_id": "1", "plan_tier": "gold",
                         "balance": "1", "metadata": None}, mod.Account, strict=False)


def test_generated_module_passes_mypy_strict(tmp_path: Path) -> None:
    path = tmp_path / "models.py"
    path.write_text(render_python_models(NAMESPACED), encoding="utf-8")
    use = tmp_path / "use_models.py"
    use.write_text(
        "import datetime\n"
        "from models import Account, User, UserDict\n\n"
        "def tier(u: User) -> str:\n    return u.tier\n\n"
        "def created(u: UserDict) -> datetime.datetime:\n    return u['created_at']\n\n"
        "def bad(a: Account) -> int:\n    return a.balance  # a Decimal is not an int\n",
        encoding="utf-8",
    )
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "models.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the types are real: mypy catches a misuse in code that imports them
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "use_models.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'use_models.py:11: error: Incompatible return value type (got "Decimal", expected "int")' in proc.stdout
    assert proc.stdout.count("error:") == 1, proc.stdout


def test_schema_struct_types_and_cache() -> None:
    schema = define_schema(
        thing=model(table="things", fields={
            "id": f.id(type="integer", generated="increment"),
            "name": f.string(),
            "note": f.string().nullable(),
            "kind": f.enumeration(["a", "b"]),
            "price": f.decimal(),
            "at": f.datetime().nullable(),
            "data": f.json(),
            "big": f.bigint(),
            "ok": f.boolean(),
        }, description="Something to sell."),
    )
    Thing = schema.struct("thing")
    assert Thing is schema.struct("thing")  # cached per schema
    assert issubclass(Thing, msgspec.Struct) and Thing.__name__ == "Thing" and Thing.__doc__ == "Something to sell."
    types = {fi.name: fi.type for fi in msgspec.structs.fields(Thing)}
    assert types == {
        "id": int, "name": str, "note": Optional[str], "kind": Literal["a", "b"], "price": Decimal,
        "at": Optional[dt.datetime], "data": Any, "big": int, "ok": bool,
    }
    assert all(fi.required for fi in msgspec.structs.fields(Thing))  # a record always has every field
    with pytest.raises(KeyError, match='Unknown model "nope"'):
        schema.struct("nope")
    # another schema object builds its own class
    other = define_schema(thing=model(table="things", fields={"id": f.id()}))
    assert other.struct("thing") is not Thing


def test_relations_are_left_out_and_names_are_camel_case() -> None:
    schema = NAMESPACED
    assert "sessions" not in schema.struct("user").__struct_fields__
    assert schema.struct("audit_log").__name__ == "AuditLog"
    assert class_name("post_tag") == "PostTag"


def test_clashing_class_names_are_refused() -> None:
    schema = define_schema(
        user=model(table="users", fields={"id": f.id()}),
        user_dict=model(table="user_dicts", fields={"id": f.id()}),
    )
    with pytest.raises(ValueError, match='models "user" and "user_dict" both map to the class name "UserDict"'):
        render_python_models(schema)


def test_decimal_digits_reach_every_generator():
    from farmorm import define_schema, fields as f, model
    from farmorm.generators import render_drizzle_schema, render_prisma_schema, render_safe_sql
    from farmorm.generators.python import render_python_models
    from farmorm.generators.sqlalchemy import to_sqlalchemy_metadata

    s = define_schema(p=model(table="prices", fields={"id": f.id(), "amount": f.decimal(10, 2)}))
    assert '"amount" numeric(10, 2) NOT NULL' in render_safe_sql(s, dialect="postgres")
    assert "`amount` DECIMAL(10,2) NOT NULL" in render_safe_sql(s, dialect="mysql")
    assert "amount Decimal @db.Decimal(10, 2)" in render_prisma_schema(s, provider="mysql")
    assert 'numeric("amount", { precision: 10, scale: 2 })' in render_drizzle_schema(s, dialect="pg")
    assert 'decimal("amount", { precision: 10, scale: 2 })' in render_drizzle_schema(s, dialect="mysql")
    for dialect in ("postgres", "mysql"):
        col = to_sqlalchemy_metadata(s, dialect=dialect).tables["prices"].c.amount
        assert (col.type.precision, col.type.scale) == (10, 2)
    source = render_python_models(s)
    assert "    #: decimal(10, 2): exactly 2 places\n    amount: _decimal.Decimal\n" in source


def test_max_length_and_referential_actions_reach_every_generator():
    from farmorm.generators import render_drizzle_schema, render_prisma_schema, render_safe_sql
    from farmorm.generators.python import render_python_models
    from farmorm.generators.sqlalchemy import to_sqlalchemy_metadata

    from ..conformance.test_references import blog

    assert '"handle" varchar(12) NOT NULL' in render_safe_sql(blog, dialect="postgres")
    assert "`handle` VARCHAR(12) COLLATE utf8mb4_nopad_bin NOT NULL" in render_safe_sql(blog, dialect="mysql")
    for dialect in ("postgres", "mysql", "sqlite"):
        sql = render_safe_sql(blog, dialect=dialect)
        assert 'REFERENCES {0}authors{0} ({0}id{0}) ON DELETE CASCADE ON UPDATE CASCADE'.format(
            "`" if dialect == "mysql" else '"') in sql
        assert "ON DELETE SET NULL" in sql and "ON DELETE RESTRICT" in sql
    prisma = render_prisma_schema(blog)
    assert "handle String @db.VarChar(12) @unique(" in prisma
    assert "@relation(fields: [author_id], references: [id], onDelete: Cascade, onUpdate: Cascade)" in prisma
    assert "onDelete: Restrict" in prisma  # (a second foreign key to one model gets no Prisma relation yet)
    drizzle = render_drizzle_schema(blog, dialect="pg")
    assert 'handle: varchar("handle", { length: 12 })' in drizzle
    assert '.references(() => author.id, { onDelete: "cascade", onUpdate: "cascade" })' in drizzle
    assert 'text("handle", { length: 12 })' in render_drizzle_schema(blog, dialect="sqlite")
    col = to_sqlalchemy_metadata(blog, dialect="mysql").tables["authors"].c.handle
    assert col.type.length == 12
    assert "    #: at most 12 characters\n    handle: str\n" in render_python_models(blog)


def test_sqlalchemy_source_does_not_depend_on_hash_seed():
    """Table constraints are a set: the rendered text must not follow its iteration order, or
    `farmorm check sqlalchemy` would call a fresh file stale in the next process."""
    import subprocess
    import sys

    code = ("from tests.unit.test_generators_golden import RICH\n"
            "from farmorm.generators.sqlalchemy import render_sqlalchemy_source\n"
            "print(render_sqlalchemy_source(RICH))")
    outputs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**__import__("os").environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2", "3", "4")
    }
    assert len(outputs) == 1
