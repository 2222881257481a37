"""SQL dialect hooks: everything the shared compiler needs to know about one SQL flavour.

The base class is close to standard SQL; sqlite / postgres / mysql override what differs.
Encoders turn parsed Python values into what the DB-API driver binds; decoders turn fetched
values back. ``None`` means "no conversion": the hot path then does no per-value work.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import msgspec

from farmorm.core.driver import inline_decoder
from farmorm.schema.manifest import FieldMeta, ModelMeta

Fn = Callable[[Any], Any]

_json_encode = msgspec.json.Encoder(order="sorted").encode
_json_decode = msgspec.json.decode


def encode_json(v: Any) -> str:
    """JSON text for a json column's parameter, keys sorted (every SQL backend binds JSON as text)."""
    return _json_encode(v).decode()


def decode_json(v: Any) -> Any:
    """A JSON column's value: its text decoded; a value the driver already decoded as it is."""
    return _json_decode(v) if isinstance(v, (str, bytes)) else v


def decode_int_bool(v: Any) -> bool:
    """A boolean stored as an integer (SQLite INTEGER, MySQL TINYINT(1)): 0 / 1 -> False / True
    (anything else as Python's ``bool`` reads it)."""
    return bool(v)


# the row builders test the common case inline (a call per value costs more than the test): a
# JSON text is decoded without the call, 0 / 1 are the booleans; anything else calls the function
inline_decoder(decode_json, "{J}({v}) if {v}.__class__ is str else {d}({v})", J=_json_decode)
inline_decoder(decode_int_bool, "True if {v} == 1 else False if {v} == 0 else {d}({v})")


