"""``farmorm generate client`` / ``check client`` as a real subprocess: the config target and --out,
determinism, and ``check`` failing once the schema changes (SCHEMA_V2 adds a field)."""

from __future__ import annotations

from pathlib import Path

from .conftest import CONFIG_PY, cli, write_project


def test_generate_and_check_client(project: Path) -> None:
    out = cli(project, "generate", "client", "--out", "db_types.py").stdout
    target = (project / "db_types.py").resolve()
    assert out.strip() == f"Generated client output at {target}"
    text = target.read_text()
    assert "class TypedClient(TypedOrm, schema_hashes=SCHEMA_HASHES):" in text
    assert "class UserCreate(TypedDict):" in text and 'UserTier: TypeAlias = Literal["free", "pro"]' in text
    assert cli(project, "check", "client", "--out", "db_types.py").stdout.strip() == "client output is up to date."

    cli(project, "generate", "client", "--out", "db_types.py")
    assert target.read_text() == text  # deterministic

    # the schema gains a field: the module is stale until generated again
    proc = cli(project, "check", "client", "--out", "db_types.py", v2=True, check=1)
    assert proc.stdout.strip() == f"client output is out of date: {target}"
    cli(project, "generate", "client", "--out", "db_types.py", v2=True)
    assert "    nickname: str | None\n" in target.read_text()
    assert cli(project, "check", "client", "--out", "db_types.py", v2=True).returncode == 0


def test_client_target_from_the_config(tmp_path: Path) -> None:
    write_project(tmp_path, CONFIG_PY.replace('"prisma": {', '"client": {"out": "app/db_types.py"},\n        "prisma": {'))
    cli(tmp_path, "generate", "client")
    assert (tmp_path / "app" / "db_types.py").is_file()
    assert cli(tmp_path, "check", "client").returncode == 0
    assert cli(tmp_path, "check", "client", v2=True, check=1).returncode == 1


def test_client_target_unconfigured_without_out(project: Path) -> None:
    proc = cli(project, "generate", "client", check=1)
    assert 'Target "client" is not configured.' in proc.stderr
