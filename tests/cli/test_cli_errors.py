"""Every failure mode of the ``farmorm`` command is one short message with a code and a hint, and the
documented exit code; never a traceback unless ``--verbose`` (docs/cli.md#errors-and-exit-codes)."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from farmorm.cli.errors import mask
from farmorm.core.version import __version__
from farmorm.testing.databases import _with_database, server_url

from .conftest import CONFIG_PY, cli, require, write_project

EXIT_FAILED, EXIT_DATABASE, EXIT_DEPENDENCY, EXIT_USER_CODE = 1, 3, 4, 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def failed(proc: subprocess.CompletedProcess[str], exit_code: int, code: str) -> str:
    """Assert one short error with ``code`` and no traceback; returns stderr."""
    text = proc.stdout + proc.stderr
    assert proc.returncode == exit_code, f"exit {proc.returncode}\n{text}"
    assert "Traceback" not in text and 'File "' not in text, text
    assert f"error [{code}]: " in proc.stderr, text
    assert len(proc.stderr.strip().splitlines()) <= 6, text
    return proc.stderr


def hidden(root: Path, modules: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    """``farmorm ARGS`` in a Python where ``modules`` cannot be imported (an extra not installed)."""
    code = ("import sys\nfor m in sys.argv[1].split(','):\n    sys.modules[m] = None\n"
            "sys.argv = ['farmorm', *sys.argv[2:]]\nfrom farmorm.cli import main\nmain()\n")
    return subprocess.run([sys.executable, "-c", code, ",".join(modules), *args], cwd=root, capture_output=True,
                          text=True, timeout=120, env={**_env(), "COLUMNS": "200"})


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "FARMORM_DEBUG")}


def test_version(project: Path) -> None:
    assert cli(project, "--version").stdout.strip() == f"farmorm {__version__}"


def test_mask_hides_every_password() -> None:
    text = "postgresql://app:s3cr%40t@db:5432/x and mysql://root:pw@h/db, sqlite:///a.db, mongodb://u@h"
    assert mask(text) == "postgresql://app:***@db:5432/x and mysql://root:***@h/db, sqlite:///a.db, mongodb://u@h"


def test_bad_url_scheme(project: Path) -> None:
    err = failed(cli(project, "push", "--url", "foo://bar", check=None), EXIT_FAILED, "URL_ERROR")
    assert "hint: Use sqlite:///PATH" in err


def test_unreachable_server_masks_the_password(project: Path) -> None:
    url = f"postgresql://postgres:hunter2@127.0.0.1:{_free_port()}/app"
    for args in (["push", "--url", url], ["db", "seed", "--url", url], ["inspect", url]):
        err = failed(cli(project, *args, check=None), EXIT_DATABASE, "CONNECTION_ERROR")
        assert "hint: Is the database server running" in err
        assert "hunter2" not in err
    cli(project, "db", "init")
    for sub in ("migrate", "generate", "doctor", "current"):
        extra = ["-m", "x"] if sub == "generate" else []
        err = failed(cli(project, "db", sub, *extra, "--url", url, check=None), EXIT_DATABASE, "CONNECTION_ERROR")
        assert "hunter2" not in err


def test_verbose_shows_the_traceback_still_masked(project: Path) -> None:
    url = f"mysql://root:hunter2@127.0.0.1:{_free_port()}/app"
    proc = cli(project, "--verbose", "push", "--url", url, check=EXIT_DATABASE)
    assert "Traceback" in proc.stderr and "error [CONNECTION_ERROR]" in proc.stderr
    assert "hunter2" not in proc.stderr
    assert "Traceback" in cli(project, "push", "--url", url, env={"FARMORM_DEBUG": "1"}, check=EXIT_DATABASE).stderr


@pytest.mark.parametrize("backend", ["postgres", "mysql"])
def test_missing_database(project: Path, backend: str) -> None:
    require(backend)
    url = _with_database(server_url(backend), f"farmorm_missing_{secrets.token_hex(4)}")
    cli(project, "db", "init")
    for args in (["push"], ["db", "migrate"], ["db", "doctor"], ["db", "seed"], ["db", "generate", "-m", "x"]):
        err = failed(cli(project, *args, "--url", url, check=None), EXIT_DATABASE, "MISSING_SCHEMA")
        assert "hint: Create the database first" in err


@pytest.mark.parametrize(("modules", "args", "extra"), [
    (["alembic"], ["db", "generate", "-m", "x"], "migrations"),
    (["alembic"], ["db", "doctor"], "migrations"),
    (["sqlalchemy"], ["db", "migrate"], "migrations"),
    (["sqlalchemy"], ["generate", "sqlalchemy"], "sqlalchemy"),
    (["aiosqlite"], ["push"], "sqlite"),
    (["asyncpg"], ["push", "--url", "postgresql://postgres@127.0.0.1:5432/postgres"], "postgres"),
    (["aiomysql"], ["push", "--url", "mysql://root@127.0.0.1:3306/test"], "mysql"),
])
def test_missing_extra_names_the_pip_line(project: Path, modules: list[str], args: list[str], extra: str) -> None:
    cli(project, "db", "init")
    err = failed(hidden(project, modules, *args), EXIT_DEPENDENCY, "MISSING_DEPENDENCY")
    assert f"hint: pip install 'farmorm[{extra}]'" in err


SEED_RAISES = '''
async def seed(orm):
    await orm.user.create(data={"id": "u1", "email": "ada@example.com", "name": "Ada"})
    raise RuntimeError("the seed's own bug")
'''

SEED_CONFLICTS = '''
from farmorm.factories import define_seed

async def _users(orm):
    await orm.user.create(data={"id": "u1", "email": "ada@example.com", "name": "Ada"})

async def _dupes(orm):
    await orm.user.create(data={"id": "u2", "email": "ada@example.com", "name": "Ada again"})

users = define_seed("users", run=_users)
dupes = define_seed("dupes", run=_dupes)
'''


def _with_seed(root: Path, seed_code: str) -> None:
    config = CONFIG_PY.replace("async def seed(orm):", "async def _old_seed(orm):") + seed_code
    write_project(root, config)


def test_failing_seed(tmp_path: Path) -> None:
    _with_seed(tmp_path, SEED_RAISES)
    cli(tmp_path, "push")
    err = failed(cli(tmp_path, "db", "seed", check=None), EXIT_USER_CODE, "SEED_FAILED")
    assert "Seed \"seed\" failed, its transaction was rolled back: RuntimeError: the seed's own bug" in err
    verbose = cli(tmp_path, "db", "seed", "--help", check=0)  # --verbose is a root option
    assert "--only" in verbose.stdout
    proc = cli(tmp_path, "-v", "db", "seed", check=EXIT_USER_CODE)
    assert "Traceback" in proc.stderr and "the seed's own bug" in proc.stderr


def test_seed_hitting_a_constraint_keeps_its_code(tmp_path: Path) -> None:
    _with_seed(tmp_path, SEED_CONFLICTS)
    cli(tmp_path, "push")
    err = failed(cli(tmp_path, "db", "seed", check=None), EXIT_USER_CODE, "UNIQUE_CONSTRAINT_VIOLATION")
    assert 'Seed "dupes" failed' in err and "Seeds done before it stay committed: users." in err


@pytest.mark.parametrize(("config", "fragment"), [
    ("define_config(schemas=[", "SyntaxError"),
    ("raise RuntimeError('config cannot load')", "RuntimeError: config cannot load"),
    ("import app_schema_that_is_not_there", "No module named 'app_schema_that_is_not_there'"),
    ("from farmorm.config import define_config\ndefine_config(schemas=[])", "No schemas found"),
])
def test_bad_config(tmp_path: Path, config: str, fragment: str) -> None:
    (tmp_path / "farmorm_config.py").write_text(config + "\n")
    for args in (["push"], ["generate", "sql"], ["db", "seed"], ["db", "migrate"]):
        err = failed(cli(tmp_path, *args, check=None), EXIT_FAILED, "CONFIG_ERROR")
        assert fragment in err, err


def test_missing_config_and_bad_target(tmp_path: Path) -> None:
    err = failed(cli(tmp_path, "push", check=None), EXIT_FAILED, "CONFIG_ERROR")
    assert "Config file not found" in err and "hint: Pass the config file with -c PATH" in err
    write_project(tmp_path)
    failed(cli(tmp_path, "generate", "cobol", check=None), EXIT_FAILED, "USAGE_ERROR")
    err = failed(cli(tmp_path, "db", "migrate", check=None), EXIT_FAILED, "NOT_INITIALIZED")
    assert "hint: Run `farmorm db init`" in err


def test_usage_errors_are_clicks(project: Path) -> None:
    proc = cli(project, "push", "--no-such-option", check=2)
    assert "Traceback" not in proc.stderr and "No such option" in proc.stderr
