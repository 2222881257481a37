"""Nodes -> Mongo commands: filters, projections, sorts and write documents with param slots.

Pure and synchronous, like the SQL compiler: the core caches a :class:`MongoCommand` per node.
A command holds *templates* (plain dicts/lists) in which :class:`P` marks a param slot (with its
encoder) and :class:`Sub` marks a sub-query whose distinct values are spliced in at run time (the
first phase of a relation filter). ``MongoCommand.shape(params)`` shows the command that will run.

SQL semantics on a schemaless store:

- a missing field behaves like NULL (``{f: None}`` matches both, NULLs are never written: an insert
  omits them and an update ``$unset``s them, so sparse/partial unique indexes allow many NULLs);
- ``not`` / ``not_in`` / ``NOT`` exclude NULL rows, as SQL's three-valued logic does: negation is
  pushed down to the leaves and each negated leaf also requires the field to be non-null;
- text operators are escaped regexes (user text never becomes regex syntax), ``i`` for insensitive.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import re
from dataclasses import replace
from typing import Any, Callable

from farmorm.core.driver import Compiled, inline_decoder
from farmorm.core.errors import validation_error
from farmorm.query import nodes as n
from farmorm.query.aggregate import ref_fields, ref_model
from farmorm.query.plan import COUNT_PREFIX, LINK_COLUMN
from farmorm.query.values import normalize_decimal, scaled_decimal
from farmorm.schema.manifest import FieldMeta, ModelMeta, Schema

Fn = Callable[[Any], Any]
_UTC = _dt.timezone.utc
NOTHING: dict[str, Any] = {"_id": {"$in": []}}  # a filter no document matches


# ---------------------------------------------------------------------------------------------
# values


def to_millis(v: _dt.datetime) -> _dt.datetime:
    """Aware UTC, truncated to milliseconds (what BSON dates hold): the same rounding every time."""
    if v.tzinfo is None:
        v = v.replace(tzinfo=_UTC)
    v = v.astimezone(_UTC)
    return v.replace(microsecond=v.microsecond // 1000 * 1000)


def decode_datetime(v: Any) -> Any:
    if isinstance(v, _dt.datetime):
        return v.replace(tzinfo=_UTC) if v.tzinfo is None else v.astimezone(_UTC)
    return v


# the row builders test the common case inline: BSON dates come back naive UTC (aware with
# tz_aware clients, which take the call)
inline_decoder(decode_datetime, "{v}.replace(tzinfo={UTC}) if {v}.__class__ is {DT} and {v}.tzinfo is None else {d}({v})",
               DT=_dt.datetime, UTC=_UTC)


def canonical_json(v: Any) -> Any:
    """JSON with object keys sorted at every level: whole-value equality becomes key-order free."""
    if isinstance(v, dict):
        return {k: canonical_json(v[k]) for k in sorted(v)}
    if isinstance(v, (list, tuple)):
        return [canonical_json(x) for x in v]
    return v


def _plain_json(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain_json(x) for x in v]
    return v


#: significant digits a BSON Decimal128 holds (farmorm's SQL columns hold 65)
DECIMAL128_DIGITS = 34


def encode_decimal(v: Any) -> Any:
    from bson.decimal128 import Decimal128

    # normalized digits: equal numbers get equal Decimal128 bytes (12.50 and 12.5 alike)
    d = normalize_decimal(v)
    sign, digits, exp = d.as_tuple()
    if len(digits) > DECIMAL128_DIGITS:
        # trailing integer zeros go to the exponent (1E+34 fits); real digits beyond 34 would make
        # Decimal128 raise decimal.Inexact: refuse them, never round
        assert isinstance(exp, int)
        while len(digits) > 1 and digits[-1] == 0:
            digits, exp = digits[:-1], exp + 1
        if len(digits) > DECIMAL128_DIGITS:
            raise validation_error(
                f"Invalid value: decimal {d} has {len(digits)} significant digits; "
                f"MongoDB's Decimal128 holds {DECIMAL128_DIGITS}. It is refused, never rounded."
            )
        d = decimal.Decimal((sign, digits, exp))
    return Decimal128(str(d))


def decode_decimal(v: Any) -> Any:
    to_decimal = getattr(v, "to_decimal", None)
    return normalize_decimal(to_decimal() if to_decimal is not None else v)


def encode_bigint(v: Any) -> Any:
    from bson.int64 import Int64

    return Int64(v)


_ENCODERS: dict[str, Fn] = {
    "datetime": to_millis,
    "decimal": encode_decimal,
    "bigint": encode_bigint,
    "json": canonical_json,
}
_DECODERS: dict[str, Fn] = {
    "datetime": decode_datetime,
    "decimal": decode_decimal,
    "bigint": int,
    "integer": int,
    "boolean": bool,
    "json": _plain_json,
}


def encoder(f: FieldMeta) -> Fn | None:
    return _ENCODERS.get(f.value_kind)


def decoder(f: FieldMeta) -> Fn | None:
    if f.scale is not None and f.value_kind == "decimal":
        # Decimal128 holds the normalized digits: give the value its declared places back
        scaled = scaled_decimal(f.scale)
        return lambda v: scaled(v.to_decimal() if hasattr(v, "to_decimal") else v)
    return _DECODERS.get(f.value_kind)


def list_encoder(f: FieldMeta) -> Fn:
    enc = encoder(f)
    if enc is None:
        return list
    return lambda values: [enc(v) for v in values]


# ---------------------------------------------------------------------------------------------
# templates


class P:
    """Param slot ``params[index]``, encoded by ``encode``."""

    __slots__ = ("index", "encode")

    def __init__(self, index: int, encode: Fn | None = None) -> None:
        self.index = index
        self.encode = encode

    def __repr__(self) -> str:
        return f"P({self.index})"


def _negated(enc: Fn | None) -> Fn:
    """``decrement`` is ``$inc`` by the negated operand."""
    return (lambda v: enc(-v)) if enc is not None else (lambda v: -v)


def arith_expression(f: FieldMeta, op: str, operand: Any) -> Any:
    """The aggregation expression of an atomic operation on ``f`` (pipeline updates): integer
    division truncates toward zero through Decimal128 (exact for every int64), decimal division
    rounds to the SQL servers' 30 places; a missing field (NULL) stays missing."""
    field = "$" + f.column
    if op == "div":
        if f.value_kind == "decimal":
            expr: Any = {"$round": [{"$divide": [field, operand]}, 30]}
        else:
            expr = {"$toLong": {"$trunc": [{"$divide": [{"$toDecimal": field}, operand]}, 0]}}
    else:
        expr = {{"add": "$add", "sub": "$subtract", "mul": "$multiply"}[op]: [field, operand]}
    if f.nullable:
        expr = {"$cond": [{"$eq": [{"$ifNull": [field, None]}, None]}, "$$REMOVE", expr]}
    return expr


