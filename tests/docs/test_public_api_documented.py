"""Every public name appears in backticks somewhere in the user docs (docs/*.md, not the "_" notes).

Covered: ``farmorm.__all__``, ``farmorm.setup.__all__``, ``farmorm.typed.__all__``, the model client's query methods and the
``Orm`` client's public methods and attributes. A name counts as documented when some backticked
span mentions it as a whole word (``orm.user.find_many(...)`` documents ``find_many``).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import farmorm
import farmorm.setup
import farmorm.typed
from farmorm import ModelClient, Orm

DOCS = Path(__file__).resolve().parents[2] / "docs"

MODEL_METHODS = (
    "find_many", "find_first", "find_one", "find_unique", "count", "create", "create_many",
    "update", "update_many", "upsert", "delete", "delete_many",
)
ORM_MEMBERS = ("transaction", "batch", "on_query", "close", "driver", "plan_cache")


def _public_members(cls: type) -> set[str]:
    """Public methods and properties defined on ``cls`` (slots and dunders excluded)."""
    out = set()
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if inspect.isfunction(value) or isinstance(value, property):
            out.add(name)
    return out


def required_names() -> dict[str, set[str]]:
    return {
        "farmorm.__all__": set(farmorm.__all__),
        "farmorm.setup.__all__": set(farmorm.setup.__all__),
        "farmorm.typed.__all__": set(farmorm.typed.__all__),
        "model client methods": set(MODEL_METHODS) | _public_members(ModelClient),
        "Orm members": set(ORM_MEMBERS) | _public_members(Orm),
    }


def backticked_spans(text: str) -> list[str]:
    """Inline code spans and fenced code blocks of a Markdown page."""
    spans = re.findall(r"^(`{3,}|~{3,}).*?\n(.*?)^\1", text, flags=re.S | re.M)
    # a comment in a code block is prose (often printed output), not a use of the name
    blocks = [re.sub(r"#.*", "", body) for _, body in spans]
    inline_text = re.sub(r"^(`{3,}|~{3,}).*?\n.*?^\1", "", text, flags=re.S | re.M)
    return blocks + re.findall(r"`([^`\n]+)`", inline_text)


def documented(name: str, spans: list[str]) -> bool:
    word = re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])")
    return any(word.search(span) for span in spans)


def test_helpers() -> None:
    spans = backticked_spans("a `orm.user.find_many(where=...)` b\n```python\nx = count  # Schema\n```\nnot_code `Orm-ish`\n")
    assert documented("find_many", spans) and documented("count", spans)
    assert not documented("find", spans) and not documented("not_code", spans)
    assert not documented("Schema", spans) and not documented("Orm", spans)
    assert {"find_many", "find_one"} <= required_names()["model client methods"]


def test_every_public_name_is_documented() -> None:
    pages = sorted(p for p in DOCS.glob("*.md") if not p.name.startswith("_"))
    assert pages, DOCS
    spans = [s for p in pages for s in backticked_spans(p.read_text(encoding="utf-8"))]
    missing = {
        group: sorted(n for n in names if not documented(n, spans))
        for group, names in required_names().items()
    }
    missing = {group: names for group, names in missing.items() if names}
    assert not missing, "public names never mentioned in backticks in docs/*.md:\n" + "\n".join(
        f"  {group}: {', '.join(names)}" for group, names in missing.items()
    )
