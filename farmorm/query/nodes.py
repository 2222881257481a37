"""The internal query representation: frozen, hashable, value-free nodes.

A node describes the *shape* of a query; every user value lives in a separate params list and a
node refers to it only as ``Param(index)``. So a node is its own plan-cache key and a repeated
query shape compiles once. Nodes are grouped by meaning: conditions, reads, writes.
Field names in nodes are logical names; drivers resolve columns through the schema.
"""

from __future__ import annotations

from typing import Literal, Union

import msgspec


class Node(msgspec.Struct, frozen=True, cache_hash=True):
    """Base of every node."""


class Param(Node, frozen=True):
    """A reference to ``params[index]``."""

    index: int


# ---------------------------------------------------------------------------------------------
# Conditions (the compiled form of ``where``)


class Compare(Node, frozen=True):
    """``field <op> param``; ``op`` is eq, ne, gt, gte, lt, lte. ``insensitive`` folds case (eq/ne)."""

    field: str
    op: Literal["eq", "ne", "gt", "gte", "lt", "lte"]
    value: Param
    insensitive: bool = False


class IsNull(Node, frozen=True):
    """``field IS NULL`` (or ``IS NOT NULL`` when ``negated``)."""

    field: str
    negated: bool = False


class InList(Node, frozen=True):
    """``field IN (values)``; the whole list is one param so the shape ignores its length.
    ``insensitive`` folds case on both sides (mode="insensitive")."""

    field: str
    values: Param
    negated: bool = False
    insensitive: bool = False


class Match(Node, frozen=True):
    """Substring tests: contains, starts_with, ends_with; the param is the raw user text."""

    field: str
    kind: Literal["contains", "starts_with", "ends_with"]
    value: Param
    insensitive: bool = False


class JsonEquals(Node, frozen=True):
    """Whole-value equality on a JSON field."""

    field: str
    value: Param
    negated: bool = False


class Const(Node, frozen=True):
    """A constant truth value (``in: []`` is ``Const(False)``)."""

    value: bool


class And(Node, frozen=True):
    items: tuple[Condition, ...]


class Or(Node, frozen=True):
    items: tuple[Condition, ...]


class Not(Node, frozen=True):
    item: Condition


class RelationFilter(Node, frozen=True):
    """A filter through a relation: some / every / none (to-many), is / is_not (to-one).

    ``where`` is a condition on the target model; ``None`` means "any record" (and for
    ``is``/``is_not`` with ``None`` value the parser emits ``kind="none"``/``"some"``)."""

    relation: str
    kind: Literal["some", "every", "none", "is", "is_not"]
    where: Condition | None = None


Condition = Union[Compare, IsNull, InList, Match, JsonEquals, Const, And, Or, Not, RelationFilter]


# ---------------------------------------------------------------------------------------------
# Reads


class OrderItem(Node, frozen=True):
    """One ORDER BY key. ``nulls`` overrides farmorm's default (NULLs first ascending, last
    descending) with ``"first"`` or ``"last"``.

    ``path`` walks to-one relations from the model (``("album", "artist")``): the key is ``field``
    of the record at the end (NULL when there is none). With ``count`` the last relation of the
    path is a to-many one and the key is how many records it has (``field`` is empty)."""

    field: str
    desc: bool = False
    nulls: Literal["first", "last"] | None = None
    path: tuple[str, ...] = ()
    count: bool = False
    #: per relation hop of ``path``, the fields that must be NULL for a related record to count
    #: (soft-deleted / archived records outside the query's scope are absent, as everywhere)
    hidden: tuple[tuple[str, ...], ...] = ()


class RelationCount(Node, frozen=True):
    """``select={"_count": {"posts": True}}``: how many related records (matching ``where``)
    each record has; returned under ``record["_count"][relation]``."""

    relation: str
    where: Condition | None = None


class Link(Node, frozen=True):
    """How a relation-level query is tied to its parent rows.

    Direct (belongs_to / has_one / has_many): ``target.field IN param``.
    Through (many_to_many): join ``through`` on ``through.to_field = target.field`` and filter
    ``through.from_field IN param``; the through value is returned as one extra last column.
    ``per_parent`` asks for take/skip applied per parent key (a window), not to the whole result.
    """

    field: str
    keys: Param
    through: str | None = None
    from_field: str | None = None
    to_field: str | None = None
    per_parent: bool = False


class Select(Node, frozen=True):
    """Read ``columns`` (logical fields, in order) of ``model`` rows."""

    model: str
    columns: tuple[str, ...]
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    take: Param | None = None
    skip: Param | None = None
    link: Link | None = None
    #: row locks for a read inside a transaction: ``"update"`` (``FOR UPDATE``),
    #: ``"update_skip_locked"`` (``FOR UPDATE SKIP LOCKED``) or ``"share"`` (``FOR SHARE`` /
    #: ``LOCK IN SHARE MODE``); backends without row locks ignore it
    lock: Literal["update", "update_skip_locked", "share"] | None = None
    #: relation counts, returned as extra last columns named ``COUNT_PREFIX + relation``
    counts: tuple[RelationCount, ...] = ()
    #: Prisma's distinct: only the first row (in ``order_by`` order) of each combination of these fields
    distinct: tuple[str, ...] = ()
    #: with ``distinct``: a condition on the distinct rows, applied after picking them (find_page's keyset)
    after: Condition | None = None