class Sub:
    """Sub-query slot: the distinct non-null ``field`` values of ``collection`` docs matching ``filter``."""

    __slots__ = ("collection", "filter", "field")

    def __init__(self, collection: str, filter: Any, field: str) -> None:
        self.collection = collection
        self.filter = filter
        self.field = field

    def __repr__(self) -> str:
        return f"Sub({self.collection}.{self.field} where {self.filter!r})"


class Concat:
    """A list built at run time: the items of a list-valued slot plus fixed extras (``$nin`` + None)."""

    __slots__ = ("slot", "extra")

    def __init__(self, slot: Any, extra: list[Any]) -> None:
        self.slot = slot
        self.extra = extra

    def __repr__(self) -> str:
        return f"{self.slot!r} + {self.extra!r}"


def has_slots(t: Any) -> bool:
    if isinstance(t, (P, Sub, Concat)):
        return True
    if isinstance(t, dict):
        return any(has_slots(v) for v in t.values())
    if isinstance(t, (list, tuple)):
        return any(has_slots(v) for v in t)
    return False


def has_subs(t: Any) -> bool:
    if isinstance(t, Sub):
        return True
    if isinstance(t, Concat):
        return has_subs(t.slot)
    if isinstance(t, dict):
        return any(has_subs(v) for v in t.values())
    if isinstance(t, (list, tuple)):
        return any(has_subs(v) for v in t)
    return False


def fill(t: Any, params: Any, subs: dict[int, list[Any]] | None = None) -> Any:
    """The template with every slot replaced (sub-queries from ``subs``, already run)."""
    if isinstance(t, P):
        v = params[t.index]
        return t.encode(v) if t.encode is not None and v is not None else v
    if isinstance(t, dict):
        return {k: fill(v, params, subs) for k, v in t.items()}
    if isinstance(t, list):
        return [fill(v, params, subs) for v in t]
    if isinstance(t, Sub):
        assert subs is not None
        return subs[id(t)]
    if isinstance(t, Concat):
        return list(fill(t.slot, params, subs)) + t.extra
    return t


def collect_subs(t: Any, out: list[Sub]) -> list[Sub]:
    """Sub-queries in run order: inner ones (in a sub-query's own filter) first."""
    if isinstance(t, Sub):
        collect_subs(t.filter, out)
        out.append(t)
    elif isinstance(t, Concat):
        collect_subs(t.slot, out)
    elif isinstance(t, dict):
        for v in t.values():
            collect_subs(v, out)
    elif isinstance(t, list):
        for v in t:
            collect_subs(v, out)
    return out


