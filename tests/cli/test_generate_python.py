"""``farmorm generate python`` / ``check python`` as a real subprocess: the module imports, type-checks
under ``mypy --strict`` and reads records from a real database with ``as_=``."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec

from farmorm import create_orm
from farmorm.setup import push_schema

from .conftest import CONFIG_PY, cli, write_project


def _import(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generate_python_with_out(project: Path) -> None:
    out = cli(project, "generate", "python", "--out", "models.py").stdout
    target = (project / "models.py").resolve()
    assert out.strip() == f"Generated python output at {target}"
    text = target.read_text()
    assert "class User(msgspec.Struct):" in text and "class PostDict(TypedDict):" in text
    assert '    tier: Literal["free", "pro"]\n' in text and "    bio: str | None\n" in text
    assert cli(project, "check", "python", "--out", "models.py").stdout.strip() == "python output is up to date."

    target.write_text(text.replace("bio: str | None", "bio: str"))
    assert cli(project, "check", "python", "--out", "models.py", check=1).stdout.strip() == \
        f"python output is out of date: {target}"

    cli(project, "generate", "python", "--out", "models.py")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "models.py"],
                          cwd=project, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


async def test_generated_structs_read_rows(project: Path) -> None:
    cli(project, "generate", "python", "--out", "models.py")
    models = _import(project / "models.py", "farmorm_cli_generated_models")
    schema = _import(project / "app_schema.py", "farmorm_cli_app_schema").schema
    orm = await create_orm(schema, "sqlite:///:memory:")
    try:
        await push_schema(schema, orm)
        await orm.user.create(data={"id": "u1", "email": "ada@example.com", "name": "Ada", "bio": None})
        await orm.post.create(data={"user_id": "u1", "title": "Hello"})
        users = await orm.user.find_many(as_=models.User)
        assert users == [models.User(id="u1", email="ada@example.com", name="Ada", tier="free", login_count=0, bio=None)]
        post = await orm.post.find_first(as_=models.Post)
        assert isinstance(post, models.Post) and post.title == "Hello" and post.published is False
        assert msgspec.structs.asdict(post) == await orm.post.find_first()
    finally:
        await orm.close()


def test_python_target_from_the_config(tmp_path: Path) -> None:
    write_project(tmp_path, CONFIG_PY.replace('"prisma": {', '"python": {"out": "app/models.py"},\n        "prisma": {'))
    cli(tmp_path, "generate", "python")
    assert (tmp_path / "app" / "models.py").is_file()
    assert cli(tmp_path, "check", "python").returncode == 0


def test_python_target_unconfigured_without_out(project: Path) -> None:
    proc = cli(project, "generate", "python", check=1)
    assert 'Target "python" is not configured.' in proc.stderr