class Count(Node, frozen=True):
    model: str
    where: Condition | None = None


# ---------------------------------------------------------------------------------------------
# Aggregates (``aggregate`` and ``group_by``)


class Agg(Node, frozen=True):
    """One aggregate: ``fn`` over ``field`` (``count`` with ``field=None`` counts rows).

    Its result column is named :attr:`key` (``"sum.total"``, ``"count._all"``); ``having`` and
    ``order_by`` refer to it by that name. ``avg`` also returns its non-null count as a second
    column (``key + ".n"``): the average is finished exactly from the sum and the count."""

    fn: Literal["count", "sum", "avg", "min", "max"]
    field: str | None = None

    @property
    def key(self) -> str:
        return f"{self.fn}.{self.field or '_all'}"


class GroupOrder(Node, frozen=True):
    """An ORDER BY key of a group: a group field (``field``) or an aggregate (``agg``)."""

    field: str | None = None
    agg: Agg | None = None
    desc: bool = False
    nulls: Literal["first", "last"] | None = None


class Aggregate(Node, frozen=True):
    """One row of ``aggs`` over the ``model`` rows matching ``where``."""

    model: str
    aggs: tuple[Agg, ...]
    where: Condition | None = None


class GroupBy(Node, frozen=True):
    """Groups of ``model`` rows by ``by``, each with ``aggs``; one statement / one pipeline.

    ``having`` is a condition whose ``field`` names are group fields or aggregate keys
    (``Agg.key``); ``order_by`` sorts the groups before ``take`` / ``skip`` page them."""

    model: str
    by: tuple[str, ...]
    aggs: tuple[Agg, ...]
    where: Condition | None = None
    having: Condition | None = None
    order_by: tuple[GroupOrder, ...] = ()
    take: Param | None = None
    skip: Param | None = None


# ---------------------------------------------------------------------------------------------
# Writes. Parameters are laid out in the order the parser created them.


class Insert(Node, frozen=True):
    """Insert ``rows`` rows of ``columns``; param ``r * len(columns) + c`` is row r, column c.

    ``returning`` lists the fields to read back (empty: nothing)."""

    model: str
    columns: tuple[str, ...]
    rows: int
    returning: tuple[str, ...] = ()


class Arith(Node, frozen=True):
    """An atomic arithmetic assignment ``field = field <op> param`` (``increment`` / ``decrement``
    / ``multiply`` / ``divide`` in update data): computed by the database in the write itself, so
    concurrent writers never lose an update. ``div`` truncates toward zero on integer fields."""

    field: str
    op: Literal["add", "sub", "mul", "div"]
    value: Param


class Update(Node, frozen=True):
    """Set ``columns`` (params ``values``) on rows matching ``where``; ``first`` limits it to one row.

    ``increments`` lists integer fields raised by one in the same statement (``col = col + 1`` /
    ``$inc``): the version counter of optimistic concurrency. ``arith`` are the caller's atomic
    operations (see :class:`Arith`)."""

    model: str
    columns: tuple[str, ...]
    values: tuple[Param, ...]
    where: Condition | None
    first: bool = False
    returning: tuple[str, ...] = ()
    increments: tuple[str, ...] = ()
    arith: tuple[Arith, ...] = ()


class Delete(Node, frozen=True):
    """Delete rows matching ``where`` (``first``: one row); ``returning`` reads the deleted rows'
    fields back from the same statement (``delete(select=...)``)."""

    model: str
    where: Condition | None
    first: bool = False
    returning: tuple[str, ...] = ()


class Upsert(Node, frozen=True):
    """Insert one row, or on a conflict over ``conflict`` update ``update_columns`` instead."""

    model: str
    columns: tuple[str, ...]
    values: tuple[Param, ...]
    conflict: tuple[str, ...]
    update_columns: tuple[str, ...]
    update_values: tuple[Param, ...]
    returning: tuple[str, ...] = ()
    #: fields raised by one when the update branch runs (see ``Update.increments``)
    update_increments: tuple[str, ...] = ()
    #: atomic operations of the update branch (see :class:`Arith`)
    update_arith: tuple[Arith, ...] = ()


# ---------------------------------------------------------------------------------------------
# Raw SQL (``orm.raw``): the caller's text split at its placeholders and identifiers.


class RawIdent(Node, frozen=True):
    """A schema name spliced into raw SQL: ``{model}`` (its table) or ``{model.field}`` (its column),
    quoted by the dialect."""

    model: str
    field: str | None = None


class Raw(Node, frozen=True):
    """Hand-written SQL: text pieces, ``Param`` slots (``$1`` is ``Param(0)``) and ``RawIdent``
    names; ``fetch`` asks for the result rows (with their column names), else the row count."""

    parts: tuple[Union[str, Param, RawIdent], ...]
    fetch: bool


Statement = Union[Select, Count, Aggregate, GroupBy, Insert, Update, Delete, Upsert, Raw]

TRUE = Const(True)
FALSE = Const(False)
