"""create_many's plan (``query.mutations.create_many``): the chunks an insert of many records is
cut into, their flat params, the ids known before the insert, and records put back in input order."""

from __future__ import annotations

import random
from typing import Any

from farmorm import define_schema, model
from farmorm import fields as f
from farmorm.query import mutations

schema = define_schema(
    item=model(table="items", fields={"id": f.id(type="integer"), "name": f.string(), "n": f.integer().nullable()}),
    pair=model(table="pairs", fields={"a": f.integer(), "b": f.string(), "v": f.integer()},
               constraints={"unique": [["a", "b"]]}),
    auto=model(table="autos", fields={"id": f.id(type="integer", generated="increment"), "name": f.string()}),
)
item, pair, auto = (schema.models[m] for m in ("item", "pair", "auto"))


def test_chunks_cut_the_flat_rows_under_the_bind_limit() -> None:
    data = [{"id": i, "name": f"x{i}"} for i in range(1, 8)]
    bulk = mutations.create_many(schema, item, data, None, "records", max_bind_params=6)  # 3 rows of 2 columns
    assert bulk is not None and bulk.columns == ("id", "name")
    assert [c.node.rows for c in bulk.chunks] == [3, 3, 1]
    assert [c.params for c in bulk.chunks] == [[1, "x1", 2, "x2", 3, "x3"], [4, "x4", 5, "x5", 6, "x6"], [7, "x7"]]
    assert all(c.node.returning == ("id", "name", "n") for c in bulk.chunks)
    one = mutations.create_many(schema, item, data, None, "count", max_bind_params=30000)
    assert one is not None and len(one.chunks) == 1 and one.chunks[0].node.returning == ()
    assert one.chunks[0].params == [v for r in data for v in (r["id"], r["name"])]


def test_known_ids_come_from_the_bound_values() -> None:
    data = [{"id": i, "name": "x"} for i in range(1, 6)]
    bulk = mutations.create_many(schema, item, data, None, "ids", max_bind_params=4)
    assert bulk is not None and all(c.node.returning == () for c in bulk.chunks)
    assert mutations.known_ids(item, bulk) == [1, 2, 3, 4, 5]
    pairs = mutations.create_many(schema, pair, [{"a": 1, "b": "p", "v": 0}, {"a": 2, "b": "q", "v": 0}], None,
                                  "ids", max_bind_params=30000)
    assert pairs is not None and mutations.known_ids(pair, pairs) == [{"a": 1, "b": "p"}, {"a": 2, "b": "q"}]
    generated = mutations.create_many(schema, auto, [{"name": "a"}], None, "ids", max_bind_params=30000)
    assert generated is not None and generated.chunks[0].node.returning == ("id",)  # read back


def test_records_come_back_in_input_order() -> None:
    params = [v for i in (5, 3, 9, 1) for v in (i, f"x{i}", None)]
    columns = ("id", "name", "n")
    in_order = [{"id": i, "name": f"x{i}"} for i in (5, 3, 9, 1)]
    assert mutations.in_input_order(item, in_order, params, columns) is in_order
    shuffled = in_order[:]
    random.Random(4).shuffle(shuffled)
    assert shuffled != in_order
    assert mutations.in_input_order(item, shuffled, params, columns) == in_order
    pairs = [{"a": a, "b": b, "v": 0} for a, b in ((2, "q"), (1, "p"), (2, "p"))]
    pair_params: list[Any] = [v for r in pairs for v in (r["a"], r["b"], r["v"])]
    assert mutations.in_input_order(pair, pairs[::-1], pair_params, ("a", "b", "v")) == pairs
    generated = [{"id": 7, "name": "b"}, {"id": 6, "name": "a"}]  # ids the database made: insert order
    assert mutations.in_input_order(auto, generated, ["a", "b"], ("name",)) == generated[::-1]
