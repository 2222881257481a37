"""Row decoding and stitching without I/O: relation stitching.
"""

from __future__ import annotations

from farmorm.query.plan import RelationRead, stitch


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
