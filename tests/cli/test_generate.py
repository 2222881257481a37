"""``farmorm generate`` / ``check`` as a real subprocess: exact messages and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import CONFIG_PY, cli, write_project


def test_generate_then_check_round_trip(project: Path) -> None:
    out = cli(project, "generate", "sql").stdout
    target = (project / "generated" / "schema.sql").resolve()
    assert out.strip() == f"Generated sql output at {target}"
    assert 'CREATE TABLE IF NOT EXISTS "users"' in target.read_text() or "users" in target.read_text()
    assert cli(project, "check", "sql").stdout.strip() == "sql output is up to date."

    target.write_text(target.read_text() + "-- edited by hand\n")
    stale = cli(project, "check", "sql", check=1)
    assert stale.stdout.strip() == f"sql output is out of date: {target}"


def test_check_of_a_missing_file_is_stale(project: Path) -> None:
    proc = cli(project, "check", "sql", check=1)
    assert "sql output is out of date:" in proc.stdout


def test_sqlalchemy_target_is_importable_and_checked(project: Path) -> None:
    cli(project, "generate", "sqlalchemy", "-c", "farmorm_config.py")
    ns: dict = {}
    exec(compile((project / "generated" / "tables.py").read_text(), "tables.py", "exec"), ns)
    assert sorted(ns["metadata"].tables) == ["posts", "users"]
    assert cli(project, "check", "sqlalchemy").returncode == 0


def test_prisma_block_mode_keeps_the_rest_of_the_file(project: Path) -> None:
    prisma = project / "prisma" / "schema.prisma"
    prisma.parent.mkdir()
    prisma.write_text("// my own notes\n")
    cli(project, "generate", "prisma")
    text = prisma.read_text()
    assert text.startswith("// my own notes")
    assert "// @farming-labs/orm:start:prisma" in text and "model User" in text
    assert cli(project, "check", "prisma").stdout.strip() == "prisma output is up to date."


def test_prisma_replace_mode_overwrites(tmp_path: Path) -> None:
    write_project(tmp_path, CONFIG_PY.replace('"provider": "sqlite"}', '"provider": "sqlite", "mode": "replace"}'))
    prisma = tmp_path / "prisma" / "schema.prisma"
    prisma.parent.mkdir()
    prisma.write_text("// my own notes\n")
    cli(tmp_path, "generate", "prisma")
    assert "my own notes" not in prisma.read_text()


def test_unconfigured_target(project: Path) -> None:
    proc = cli(project, "generate", "drizzle", check=1)
    assert 'Target "drizzle" is not configured.' in proc.stderr


def test_no_schemas(tmp_path: Path) -> None:
    config = write_project(tmp_path, "from farmorm.config import define_config\ndefine_config(schemas=[], targets={})\n")
    proc = cli(tmp_path, "generate", "sql", check=1)
    assert proc.stderr.splitlines()[0] == f"error [CONFIG_ERROR]: No schemas found in {config.resolve()}"


def test_duplicate_model(tmp_path: Path) -> None:
    write_project(tmp_path, CONFIG_PY.replace("schemas=[schema]", "schemas=[schema, schema]"))
    proc = cli(tmp_path, "generate", "sql", check=1)
    assert 'Duplicate model "user" detected while merging schemas.' in proc.stderr


def test_config_flag_and_missing_config(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    other = tmp_path_factory.mktemp("elsewhere")
    cli(other, "generate", "sql", "-c", str(project / "farmorm_config.py"))
    assert (project / "generated" / "schema.sql").is_file()  # outputs resolve against the config's folder
    proc = cli(other, "generate", "sql", check=1)
    assert "Config file not found" in proc.stderr


@pytest.mark.parametrize(
    "command",
    [[], ["generate"], ["check"], ["push"], ["inspect"], ["demo"], ["db"], ["db", "init"], ["db", "generate"],
     ["db", "migrate"], ["db", "downgrade"], ["db", "seed"], ["db", "reset"], ["db", "doctor"]],
)
def test_every_command_has_help_with_an_example(tmp_path: Path, command: list[str]) -> None:
    proc = cli(tmp_path, *command, "--help")
    assert "Example" in proc.stdout, proc.stdout
