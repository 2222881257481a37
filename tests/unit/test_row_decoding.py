"""Row decoding and stitching without I/O: the decoders' inline forms and relation stitching.

A decoder's inline form (``core.driver.inline_decoder``) is written into the generated row
builders instead of a call per value, so it must give exactly what the decoder gives, for the
common case it tests inline and for everything it hands back to the function.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any, Callable

import pytest

from farmorm.core.driver import inline_form
from farmorm.query.plan import RelationRead, attach, stitch
from farmorm.query.values import normalize_decimal
import farmorm_drivers.mongo.compiler as mongo
import farmorm_drivers.mysql.dialect as mysql
import farmorm_drivers.postgres.dialect as postgres
import farmorm_drivers.sqlite.dialect as sqlite

UTC = dt.timezone.utc
AWARE = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
NAIVE = dt.datetime(2026, 1, 2, 3, 4, 5)
PLUS2 = dt.datetime(2026, 1, 2, 5, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))


class Sub(dt.datetime):
    """A datetime subclass: never taken for the exact class the inline test looks for."""


def inline(decoder: Callable[[Any], Any], value: Any) -> Any:
    """Evaluate ``decoder``'s inline form on ``value`` the way a row builder does."""
    expr, env = inline_form(decoder, "c0")
    return eval(expr, {**env, "c0": value})  # noqa: S307 - the driver's own template, a test value


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        value = fn()
    except Exception as exc:  # noqa: BLE001 - the same error is the same outcome
        return ("raises", type(exc))
    return ("value", (type(value), value, getattr(value, "tzinfo", None)))


CASES = [
    ("postgres datetime", postgres.decode_datetime,
     [AWARE, NAIVE, PLUS2, Sub(2026, 1, 1, tzinfo=UTC), dt.date(2026, 1, 1), dt.datetime.max, "x"]),
    ("postgres json", postgres.decode_json, ['{"a": [1, 2]}', "3", b'{"b": 1}', {"c": 1}, [1], "not json"]),
    ("sqlite datetime", sqlite.decode_datetime,
     ["2026-01-02T03:04:05.678901+00:00", "2026-01-02 03:04:05", "2026-01-02T05:04:05+02:00", AWARE, 5,
      "garbage", ""]),
    ("sqlite bool", sqlite.decode_bool, [0, 1, 2, -1, 0.0, 1.0, "", "0", b"\x00", True, False]),
    ("sqlite json", sqlite.decode_json, ['{"a": 1}', b"[1]", 7, "nope"]),
    ("mysql datetime", mysql.decode_datetime, [NAIVE, AWARE, PLUS2, "2026-01-02 03:04:05", Sub(2026, 1, 1)]),
    ("mysql bool", mysql.decode_bool, [0, 1, 5, b"\x01", "1"]),
    ("mysql json", mysql.decode_json, ['{"a": 1}', b"[1]", {"a": 1}]),
    ("mongo datetime", mongo.decode_datetime, [NAIVE, AWARE, PLUS2, Sub(2026, 1, 1), dt.date(2026, 1, 1), None.__class__]),
    ("decimal", normalize_decimal,
     [decimal.Decimal("12.500"), decimal.Decimal("-0.000"), decimal.Decimal("100"), decimal.Decimal("1E+2"), 3, 2.5,
      "7.10", decimal.Decimal("0.000000000000000000000000000123")]),
]


@pytest.mark.parametrize(("label", "decoder", "values"), CASES, ids=[c[0] for c in CASES])
def test_inline_form_matches_the_decoder(label: str, decoder: Callable[[Any], Any], values: list[Any]) -> None:
    assert inline_form(decoder, "c0")[0] != f"d_c0(c0)", f"{label} has no inline form"
    for value in values:
        assert outcome(lambda: inline(decoder, value)) == outcome(lambda: decoder(value)), (label, value)


def test_a_decoder_without_inline_form_is_called() -> None:
    expr, env = inline_form(str, "c3")
    assert expr == "d_c3(c3)" and env == {"d_c3": str}


def test_inline_names_are_per_column() -> None:
    a, env_a = inline_form(postgres.decode_datetime, "c1")
    b, env_b = inline_form(postgres.decode_datetime, "c4")
    assert not set(env_a) & set(env_b)
    assert "c1" in a and "c4" not in a


def _rel(single: bool) -> RelationRead:
    return RelationRead(name="r", meta=None, read=None, parent_key="k", child_key="p", single=single)  # type: ignore[arg-type]


def test_stitch_to_many_gives_every_parent_its_own_list() -> None:
    parents = [{"k": 1}, {"k": 2}, {"k": 1}, {"k": None}, {"k": 3}]
    children = [{"p": 1, "i": "a"}, {"p": 2, "i": "b"}, {"p": 1, "i": "c"}]
    stitch(parents, _rel(False), children)
    assert [[c["i"] for c in p["r"]] for p in parents] == [["a", "c"], ["b"], ["a", "c"], [], []]
    assert parents[0]["r"] is not parents[2]["r"]  # the same record reached twice: two lists
    assert parents[3]["r"] is not parents[4]["r"]
    parents[0]["r"].append({"p": 1, "i": "z"})
    assert len(parents[2]["r"]) == 2


def test_stitch_to_one_takes_the_first_child_of_a_key() -> None:
    parents = [{"k": 1}, {"k": 2}, {"k": None}, {"k": 1}]
    children = [{"p": 1, "i": "first"}, {"p": 1, "i": "second"}, {"p": 2, "i": "only"}]
    stitch(parents, _rel(True), children)
    assert [p["r"] and p["r"]["i"] for p in parents] == ["first", "only", None, "first"]


@pytest.mark.parametrize("single", [False, True])
def test_attach_matches_stitch(single: bool) -> None:
    children = [{"p": 1, "i": "a"}, {"p": 2, "i": "b"}, {"p": 1, "i": "c"}]
    grouped: dict[Any, list[dict[str, Any]]] = {}
    for c in children:
        grouped.setdefault(c["p"], []).append(c)
    stitched = [{"k": 1}, {"k": 2}, {"k": 1}, {"k": None}, {"k": 3}]
    attached = [dict(p) for p in stitched]
    stitch(stitched, _rel(single), children)
    attach(attached, _rel(single), grouped)
    assert attached == stitched
    if not single:
        assert attached[0]["r"] is not attached[2]["r"]


def test_group_builder_groups_while_building_and_leaves_hidden_columns_out() -> None:
    from farmorm.runtime.executor import group_builder, row_builder

    names = ("id", "user_id", "title", "\x00link")
    decoders = (None, None, str.upper, None)
    rows = [(1, 7, "a", 70), (2, 8, None, 80), (3, 7, "c", 70)]
    grouped = group_builder(names, decoders, "\x00link", hidden=("\x00link",))(rows)
    assert grouped == {70: [{"id": 1, "user_id": 7, "title": "A"}, {"id": 3, "user_id": 7, "title": "C"}],
                       80: [{"id": 2, "user_id": 8, "title": None}]}
    by_user = group_builder(names, decoders, "user_id", hidden=("user_id", "\x00link"))(rows)
    assert by_user == {7: [{"id": 1, "title": "A"}, {"id": 3, "title": "C"}], 8: [{"id": 2, "title": None}]}
    flat = row_builder(names, decoders)(rows)
    assert [r["title"] for r in flat] == ["A", None, "C"]


def test_row_builder_of_one_and_no_columns() -> None:
    from farmorm.runtime.executor import row_builder

    assert row_builder(("n",), (int,))([("4",), (None,)]) == [{"n": 4}, {"n": None}]
    assert row_builder((), ())([(), ()]) == [{}, {}]
