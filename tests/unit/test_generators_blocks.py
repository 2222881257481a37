"""replace_generated_block and the farmorm.generators package surface."""

from __future__ import annotations

import subprocess
import sys

import farmorm.generators as generators
from farmorm.generators import replace_generated_block

START = "// @farming-labs/orm:start:prisma"
END = "// @farming-labs/orm:end:prisma"


def test_appends_a_block_to_a_file_without_one():
    current = "datasource db {}\n\n\n"
    out = replace_generated_block(current=current, label="prisma", content="\nmodel A {}\n\n")
    assert out == f"datasource db {{}}\n\n{START}\nmodel A {{}}\n{END}\n"


def test_empty_file_gets_just_the_block():
    assert replace_generated_block(current="", label="x", content="a") == (
        "// @farming-labs/orm:start:x\na\n// @farming-labs/orm:end:x\n"
    )


def test_replaces_the_block_in_place_keeping_the_rest():
    current = f"head\n{START}\nold 1\nold 2\n{END}\ntail\n"
    out = replace_generated_block(current=current, label="prisma", content="new")
    assert out == f"head\n{START}\nnew\n{END}\ntail\n"
    assert replace_generated_block(current=out, label="prisma", content="new") == out  # idempotent


def test_other_labels_are_left_alone():
    other = "// @farming-labs/orm:start:prisma2\nkeep\n// @farming-labs/orm:end:prisma2"
    current = f"{other}\n\n{START}\nold\n{END}\n"
    out = replace_generated_block(current=current, label="prisma", content="new")
    assert out == f"{other}\n\n{START}\nnew\n{END}\n"
    # a label that only prefixes another one's marker is not found: the block is appended
    appended = replace_generated_block(current=other, label="prisma", content="x")
    assert appended == f"{other}\n\n{START}\nx\n{END}\n"


def test_regex_characters_in_labels_are_literal():
    current = "// @farming-labs/orm:start:a.b+\nold\n// @farming-labs/orm:end:a.b+\n"
    out = replace_generated_block(current=current, label="a.b+", content="new")
    assert out == "// @farming-labs/orm:start:a.b+\nnew\n// @farming-labs/orm:end:a.b+\n"


def test_a_start_marker_without_its_end_appends():
    current = f"{START}\ndangling\n"
    out = replace_generated_block(current=current, label="prisma", content="new")
    assert out == f"{START}\ndangling\n\n{START}\nnew\n{END}\n"


def test_package_exports():
    assert set(generators.__all__) == {
        "render_safe_sql", "render_prisma_schema", "render_drizzle_schema",
        "replace_generated_block", "to_sqlalchemy_metadata",
    }
    for name in generators.__all__:
        assert callable(getattr(generators, name))


def test_sqlalchemy_is_imported_only_when_called():
    code = (
        "import sys, farmorm.generators as g\n"
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported eagerly'\n"
        "assert 'farmorm.generators.sqlalchemy' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