def like_escape(text: str) -> str:
    """Escape LIKE wildcards so user text never becomes pattern syntax (escape char: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(v: str) -> str:
    return f"%{like_escape(v)}%"


def _starts(v: str) -> str:
    return f"{like_escape(v)}%"


def _ends(v: str) -> str:
    return f"%{like_escape(v)}"


#: SQL operators of the atomic update operations (``Arith.op``)
ARITH_OPS = {"add": "+", "sub": "-", "mul": "*", "div": "/"}

LIKE_PATTERNS: dict[str, Fn] = {"contains": _contains, "starts_with": _starts, "ends_with": _ends}


class SqlDialect:
    """Hooks for one SQL flavour. Override the parts that differ."""

    name = "sql"
    placeholder_style = "qmark"  # "qmark" (?), "format" (%s) or "numeric" ($1)
    supports_returning = True
    like_escape_clause = " ESCAPE '\\'"
    #: value kind -> how a value of that kind is bound / converted back (the backend's storage rules)
    value_encoders: Mapping[str, Fn] = {}
    value_decoders: Mapping[str, Fn] = {}

    # -- identifiers -----------------------------------------------------------------------
    def quote(self, ident: str) -> str:
        return '"' + ident.replace('"', '""') + '"'

    def table(self, model: ModelMeta) -> str:
        if model.schema:
            return f"{self.quote(model.schema)}.{self.quote(model.table)}"
        return self.quote(model.table)

    def placeholder(self, number: int) -> str:
        """Placeholder text; ``number`` is the 1-based position among distinct params (numeric style)."""
        if self.placeholder_style == "numeric":
            return f"${number}"
        return "%s" if self.placeholder_style == "format" else "?"

    # -- values ----------------------------------------------------------------------------
    def encoder(self, f: FieldMeta) -> Fn | None:
        """How a value of field ``f`` is bound (None: as is)."""
        return self.value_encoders.get(f.value_kind)

    def decoder(self, f: FieldMeta) -> Fn | None:
        """How a fetched value of field ``f`` is converted back (None: as is). A ``decimal(p, s)``
        column comes back as a Decimal with exactly ``s`` places: no work per row."""
        if f.scale is not None and f.value_kind == "decimal":
            return None
        return self.value_decoders.get(f.value_kind)

    def list_encoder(self, f: FieldMeta) -> Fn | None:
        """How the list of an IN filter is bound when it is one array parameter."""
        enc = self.encoder(f)
        if enc is None:
            return None
        return lambda values: [enc(v) for v in values]

    def value_sql(self, ph: str, f: FieldMeta, array: bool = False) -> str:
        """The placeholder of a value of field ``f`` as written into the SQL (a cast where the
        server must convert it; ``array``: the placeholder binds a list, e.g. ``= ANY($1)``)."""
        return ph

    # -- expressions -----------------------------------------------------------------------
    def comparable(self, expr: str, f: FieldMeta) -> str:
        """The expression compared / ordered for field ``f`` (e.g. a cast for decimals stored as text)."""
        return expr

    def fold(self, expr: str) -> str:
        """Case folding for mode="insensitive"."""
        return f"lower({expr})"

    def in_list(self, expr: str, ph: str, negated: bool) -> tuple[str, bool]:
        """SQL for ``expr IN list``; returns (sql, expands). ``expands``: ph is spliced per item."""
        return (f"{expr} {'NOT IN' if negated else 'IN'} ({ph})", True)

    def folded_in_list(self, expr: str, ph: str, negated: bool) -> tuple[str, bool, bool]:
        """``lower(expr) IN list`` for mode="insensitive"; returns (sql, expands, fold_values):
        ``fold_values`` asks the compiler to lower-case the list's items before binding."""
        sql, expands = self.in_list(self.fold(expr), ph, negated)
        return sql, expands, True

    def match(self, expr: str, kind: str, ph: str, insensitive: bool) -> tuple[str, Fn]:
        """SQL for contains / starts_with / ends_with and the transform of the user's text."""
        if insensitive:
            return f"{self.fold(expr)} LIKE {self.fold(ph)}{self.like_escape_clause}", LIKE_PATTERNS[kind]
        return f"{expr} LIKE {ph}{self.like_escape_clause}", LIKE_PATTERNS[kind]

    def json_equals(self, expr: str, ph: str, negated: bool) -> str:
        return f"{expr} {'<>' if negated else '='} {ph}"

    def json_encoder(self) -> Fn | None:
        return None

    def order(self, expr: str, desc: bool, nulls: str | None = None) -> str:
        """ORDER BY item. farmorm's rule everywhere: NULLs first ascending, last descending, unless
        ``nulls`` ("first" / "last") says otherwise: then standard ``NULLS FIRST`` / ``NULLS LAST``
        (SQLite 3.30+). The base assumes NULLs sort smallest by default, as SQLite's and MySQL's do."""
        plain = f"{expr} {'DESC' if desc else 'ASC'}"
        if nulls is None or nulls == ("last" if desc else "first"):
            return plain
        return f"{plain} NULLS {nulls.upper()}"

    def aggregate(self, fn: str, expr: str | None, f: FieldMeta | None) -> str:
        """One aggregate: ``COUNT(*)`` when ``expr`` is None. ``avg`` here only filters and sorts
        groups (its returned value is finished exactly from ``sum`` and ``count``)."""
        if expr is None:
            return "COUNT(*)"
        return f"{fn.upper()}({expr})"

    def limit(self, take: str | None, skip: str | None) -> str:
        if take is not None and skip is not None:
            return f" LIMIT {take} OFFSET {skip}"
        if take is not None:
            return f" LIMIT {take}"
        if skip is not None:
            return f" LIMIT -1 OFFSET {skip}"
        return ""

    def lock_clause(self, lock: str) -> str:
        """Row locks of a read in a transaction (``Select.lock``): PostgreSQL, MySQL 8 and
        MariaDB 10.6+ spell the exclusive ones the same; SQLite overrides this (its write lock is the
        database), MySQL the shared one."""
        if lock == "share":
            return " FOR SHARE"
        return " FOR UPDATE SKIP LOCKED" if lock == "update_skip_locked" else " FOR UPDATE"

    def int_param(self, ph: str) -> str:
        """An integer placeholder in arithmetic (``skip + take``), cast where types are inferred."""
        return ph

    def true(self) -> str:
        return "1 = 1"

    def false(self) -> str:
        return "1 = 0"

    # -- writes ----------------------------------------------------------------------------
    def arith(self, column: str, op: str, ph: str, f: FieldMeta) -> str:
        """``column <op> ph`` for an atomic update (``Arith``); integer ``div`` truncates toward zero
        (PostgreSQL and SQLite integer division does)."""
        return f"{column} {ARITH_OPS[op]} {ph}"

    def array_type(self, f: FieldMeta) -> str | None:
        """The SQL array element type a multi-row insert binds ``f``'s column as, one array per
        column (``INSERT … SELECT * FROM unnest(…)``); None: rows go in a ``VALUES`` list."""
        return None

    def echo(self, f: FieldMeta) -> tuple[bool, Fn | None]:
        """Whether the database stores a value of ``f`` an INSERT binds exactly as bound, so the
        inserted rows can be built from the bound values instead of read back (``RETURNING``); and
        then the function turning a checked value into what a read of it returns (None: the value
        itself). The base reads every insert back."""
        return False, None

    def insert_default_values(self, table: str) -> str:
        return f"INSERT INTO {table} DEFAULT VALUES"

    def upsert_clause(self, conflict: list[str], assignments: list[str], first_conflict: str) -> str:
        """The conflict clause after INSERT ... VALUES (...). ``assignments`` are ``col = ph`` items."""
        if not assignments:
            assignments = [f"{first_conflict} = excluded.{first_conflict}"]
        return f" ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {', '.join(assignments)}"