def and_(parts: list[Any]) -> Any:
    parts = [p for p in parts if p != {}]
    if not parts:
        return {}
    if any(p == NOTHING for p in parts):
        return NOTHING
    return parts[0] if len(parts) == 1 else {"$and": parts}


def or_(parts: list[Any]) -> Any:
    if any(p == {} for p in parts):
        return {}
    parts = [p for p in parts if p != NOTHING]
    if not parts:
        return NOTHING
    return parts[0] if len(parts) == 1 else {"$or": parts}


_CMP = {"eq": "$eq", "ne": "$ne", "gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}
_NEGATED_CMP = {"eq": "ne", "ne": "eq", "gt": "lte", "gte": "lt", "lt": "gte", "lte": "gt"}


def _regex(kind: str, insensitive: bool) -> Fn:
    flags = re.IGNORECASE if insensitive else 0
    pre = "" if kind in ("contains", "ends_with") else "^"
    post = "" if kind in ("contains", "starts_with") else "$"
    # \A / \Z would be exact, but $ before a final newline also matches in PCRE: use lookahead-free
    # anchors that both PCRE and Python agree on for text without newlines; escape everything else
    return lambda v: re.compile(pre + re.escape(v) + (r"(?![\s\S])" if post else ""), flags)


# ---------------------------------------------------------------------------------------------
# commands


class MongoCommand(Compiled):
    """One compiled node: the command name, its collection and templates; run by the connection."""

    def __init__(self, op: str, collection: str, *, filter: Any = None, projection: dict[str, Any] | None = None,
                 sort: list[tuple[str, int]] | None = None, skip: P | None = None, limit: P | None = None,
                 columns: tuple[str, ...] = (), column_names: tuple[str, ...] = (),
                 decoders: tuple[Fn | None, ...] = (), document: dict[str, Any] | None = None,
                 rows: int = 0, width: int = 0, update: Any = None, upsert_filter: Any = None,
                 per_parent: int | None = None, through: dict[str, Any] | None = None,
                 link_slot: P | None = None, pipeline: list[Any] | None = None, single: bool = False,
                 counts: list[dict[str, Any]] | None = None) -> None:
        self.op = op
        self.collection = collection
        self.filter = {} if filter is None else filter
        self.projection = projection
        self.sort = sort or []
        self.skip = skip
        self.limit = limit
        self.columns = columns
        #: physical document keys, aligned with ``columns`` (LINK_COLUMN has none)
        self.column_names = column_names
        self.decoders = decoders
        self.document = document
        self.rows = rows
        self.width = width
        self.update = update
        self.per_parent = per_parent
        self.through = through
        self.link_slot = link_slot
        #: ``aggregate``: the stages after ``$match`` (the filter), before ``$skip`` / ``$limit``
        self.pipeline = pipeline
        #: ``aggregate`` without groups: always one row (all NULL over no documents)
        self.single = single
        #: relation counts filled after the read (see ``MongoCompiler.relation_counts``)
        self.counts = counts
        self.subs = has_subs(self.filter)

    @property
    def statement(self) -> str:
        return f"{self.op} {self.collection}"

    def shape(self, params: Any = None) -> dict[str, Any]:
        """The command as a dict (slots filled when ``params`` is given; sub-queries left as slots)."""
        def f(t: Any) -> Any:
            return t if params is None or has_subs(t) else fill(t, params)
        out: dict[str, Any] = {self.op: self.collection}
        if self.op not in ("insert_many",):
            out["filter"] = f(self.filter)
        if self.projection is not None:
            out["projection"] = self.projection
        if self.sort:
            out["sort"] = self.sort
        if self.skip is not None:
            out["skip"] = f(self.skip)
        if self.limit is not None:
            out["limit"] = f(self.limit)
        if self.document is not None:
            out["documents"] = f"{self.rows} x {self.document!r}"
        if self.update is not None:
            out["update"] = f(self.update)
        if self.pipeline is not None:
            out["pipeline"] = f(self.pipeline)
        if self.through is not None:
            out["through"] = self.through
        if self.per_parent is not None:
            out["per_parent"] = self.columns[self.per_parent]
        return out

    def __repr__(self) -> str:
        return f"MongoCommand({self.shape()!r})"


class MongoCompiler:
    """Compiles statement nodes for one schema."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    def compile(self, node: n.Statement) -> MongoCommand:
        method = getattr(self, "_" + type(node).__name__.lower())
        return method(node)  # type: ignore[no-any-return]

    # -- helpers ---------------------------------------------------------------------------
    def model(self, name: str) -> ModelMeta:
        return self.schema.models[name]

    @staticmethod
    def col(model: ModelMeta, field: str) -> str:
        return model.fields[field].column

    def projection(self, model: ModelMeta, columns: tuple[str, ...]) -> dict[str, Any]:
        proj: dict[str, Any] = {self.col(model, c): 1 for c in columns if c != LINK_COLUMN}
        if "_id" not in proj:
            proj["_id"] = 0
        return proj

    def decoders(self, model: ModelMeta, columns: tuple[str, ...]) -> tuple[Fn | None, ...]:
        return tuple(None if c == LINK_COLUMN else decoder(model.fields[c]) for c in columns)

    # -- conditions ------------------------------------------------------------------------
    def where(self, model: ModelMeta, c: n.Condition | None) -> Any:
        return {} if c is None else self.cond(model, c, False)

    def cond(self, model: ModelMeta, c: n.Condition, neg: bool) -> Any:
        """The filter for ``c`` (or for SQL's ``NOT c`` when ``neg``: NULL operands never match)."""
        if isinstance(c, n.And):
            parts = [self.cond(model, i, neg) for i in c.items]
            return or_(parts) if neg else and_(parts)
        if isinstance(c, n.Or):
            parts = [self.cond(model, i, neg) for i in c.items]
            return and_(parts) if neg else or_(parts)
        if isinstance(c, n.Not):
            return self.cond(model, c.item, not neg)
        if isinstance(c, n.Const):
            return {} if c.value != neg else NOTHING
        if isinstance(c, n.RelationFilter):
            return self.relation_filter(model, c, neg)
        f = model.fields[c.field]
        col = f.column
        if isinstance(c, n.IsNull):
            return {col: {"$ne": None}} if c.negated != neg else {col: None}
        if isinstance(c, n.Compare):
            op = _NEGATED_CMP[c.op] if neg else c.op
            if c.insensitive and op in ("eq", "ne"):
                rx = P(c.value.index, _regex("equals", True))
                if op == "eq":
                    return {col: rx}
                return {col: {"$not": rx, "$ne": None}}
            if op == "ne":
                return {col: {"$ne": P(c.value.index, encoder(f)), "$nin": [None]}}
            return {col: {_CMP[op]: P(c.value.index, encoder(f))}}
        if isinstance(c, n.InList):
            if c.insensitive:  # one anchored, escaped, case-insensitive regex per item
                exact = _regex("equals", True)
                slot = P(c.values.index, lambda values: [exact(v) for v in values])
            else:
                slot = P(c.values.index, list_encoder(f))
            if c.negated != neg:
                return {col: {"$nin": Concat(slot, [None])}}
            return {col: {"$in": slot}}
        if isinstance(c, n.Match):
            rx = P(c.value.index, _regex(c.kind, c.insensitive))
            return {col: {"$not": rx, "$ne": None}} if neg else {col: rx}
        if isinstance(c, n.JsonEquals):
            v = P(c.value.index, canonical_json)
            if c.negated != neg:
                return {col: {"$ne": v, "$nin": [None]}}
            return {col: {"$eq": v}}
        raise TypeError(f"unknown condition node {c!r}")

    def relation_filter(self, model: ModelMeta, c: n.RelationFilter, neg: bool) -> Any:
        """Two phases: a sub-query collects the related keys, then ``$in`` / ``$nin`` on the local key."""
        rel = model.relations[c.relation]
        target = self.model(rel.target)
        kind: str = c.kind
        if kind == "is":
            kind = "some"
        elif kind == "is_not":
            kind = "none"
        if neg:
            kind = {"some": "none", "none": "some", "every": "not_every"}[kind]
        inner = self.where(target, c.where)
        if kind in ("every", "not_every"):
            # every: no related row for which the condition is not true (NULL counts as not true)
            if c.where is None:
                return {} if kind == "every" else NOTHING
            inner = {"$nor": [inner]}
        remote = self.col(target, rel.remote_field)
        if rel.kind == "many_to_many":
            through = self.model(rel.through)  # type: ignore[arg-type]
            to_col = self.col(through, rel.through_to)  # type: ignore[arg-type]
            from_col = self.col(through, rel.through_from)  # type: ignore[arg-type]
            j_filter = {} if inner == {} else {to_col: {"$in": Sub(target.table, inner, remote)}}
            keys = Sub(through.table, j_filter, from_col)
        else:
            keys = Sub(target.table, inner, remote)
        local = self.col(model, rel.local_field)
        if kind in ("some", "not_every"):
            return {local: {"$in": keys}}
        return {local: {"$nin": keys}}

    # -- reads -----------------------------------------------------------------------------
    def relation_counts(self, model: ModelMeta, node: n.Select, columns: tuple[str, ...]) -> list[dict[str, Any]]:
        """How the connection counts related documents after the read: one ``$group`` per relation
        over the read's keys (``select={"_count": ...}``), filling the count column ``index``."""
        specs = []
        for k, rc in enumerate(node.counts):
            rel = model.relations[rc.relation]
            target = self.model(rel.target)
            inner = self.where(target, rc.where)
            if rel.kind == "many_to_many":
                through = self.model(rel.through)  # type: ignore[arg-type]
                to_col = self.col(through, rel.through_to)  # type: ignore[arg-type]
                filt = {} if inner == {} else {to_col: {"$in": Sub(target.table, inner, self.col(target, rel.remote_field))}}
                coll, key = through.table, self.col(through, rel.through_from)  # type: ignore[arg-type]
            else:
                filt, coll, key = inner, target.table, self.col(target, rel.remote_field)
            specs.append({"index": len(columns) + k, "local": columns.index(rel.local_field),
                          "collection": coll, "key": key, "filter": filt})
        return specs

    def sort_pipeline(self, model: ModelMeta, order_by: tuple[n.OrderItem, ...]) -> list[Any]:
        """``$lookup`` stages for keys through relations, NULL flags for keys whose ``nulls`` differ
        from MongoDB's order (NULL smallest), and the ``$sort``."""
        stages: list[Any] = []
        flags: dict[str, Any] = {}
        sort: dict[str, int] = {}
        for i, o in enumerate(order_by):
            if not o.path:
                key = self.col(model, o.field)
            else:
                key = f"_o{i}"
                current, local = model, self.col(model, model.relations[o.path[0]].local_field)
                for h, rname in enumerate(o.path):
                    rel = current.relations[rname]
                    target = self.model(rel.target)
                    hop = f"_o{i}_{h}"
                    gone = o.hidden[h] if o.hidden else ()
                    if o.count and h == len(o.path) - 1:
                        if rel.kind == "many_to_many":
                            through = self.model(rel.through)  # type: ignore[arg-type]
                            source, foreign = through.table, self.col(through, rel.through_from)  # type: ignore[arg-type]
                        else:
                            source, foreign = target.table, self.col(target, rel.remote_field)
                        stages.append({"$lookup": {"from": source, "localField": local, "foreignField": foreign, "as": hop}})
                        if gone and rel.kind != "many_to_many":
                            stages.append(self._visible_only(hop, target, gone))
                        elif gone:  # through rows count only when their target is visible
                            to = self.col(through, rel.through_to)  # type: ignore[arg-type]
                            stages.append({"$addFields": {hop + "k": {"$map": {"input": f"${hop}", "in": f"$$this.{to}"}}}})
                            stages.append({"$lookup": {"from": target.table, "localField": hop + "k",
                                                       "foreignField": self.col(target, rel.remote_field), "as": hop + "t"}})
                            stages.append(self._visible_only(hop + "t", target, gone))
                            hop += "t"
                        stages.append({"$addFields": {key: {"$size": f"${hop}"}}})
                        break
                    stages.append({"$lookup": {"from": target.table, "localField": local,
                                               "foreignField": self.col(target, rel.remote_field), "as": hop}})
                    if gone:
                        stages.append(self._visible_only(hop, target, gone))
                    # the record or NULL (never an empty array, whatever $arrayElemAt does out of range)
                    stages.append({"$addFields": {hop: {"$cond": [{"$gt": [{"$size": f"${hop}"}, 0]},
                                                                  {"$arrayElemAt": [f"${hop}", 0]}, None]}}})
                    if h == len(o.path) - 1:
                        stages.append({"$addFields": {key: {"$ifNull": [f"${hop}.{self.col(target, o.field)}", None]}}})
                    else:
                        current, local = target, f"{hop}.{self.col(target, target.relations[o.path[h + 1]].local_field)}"
            if o.nulls is not None and o.nulls != ("last" if o.desc else "first"):
                flags[f"_z{i}"] = {"$cond": [{"$eq": [{"$ifNull": [f"${key}", None]}, None]}, 1, 0]}
                sort[f"_z{i}"] = 1 if o.nulls == "last" else -1
            sort[key] = -1 if o.desc else 1
        if flags:
            stages.append({"$addFields": flags})
        if sort:
            stages.append({"$sort": sort})
        return stages

    def _visible_only(self, hop: str, target: ModelMeta, gone: tuple[str, ...]) -> dict[str, Any]:
        """Keep the looked-up records whose hiding fields (soft delete / archive) are NULL."""
        tests = [{"$eq": [{"$ifNull": [f"$$this.{self.col(target, f)}", None]}, None]} for f in gone]
        return {"$addFields": {hop: {"$filter": {"input": f"${hop}", "cond": tests[0] if len(tests) == 1 else {"$and": tests}}}}}

    def distinct_pipeline(self, model: ModelMeta, node: n.Select) -> list[Any]:
        """Prisma's distinct: sort (the identity breaks ties), keep the first document of each
        combination of the distinct fields, filter (``after``), then sort what is left."""
        named = {o.field for o in node.order_by if not o.path and not o.count}
        first = node.order_by + tuple(n.OrderItem(f) for f in model.identity or () if f not in named)
        stages = self.sort_pipeline(model, first)
        group_id = {f"d{i}": {"$ifNull": [f"${self.col(model, f)}", None]} for i, f in enumerate(node.distinct)}
        stages.append({"$group": {"_id": group_id, "_doc": {"$first": "$$ROOT"}}})
        stages.append({"$replaceRoot": {"newRoot": "$_doc"}})
        if node.after is not None:
            stages.append({"$match": self.cond(model, node.after, False)})
        # the lookups and flags of the first sort are in the kept documents: only sort again
        stages.extend(s for s in self.sort_pipeline(model, node.order_by) if "$sort" in s)
        return stages

    def _select(self, node: n.Select) -> MongoCommand:
        model = self.model(node.model)
        filt = self.where(model, node.where)
        columns = node.columns
        names = tuple(self.col(model, c) for c in columns)
        decoders = self.decoders(model, columns)
        counts = self.relation_counts(model, node, columns) if node.counts else None
        if node.counts:
            columns = columns + tuple(COUNT_PREFIX + rc.relation for rc in node.counts)
            names = names + tuple(COUNT_PREFIX + rc.relation for rc in node.counts)
            decoders = decoders + (int,) * len(node.counts)
        skip = P(node.skip.index) if node.skip is not None else None
        limit = P(node.take.index) if node.take is not None else None
        if node.link is None and (node.distinct or any(
                o.path or (o.nulls is not None and o.nulls != ("last" if o.desc else "first")) for o in node.order_by)):
            # find() sorts by the document's own fields only: an aggregation pipeline sorts the rest
            stages = self.distinct_pipeline(model, node) if node.distinct else self.sort_pipeline(model, node.order_by)
            stages.append({"$project": self.projection(model, node.columns)})
            return MongoCommand("aggregate", model.table, filter=filt, pipeline=stages, skip=skip, limit=limit,
                                columns=columns, column_names=names, decoders=decoders, counts=counts)
        sort = [(self.col(model, o.field), -1 if o.desc else 1) for o in node.order_by]
        link = node.link
        through = None
        per_parent = None
        link_slot = None
        proj_cols = node.columns
        if link is not None:
            key_field = model.fields[link.field]
            key_col = key_field.column
            if link.through is not None:
                j = self.model(link.through)
                from_f = j.fields[link.from_field]  # type: ignore[index]
                to_f = j.fields[link.to_field]  # type: ignore[index]
                through = {"collection": j.table, "from": from_f.column, "to": to_f.column, "target": key_col}
                link_slot = P(link.keys.index, list_encoder(from_f))
                columns = columns + (LINK_COLUMN,)
                names = names + (LINK_COLUMN,)
                decoders = decoders + (decoder(from_f),)
                if link.field not in proj_cols:
                    proj_cols = proj_cols + (link.field,)
                if link.per_parent:
                    per_parent = len(columns) - 1
            else:
                filt = and_([{key_col: {"$in": P(link.keys.index, list_encoder(key_field))}}, filt])
                if link.per_parent:
                    if link.field not in proj_cols:
                        proj_cols = proj_cols + (link.field,)
                    per_parent = -1  # resolved by name at run time
                    through = {"key": key_col}
        proj = self.projection(model, proj_cols)
        return MongoCommand(
            "find", model.table, filter=filt, projection=proj, sort=sort, skip=skip, limit=limit,
            columns=columns, column_names=names, decoders=decoders, per_parent=per_parent,
            through=through, link_slot=link_slot, counts=counts,
        )

    def _count(self, node: n.Count) -> MongoCommand:
        model = self.model(node.model)
        return MongoCommand("count_documents", model.table, filter=self.where(model, node.where),
                            columns=("count",), decoders=(None,))

    # -- aggregates ------------------------------------------------------------------------
    def group_stages(self, model: ModelMeta, by: tuple[str, ...], aggs: tuple[n.Agg, ...]
                     ) -> tuple[list[Any], tuple[str, ...], tuple[str, ...], tuple[Fn | None, ...], dict[str, FieldMeta]]:
        """``$group`` + ``$project`` for group keys ``k<i>`` and aggregates ``a<j>``; the result
        columns, their keys and decoders, and the pseudo-fields ``having`` / sorting filter on.

        A sum over no non-null values is NULL as in SQL (``$sum`` alone would say 0): each sum
        carries its non-null count ``a<j>n``, which also finishes an average exactly."""
        group: dict[str, Any] = {"_id": {f"k{i}": {"$ifNull": [f"${self.col(model, b)}", None]}
                                         for i, b in enumerate(by)} if by else None}
        project: dict[str, Any] = {"_id": 0}
        columns: list[str] = []
        names: list[str] = []
        decoders: list[Fn | None] = []
        refs = ref_fields(model, by, aggs)
        for i, b in enumerate(by):
            project[f"k{i}"] = f"$_id.k{i}"
            columns.append(b)
            names.append(f"k{i}")
            decoders.append(decoder(model.fields[b]))
            refs[b] = replace(refs[b], column=f"k{i}")
        for j, a in enumerate(aggs):
            key = f"a{j}"
            f = model.fields[a.field] if a.field is not None else None
            value = f"${f.column}" if f is not None else None
            present = {"$cond": [{"$eq": [{"$ifNull": [value, None]}, None]}, 0, 1]}
            columns.append(a.key)
            names.append(key)
            refs[a.key] = replace(refs[a.key], column=key)
            if a.fn == "count":
                group[key] = {"$sum": 1 if f is None else present}
                project[key] = 1
                decoders.append(int)
            elif a.fn in ("sum", "avg"):
                assert f is not None
                group[key] = {"$sum": value}
                group[key + "n"] = {"$sum": present}
                project[key] = {"$cond": [{"$gt": [f"${key}n", 0]}, f"${key}", None]}
                project[key + "n"] = 1
                decoders.append(int if f.value_kind in ("integer", "bigint") else decoder(f))
                if a.fn == "avg":
                    group[key + "v"] = {"$avg": value}
                    project[key + "v"] = 1
                    refs[a.key] = replace(refs[a.key], column=key + "v")
                    columns.append(a.key + ".n")
                    names.append(key + "n")
                    decoders.append(int)
            else:
                group[key] = {f"${a.fn}": value}
                project[key] = 1
                decoders.append(decoder(f) if f is not None else None)
        return [{"$group": group}, {"$project": project}], tuple(columns), tuple(names), tuple(decoders), refs

    def _aggregate(self, node: n.Aggregate) -> MongoCommand:
        model = self.model(node.model)
        stages, columns, names, decoders, _ = self.group_stages(model, (), node.aggs)
        return MongoCommand("aggregate", model.table, filter=self.where(model, node.where), pipeline=stages,
                            columns=columns, column_names=names, decoders=decoders, single=True)

    def _groupby(self, node: n.GroupBy) -> MongoCommand:
        model = self.model(node.model)
        stages, columns, names, decoders, refs = self.group_stages(model, node.by, node.aggs)
        if node.having is not None:
            stages.append({"$match": self.cond(ref_model(model, refs), node.having, False)})
        flags: dict[str, Any] = {}
        sort: dict[str, int] = {}
        for i, o in enumerate(node.order_by):
            col = refs[o.field if o.field is not None else o.agg.key].column  # type: ignore[union-attr]
            if o.nulls is not None and o.nulls != ("last" if o.desc else "first"):
                # NULLs sort smallest here too: a key that wants them the other way sorts on a flag first
                flags[f"z{i}"] = {"$cond": [{"$eq": [{"$ifNull": [f"${col}", None]}, None]}, 1, 0]}
                sort[f"z{i}"] = 1 if o.nulls == "last" else -1
            sort[col] = -1 if o.desc else 1
        if flags:
            stages.append({"$addFields": flags})
        if sort:
            stages.append({"$sort": sort})
        return MongoCommand(
            "aggregate", model.table, filter=self.where(model, node.where), pipeline=stages,
            skip=P(node.skip.index) if node.skip is not None else None,
            limit=P(node.take.index) if node.take is not None else None,
            columns=columns, column_names=names, decoders=decoders,
        )

    # -- writes ----------------------------------------------------------------------------
    def _insert(self, node: n.Insert) -> MongoCommand:
        model = self.model(node.model)
        width = len(node.columns)
        doc = {self.col(model, c): P(i, encoder(model.fields[c])) for i, c in enumerate(node.columns)}
        return MongoCommand(
            "insert_many", model.table, document=doc, rows=node.rows, width=width,
            columns=node.returning, column_names=tuple(self.col(model, c) for c in node.returning),
            decoders=self.decoders(model, node.returning),
        )

    def _set(self, model: ModelMeta, columns: tuple[str, ...], values: tuple[n.Param, ...]) -> dict[str, Any]:
        return {self.col(model, c): P(p.index, encoder(model.fields[c])) for c, p in zip(columns, values)}

    def _changes(self, model: ModelMeta, columns: tuple[str, ...], values: tuple[n.Param, ...],
                 increments: tuple[str, ...], arith: tuple[n.Arith, ...]) -> dict[str, Any]:
        """An update document: ``$set`` plus ``$inc`` / ``$mul`` for atomic operations and the
        version counter, or, when an operation has no update operator (``divide``) or meets a
        nullable field (``$inc`` would turn a missing field, farmorm's NULL, into the operand; SQL
        keeps NULL), one pipeline ``$set`` stage under ``"$pipeline"`` (the driver unwraps it)."""
        sets = self._set(model, columns, values)
        if not any(a.op == "div" or model.fields[a.field].nullable for a in arith):
            update: dict[str, Any] = {"$set": sets}
            inc: dict[str, Any] = {self.col(model, name): 1 for name in increments}
            mul: dict[str, Any] = {}
            for a in arith:
                fm = model.fields[a.field]
                if a.op == "mul":
                    mul[fm.column] = P(a.value.index, encoder(fm))
                else:
                    inc[fm.column] = P(a.value.index, encoder(fm) if a.op == "add" else _negated(encoder(fm)))
            if inc:
                update["$inc"] = inc
            if mul:
                update["$mul"] = mul
            return update
        stage: dict[str, Any] = {k: {"$literal": v} for k, v in sets.items()}
        for name in increments:
            c = self.col(model, name)
            stage[c] = {"$add": ["$" + c, 1]}
        for a in arith:
            stage[model.fields[a.field].column] = arith_expression(model.fields[a.field], a.op,
                                                                   P(a.value.index, encoder(model.fields[a.field])))
        return {"$pipeline": stage}

    def _update(self, node: n.Update) -> MongoCommand:
        model = self.model(node.model)
        filt = self.where(model, node.where)
        if node.first:
            op = "find_one_and_update" if node.returning else "update_one"
        else:
            op = "update_many"
        update = self._changes(model, node.columns, node.values, node.increments, node.arith)
        return MongoCommand(
            op, model.table, filter=filt, update=update,
            projection=self.projection(model, node.returning) if node.returning else None,
            columns=node.returning, column_names=tuple(self.col(model, c) for c in node.returning),
            decoders=self.decoders(model, node.returning),
        )

    def _delete(self, node: n.Delete) -> MongoCommand:
        model = self.model(node.model)
        if node.returning:
            if not node.first:
                raise TypeError("Mongo returns deleted documents one at a time: Delete(returning=) needs first")
            return MongoCommand(
                "find_one_and_delete", model.table, filter=self.where(model, node.where),
                projection=self.projection(model, node.returning),
                columns=node.returning, column_names=tuple(self.col(model, c) for c in node.returning),
                decoders=self.decoders(model, node.returning),
            )
        return MongoCommand("delete_one" if node.first else "delete_many", model.table,
                            filter=self.where(model, node.where))

    def _upsert(self, node: n.Upsert) -> MongoCommand:
        model = self.model(node.model)
        create = dict(zip(node.columns, node.values))
        # $eq, never the bare value: a JSON lookup value shaped like {"$ne": None} must match literally
        # (MongoDB seeds an upserted document from $eq conditions as from plain equality)
        filt = {self.col(model, c): {"$eq": P(create[c].index, encoder(model.fields[c]))} for c in node.conflict}
        # the conflict fields too: a server seeds them from the $eq filter, mongomock does not
        on_insert = {self.col(model, c): P(p.index, encoder(model.fields[c])) for c, p in create.items()}
        update = self._changes(model, node.update_columns, node.update_values, node.update_increments,
                               node.update_arith)
        update["$setOnInsert"] = on_insert
        return MongoCommand(
            "upsert", model.table, filter=filt, update=update,
            projection=self.projection(model, node.returning or tuple(node.conflict)),
            columns=node.returning, column_names=tuple(self.col(model, c) for c in node.returning),
            decoders=self.decoders(model, node.returning),
        )
