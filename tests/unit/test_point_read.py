"""The point-read shortcut of ``parse_read`` (``where={field: value}``, optionally ``take``) must
build exactly the node and params of the full parser, and refuse exactly what it refuses."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from farmorm import define_schema, model
from farmorm import fields as f
from farmorm.core.errors import OrmError
from farmorm.query.parse import ALL_SCOPE, DEFAULT_SCOPE, parse_read
from farmorm.query.writes import unique_lookup

schema = define_schema(
    note=model(
        table="notes",
        fields={"id": f.id(type="integer"), "slug": f.string().unique(), "n": f.integer(), "at": f.datetime(),
                "doc": f.json().nullable()},
        soft_delete=True,
    )
)
note = schema.models["note"]


def both(**kw: Any) -> tuple[Any, Any]:
    def run(params: list[Any] | None) -> Any:
        try:
            read = parse_read(schema, note, params=params, **kw)
            return read.node, read.params, read.relations, read.hidden
        except OrmError as exc:
            return type(exc), str(exc)

    return run(None), run([])  # params=[] never takes the shortcut


CASES = [
    {"where": {"id": 5}, "take": 1},
    {"where": {"id": 5}},
    {"where": {"slug": "a"}, "take": 1, "scope": ALL_SCOPE},
    {"where": {"n": 2**31}},
    {"where": {"n": True}},
    {"where": {"at": dt.datetime(2030, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=3)))}},
    {"where": {"at": dt.datetime(2030, 1, 1)}},
    {"where": {"id": 5}, "take": -1},
    {"where": {"id": 5}, "take": "1"},
    {"where": {"id": None}},
    {"where": {"doc": [1]}},
    {"where": {"nope": 1}},
    {"where": {"id": {"eq": 5}}},
]


def _case_id(kw: dict[str, Any]) -> str:
    """A test id that does not depend on the hash seed (a frozenset's repr does: xdist workers,
    each with its own seed, would then collect different ids)."""
    return repr({k: sorted(v) if isinstance(v, frozenset) else v for k, v in kw.items()})


@pytest.mark.parametrize("kw", CASES, ids=[_case_id(c) for c in CASES])
def test_shortcut_matches_the_full_parser(kw: dict[str, Any]) -> None:
    fast, full = both(**{"scope": DEFAULT_SCOPE, **kw})
    assert fast == full


def test_shortcut_reuses_one_node_per_shape() -> None:
    a = parse_read(schema, note, where={"id": 1}, take=1)
    b = parse_read(schema, note, where={"id": 2}, take=1)
    assert a.node is b.node and (a.params, b.params) == ([1, 1], [2, 1])


@pytest.mark.parametrize("where", [{"id": 1}, {"slug": "x"}, {"n": 1}, {"id": None}, {"id": {"eq": 1}}, {"AND": []}])
def test_unique_lookup_shortcut_matches(where: dict[str, Any]) -> None:
    def run(w: Any) -> Any:
        try:
            return unique_lookup(note, w, "FindUnique")
        except OrmError as exc:
            return str(exc)

    class NotADict(dict):  # type: ignore[type-arg]
        pass

    assert run(where) == run(NotADict(where))
