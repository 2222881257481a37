"""A third-party driver distribution registered under the entry point group ``farmorm.drivers``
is found by detection and by ``create_orm``.

The test "installs" a tiny distribution the way pip lays it out: a module plus a
``<name>.dist-info`` folder (METADATA, entry_points.txt) on ``sys.path``. ``importlib.metadata``
reads it like any installed package; removing the path uninstalls it, so nothing is left behind.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from farmorm import create_orm, define_schema, detect_database_runtime, inspect_database_runtime, model
from farmorm import fields as f
from farmorm.core.detect import drivers
from farmorm.setup import push_schema

DRIVER_MODULE = textwrap.dedent('''
    """A toy farmorm driver: ``toydb://`` URLs, served by farmorm's SQLite driver in memory."""
    import sys

    from farmorm.core.detect import Candidate, Detected

    name = "toydb"
    dialect = "sqlite"
    url_schemes = ("toydb",)


    def inspect(client):
        if isinstance(client, str) and client.startswith("toydb:"):
            return Candidate("toydb", True, (), Detected("toydb", client, "sqlite", "url"))
        return Candidate("toydb", False, ("not a toydb:// URL",))


    async def create_driver(schema, detected, **options):
        import aiosqlite

        from farmorm_drivers.sqlite.driver import SqliteDriver

        conn = await aiosqlite.connect(":memory:", isolation_level=None)
        return await SqliteDriver.open(schema, conn, client=detected.client, owned=True, kind="toydb")


    def driver_factory():
        return sys.modules[__name__]
''')


@pytest.fixture
def toy_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "farmorm_toydb.py").write_text(DRIVER_MODULE, encoding="utf-8")
    info = tmp_path / "farmorm_toydb-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: farmorm-toydb\nVersion: 0.1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[farmorm.drivers]\ntoydb = farmorm_toydb:driver_factory\n",
                                           encoding="utf-8")
    (info / "RECORD").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("farmorm_toydb", None)


SCHEMA = define_schema(note=model(table="notes", fields={"id": f.id(), "title": f.string()}))


async def test_create_orm_finds_an_installed_third_party_driver(toy_distribution: Path) -> None:
    assert "toydb" in drivers()
    found = detect_database_runtime("toydb://scratch")
    assert found is not None and (found.kind, found.dialect, found.source) == ("toydb", "sqlite", "url")
    async with await create_orm(SCHEMA, "toydb://scratch") as orm:
        assert (orm.driver.kind, orm.driver.dialect, orm.driver.client) == ("toydb", "sqlite", "toydb://scratch")
        await push_schema(SCHEMA, orm)
        await orm.note.create(data={"title": "from a plug-in"})
        assert [n["title"] for n in await orm.note.find_many()] == ["from a plug-in"]


async def test_a_plugin_takes_part_in_the_report_after_the_builtins(toy_distribution: Path) -> None:
    report = inspect_database_runtime(object())
    kinds = [c.kind for c in report.candidates]
    assert kinds[-1] == "toydb"
    assert report.candidates[-1].reasons == ("not a toydb:// URL",)


def test_without_the_distribution_the_url_is_not_detected() -> None:
    assert "toydb" not in drivers()
    assert detect_database_runtime("toydb://scratch") is None
