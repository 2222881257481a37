"""``include={relation: True}`` levels are parsed once per (relation, scope) and reused: each read
must still get exactly the level a fresh parse builds, with a params list of its own (the engine
writes the parent keys into it), and a soft-deleted target must keep its scope apart."""

from __future__ import annotations

from typing import Any

import pytest

from farmorm import belongs_to, define_schema, has_many, many_to_many, model
from farmorm import fields as f
from farmorm.query import parse as parse_mod
from farmorm.query.parse import ALL_SCOPE, DEFAULT_SCOPE, parse_read


def make_schema() -> Any:
    return define_schema(
        user=model(table="users", fields={"id": f.id(type="integer"), "name": f.string()},
                   relations={"posts": has_many("post", foreign_key="user_id"),
                              "tags": many_to_many("tag", through="tagging", from_="user_id", to="tag_id")}),
        post=model(table="posts", fields={"id": f.id(type="integer"), "user_id": f.integer().references("user.id"),
                           "title": f.string()},
                   relations={"user": belongs_to("user", foreign_key="user_id")}, soft_delete=True),
        tag=model(table="tags", fields={"id": f.id(type="integer"), "label": f.string()}),
        tagging=model(table="taggings", fields={"id": f.id(type="integer"), "user_id": f.integer().references("user.id"),
                              "tag_id": f.integer().references("tag.id")}),
    )


def level(read: Any) -> Any:
    rel = read.relations[0]
    return (rel.name, rel.meta, rel.read.node, rel.read.params, rel.read.relations, rel.read.hidden,
            rel.read.counts, rel.parent_key, rel.child_key, rel.single)


@pytest.mark.parametrize("scope", [DEFAULT_SCOPE, ALL_SCOPE, frozenset({"deleted"})], ids=["default", "all", "deleted"])
@pytest.mark.parametrize(("root", "relation"), [("user", "posts"), ("user", "tags"), ("post", "user")])
def test_cached_level_is_the_parsed_level(root: str, relation: str, scope: frozenset[str]) -> None:
    cached = make_schema()
    fresh = make_schema()
    m = cached.models[root]
    first = parse_read(cached, m, where={"id": {"lte": 3}}, include={relation: True}, scope=scope)
    second = parse_read(cached, m, where={"id": {"lte": 9}}, include={relation: True}, scope=scope)
    assert parse_mod._LEVELS_KEY in vars(m)  # the second read took the cached level
    expected = parse_read(fresh, fresh.models[root], where={"id": {"lte": 3}},
                          include={relation: {"where": None}}, scope=scope)  # never cached: the full path
    assert level(first) == level(second) == level(expected)
    assert first.relations[0].read.params is not second.relations[0].read.params
    first.relations[0].read.params[0] = [1, 2]
    assert second.relations[0].read.params == [None]


def test_scopes_do_not_share_a_level() -> None:
    schema = make_schema()
    user = schema.models["user"]
    live = parse_read(schema, user, include={"posts": True})
    everything = parse_read(schema, user, include={"posts": True}, scope=ALL_SCOPE)
    assert live.relations[0].read.node != everything.relations[0].read.node  # soft-deleted posts hidden or not
