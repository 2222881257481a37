"""The typed client's building blocks: what ``farmorm generate client`` writes a module against.

A generated module (docs/typed-client.md) declares, per model, the TypedDicts of its records and
query arguments and a ``UserClient`` protocol built from :class:`TypedModelClient`; its
``TypedClient(orm)`` is a :class:`TypedOrm` whose model attributes are the Orm's own
``ModelClient`` objects (``client.user is orm.user``): only the static types differ, so a call
costs what the same call on the plain Orm costs.

Here live the parts every schema shares: the per-kind operator filters of ``where`` (their keys
``not`` and ``in`` are Python keywords, hence the functional TypedDict form), ``Page``, the
``TypedStream`` protocol, the ``TypedModelClient`` protocol and ``TypedOrm``.
"""

from __future__ import annotations

import datetime as _dt
import decimal as _decimal
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeAlias, TypeVar, cast, overload

import msgspec
from msgspec import Struct
from typing_extensions import NotRequired, Self, TypedDict

from .core.cache import PlanCache
from .core.driver import DriverHandle, QueryEvent
from .core.errors import SchemaError
from .features.idempotency import IdempotencyClient
from .features.outbox import OutboxClient
from .runtime.orm import Orm
from .runtime.raw import RawClient

# find_page's result (Page[UserRecord], Page[User] with as_=) and where it sits; stream(...)'s result,
# typed by its records (async with ... as rows: async for row in rows): the runtime's own classes
from .runtime.stream import RecordStream as TypedStream
from .runtime.transaction import Transaction
from .runtime.typed import Page, PageInfo
from .schema.fingerprint import model_hash
from .schema.manifest import Schema

T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)
#: the record TypedDict and the partial one a ``select`` returns (results: invariant, they sit in lists)
R = TypeVar("R")
P = TypeVar("P")
#: the argument TypedDicts (parameters only: contravariant)
W = TypeVar("W", contravariant=True)
WU = TypeVar("WU", contravariant=True)
O = TypeVar("O", contravariant=True)  # noqa: E741 - O for order_by, beside W, S, I, C, U
Sel = TypeVar("Sel", contravariant=True)
Inc = TypeVar("Inc", contravariant=True)
C = TypeVar("C", contravariant=True)
U = TypeVar("U", contravariant=True)
D = TypeVar("D", contravariant=True)
#: a record's identity: the id's value, or a TypedDict of a compound identity's fields
I = TypeVar("I")  # noqa: E741

SortOrder = Literal["asc", "desc"]
QueryMode = Literal["default", "insensitive"]


class SortSpec(TypedDict):
    """A sort direction with where NULLs go: ``{"sort": "desc", "nulls": "last"}``."""

    sort: SortOrder
    nulls: NotRequired[Literal["first", "last"]]
#: the value of a json field: anything JSON can hold
Json = Any
#: what a decimal field accepts on write and in filters (``Decimal``, an ``int``, or decimal text)
DecimalInput = _decimal.Decimal | int | str

# -- where: operator filters per field kind (docs/queries.md#operators) -------------------------
# text (string, string ids): equality, lists, matching and comparisons; ``mode`` makes the
# equality, list and matching operators case-insensitive and is refused beside a comparison, so a
# text filter is one of two shapes
StringCaseFilter = TypedDict("StringCaseFilter", {
    "eq": str, "not": "str | StringFilter", "in": "list[str] | tuple[str, ...]",
    "not_in": "list[str] | tuple[str, ...]", "contains": str, "starts_with": str, "ends_with": str,
    "mode": QueryMode,
}, total=False)
StringRangeFilter = TypedDict("StringRangeFilter", {
    "eq": str, "not": "str | StringFilter", "in": "list[str] | tuple[str, ...]",
    "not_in": "list[str] | tuple[str, ...]", "contains": str, "starts_with": str, "ends_with": str,
    "gt": str, "gte": str, "lt": str, "lte": str,
}, total=False)
StringFilter: TypeAlias = StringCaseFilter | StringRangeFilter
NullableStringCaseFilter = TypedDict("NullableStringCaseFilter", {
    "eq": "str | None", "not": "str | None | NullableStringFilter", "in": "list[str] | tuple[str, ...]",
    "not_in": "list[str] | tuple[str, ...]", "contains": str, "starts_with": str, "ends_with": str,
    "mode": QueryMode,
}, total=False)
NullableStringRangeFilter = TypedDict("NullableStringRangeFilter", {
    "eq": "str | None", "not": "str | None | NullableStringFilter", "in": "list[str] | tuple[str, ...]",
    "not_in": "list[str] | tuple[str, ...]", "contains": str, "starts_with": str, "ends_with": str,
    "gt": str, "gte": str, "lt": str, "lte": str,
}, total=False)
NullableStringFilter: TypeAlias = NullableStringCaseFilter | NullableStringRangeFilter
# integer, bigint, integer ids: equality, lists and comparisons
IntFilter = TypedDict("IntFilter", {
    "eq": int, "not": "int | IntFilter", "in": "list[int] | tuple[int, ...]",
    "not_in": "list[int] | tuple[int, ...]", "gt": int, "gte": int, "lt": int, "lte": int,
}, total=False)
NullableIntFilter = TypedDict("NullableIntFilter", {
    "eq": "int | None", "not": "int | None | NullableIntFilter", "in": "list[int] | tuple[int, ...]",
    "not_in": "list[int] | tuple[int, ...]", "gt": int, "gte": int, "lt": int, "lte": int,
}, total=False)
DecimalFilter = TypedDict("DecimalFilter", {
    "eq": "DecimalInput", "not": "DecimalInput | DecimalFilter", "in": "list[DecimalInput] | tuple[DecimalInput, ...]",
    "not_in": "list[DecimalInput] | tuple[DecimalInput, ...]", "gt": "DecimalInput", "gte": "DecimalInput",
    "lt": "DecimalInput", "lte": "DecimalInput",
}, total=False)
NullableDecimalFilter = TypedDict("NullableDecimalFilter", {
    "eq": "DecimalInput | None", "not": "DecimalInput | None | NullableDecimalFilter",
    "in": "list[DecimalInput] | tuple[DecimalInput, ...]", "not_in": "list[DecimalInput] | tuple[DecimalInput, ...]",
    "gt": "DecimalInput", "gte": "DecimalInput", "lt": "DecimalInput", "lte": "DecimalInput",
}, total=False)
DateTimeFilter = TypedDict("DateTimeFilter", {
    "eq": "_dt.datetime", "not": "_dt.datetime | DateTimeFilter", "in": "list[_dt.datetime] | tuple[_dt.datetime, ...]",
    "not_in": "list[_dt.datetime] | tuple[_dt.datetime, ...]", "gt": "_dt.datetime", "gte": "_dt.datetime",
    "lt": "_dt.datetime", "lte": "_dt.datetime",
}, total=False)
NullableDateTimeFilter = TypedDict("NullableDateTimeFilter", {
    "eq": "_dt.datetime | None", "not": "_dt.datetime | None | NullableDateTimeFilter",
    "in": "list[_dt.datetime] | tuple[_dt.datetime, ...]", "not_in": "list[_dt.datetime] | tuple[_dt.datetime, ...]",
    "gt": "_dt.datetime", "gte": "_dt.datetime", "lt": "_dt.datetime", "lte": "_dt.datetime",
}, total=False)
# an average in group_by's having: a Decimal, int, decimal text or float
AvgInput = _decimal.Decimal | int | str | float
AvgFilter = TypedDict("AvgFilter", {
    "eq": "AvgInput", "not": "AvgInput | AvgFilter", "in": "list[AvgInput] | tuple[AvgInput, ...]",
    "not_in": "list[AvgInput] | tuple[AvgInput, ...]", "gt": "AvgInput", "gte": "AvgInput",
    "lt": "AvgInput", "lte": "AvgInput",
}, total=False)
# booleans: equality and lists only
BoolFilter = TypedDict("BoolFilter", {
    "eq": bool, "not": "bool | BoolFilter", "in": "list[bool] | tuple[bool, ...]",
    "not_in": "list[bool] | tuple[bool, ...]",
}, total=False)
NullableBoolFilter = TypedDict("NullableBoolFilter", {
    "eq": "bool | None", "not": "bool | None | NullableBoolFilter", "in": "list[bool] | tuple[bool, ...]",
    "not_in": "list[bool] | tuple[bool, ...]",
}, total=False)


class RelationCountOrder(TypedDict):
    """Sort by how many related records a to-many relation has: ``{"posts": {"_count": "desc"}}``."""

    _count: SortOrder | SortSpec


# -- update data: a number field takes a value or one atomic operation (docs/queries.md) ---------
class IntUpdate(TypedDict, total=False):
    """One operation on an integer field in update data: ``{"increment": 1}``."""

    set: int
    increment: int
    decrement: int
    multiply: int
    divide: int


class NullableIntUpdate(TypedDict, total=False):
    """One operation on a nullable integer field in update data (NULL stays NULL)."""

    set: int | None
    increment: int
    decrement: int
    multiply: int
    divide: int


class DecimalUpdate(TypedDict, total=False):
    """One operation on a decimal field in update data: ``{"increment": Decimal("0.5")}``."""

    set: DecimalInput
    increment: DecimalInput
    decrement: DecimalInput
    multiply: DecimalInput
    divide: DecimalInput


class NullableDecimalUpdate(TypedDict, total=False):
    """One operation on a nullable decimal field in update data (NULL stays NULL)."""

    set: DecimalInput | None
    increment: DecimalInput
    decrement: DecimalInput
    multiply: DecimalInput
    divide: DecimalInput


# -- results ------------------------------------------------------------------------------------
# -- the model client, seen through the generated types ----------------------------------------
class TypedModelClient(Protocol[R, P, W, WU, O, Sel, Inc, C, U, D, I]):
    """``orm.<model>`` (a ``ModelClient``) with its arguments and results typed from the schema.

    R: the record TypedDict (relations ``NotRequired``: present when ``include``d); P: the partial
    record a ``select`` returns (every key ``NotRequired``); W / WU: ``where`` / unique ``where``;
    O: ``order_by``; Sel / Inc: ``select`` / ``include``; C / U: create / update ``data``; D: a field
    ``distinct`` may name; I: a record's identity (what ``returning="id"`` returns).
    ``as_=SomeStruct`` types the result as that Struct (scalar fields only: no include)."""

    # find_many
    @overload
    async def find_many(
        self, *, where: W | None = None, select: None = None, include: Inc | None = None,
        order_by: O | Sequence[O] | None = None, take: int | None = None, skip: int | None = None,
        distinct: D | Sequence[D] | None = None, with_deleted: bool = False, with_archived: bool = False, as_: None = None,
    ) -> list[R]: ...
    @overload
    async def find_many(
        self, *, where: W | None = None, select: Sel, include: None = None,
        order_by: O | Sequence[O] | None = None, take: int | None = None, skip: int | None = None,
        distinct: D | Sequence[D] | None = None, with_deleted: bool = False, with_archived: bool = False, as_: None = None,
    ) -> list[P]: ...
    @overload
    async def find_many(
        self, *, where: W | None = None, select: Sel | None = None, include: None = None,
        order_by: O | Sequence[O] | None = None, take: int | None = None, skip: int | None = None,
        distinct: D | Sequence[D] | None = None, with_deleted: bool = False, with_archived: bool = False, as_: type[S],
    ) -> list[S]: ...

    # find_first (find_one is the same method)
    @overload
    async def find_first(
        self, *, where: W | None = None, select: None = None, include: Inc | None = None,
        order_by: O | Sequence[O] | None = None, skip: int | None = None,
        distinct: D | Sequence[D] | None = None, with_deleted: bool = False, with_archived: bool = False, as_: None = None,
    ) -> R | None: ...
    @overload
    async def find_first(
        self, *, where: W | None = None, select: Sel, include: None = None,
        order_by: O | Sequence[O] | None = None, skip: int | None = None,
        distinct: D | Sequence[D] | None = None, with_deleted: bool = False, with_archived: bool = False, as_: None = None,
    ) -> P | None: ...
    @overload
    async def find_first(
        self, *, where: W | None = None, select: Sel | None = None, include: None = None,
        order_by: O | Sequence[O] | None = None, skip: int | None = None,
        distinct: D | Sequence[D] | None = None, with_deleted: bool = False, with_archived: bool = False, as_: type[S],
    ) -> S | None: ...

    @overload
    async def find_one(
        self, *, where: W | None = None, select: None = None, include: Inc | None = None,
        order_by: O | Sequence[O] | None = None, skip: int | None = None,
        distinct: D | Sequence[D] | None = None, with_deleted: bool = False, with_archived: bool = False, as_: None = None,
    ) -> R | None: ...
    @overload
    async def find_one(
        self, *, where: W | None = None, select: Sel, include: None = None,
        order_by: O | Sequence[O] | None = None, skip: int | None = None,
        distinct: D | Sequence[D] | None = None, with_deleted: bool = False, with_archived: bool = False, as_: None = None,
    ) -> P | None: ...
    @overload
    async def find_one(
        self, *, where: W | None = None, select: Sel | None = None, include: None = None,
        order_by: O | Sequence[O] | None = None, skip: int | None = None,
        distinct: D | Sequence[D] | None = None, with_deleted: bool = False, with_archived: bool = False, as_: type[S],
    ) -> S | None: ...

    # find_unique
    @overload
    async def find_unique(
        self, *, where: WU, select: None = None, include: Inc | None = None,
        with_deleted: bool = False, with_archived: bool = False, as_: None = None,
    ) -> R | None: ...
    @overload
    async def find_unique(
        self, *, where: WU, select: Sel, include: None = None,
        with_deleted: bool = False, with_archived: bool = False, as_: None = None,
    ) -> P | None: ...
    @overload
    async def find_unique(
        self, *, where: WU, select: Sel | None = None, include: None = None,
        with_deleted: bool = False, with_archived: bool = False, as_: type[S],
    ) -> S | None: ...

    # find_unique_or_raise / find_first_or_raise: NOT_FOUND instead of None
    @overload
    async def find_unique_or_raise(
        self, *, where: WU, select: None = None, include: Inc | None = None,
        with_deleted: bool = False, with_archived: bool = False, as_: None = None,
    ) -> R: ...
    @overload
    async def find_unique_or_raise(
        self, *, where: WU, select: Sel, include: None = None,
        with_deleted: bool = False, with_archived: bool = False, as_: None = None,
    ) -> P: ...
    @overload
    async def find_unique_or_raise(
        self, *, where: WU, select: Sel | None = None, include: None = None,
        with_deleted: bool = False, with_archived: bool = False, as_: type[S],
    ) -> S: ...

    @overload
    async def find_first_or_raise(
        self, *, where: W | None = None, select: None = None, include: Inc | None = None,
        order_by: O | Sequence[O] | None = None, skip: int | None = None,
        distinct: D | Sequence[D] | None = None, with_deleted: bool = False, with_archived: bool = False, as_: None = None,
    ) -> R: ...
    @overload
    async def find_first_or_raise(
        self, *, where: W | None = None, select: Sel, include: None = None,
        order_by: O | Sequence[O] | None = None, skip: int | None = None,
        distinct: D | Sequence[D] | None = None, with_deleted: bool = False, with_archived: bool = False, as_: None = None,
    ) -> P: ...
    @overload
    async def find_first_or_raise(
        self, *, where: W | None = None, select: Sel | None = None, include: None = None,
        order_by: O | Sequence[O] | None = None, skip: int | None = None,
        distinct: D | Sequence[D] | None = None, with_deleted: bool = False, with_archived: bool = False, as_: type[S],
    ) -> S: ...

    # stream (scalar fields only: include is refused)
    @overload
    def stream(
        self, *, where: W | None = None, select: None = None, include: None = None,
        order_by: O | Sequence[O] | None = None, take: int | None = None, skip: int | None = None,
        batch_size: int = 500, as_: None = None, with_deleted: bool = False, with_archived: bool = False,
    ) -> TypedStream[R]: ...
    @overload
    def stream(
        self, *, where: W | None = None, select: Sel, include: None = None,
        order_by: O | Sequence[O] | None = None, take: int | None = None, skip: int | None = None,
        batch_size: int = 500, as_: None = None, with_deleted: bool = False, with_archived: bool = False,
    ) -> TypedStream[P]: ...
    @overload
    def stream(
        self, *, where: W | None = None, select: Sel | None = None, include: None = None,
        order_by: O | Sequence[O] | None = None, take: int | None = None, skip: int | None = None,
        batch_size: int = 500, as_: type[S], with_deleted: bool = False, with_archived: bool = False,
    ) -> TypedStream[S]: ...

    async def count(self, *, where: W | None = None, with_deleted: bool = False,
                    with_archived: bool = False) -> int: ...

    # find_page
    @overload
    async def find_page(
        self, *, where: W | None = None, order_by: O | Sequence[O] | None = None, first: int | None = None,
        after: str | None = None, last: int | None = None, before: str | None = None, select: None = None,
        include: Inc | None = None,
        with_deleted: bool = False, with_archived: bool = False, as_: None = None,
        distinct: D | Sequence[D] | None = None,
    ) -> Page[R]: ...
    @overload
    async def find_page(
        self, *, where: W | None = None, order_by: O | Sequence[O] | None = None, first: int | None = None,
        after: str | None = None, last: int | None = None, before: str | None = None, select: Sel,
        include: None = None,
        with_deleted: bool = False, with_archived: bool = False, as_: None = None,
        distinct: D | Sequence[D] | None = None,
    ) -> Page[P]: ...
    @overload
    async def find_page(
        self, *, where: W | None = None, order_by: O | Sequence[O] | None = None, first: int | None = None,
        after: str | None = None, last: int | None = None, before: str | None = None, select: Sel | None = None,
        include: None = None,
        with_deleted: bool = False, with_archived: bool = False, as_: type[S],
        distinct: D | Sequence[D] | None = None,
    ) -> Page[S]: ...

    # writes
    @overload
    async def create(self, *, data: C, select: None = None, include: Inc | None = None,
                     returning: Literal["record"] = "record") -> R: ...
    @overload
    async def create(self, *, data: C, select: Sel, include: None = None,
                     returning: Literal["record"] = "record") -> P: ...
    @overload
    async def create(self, *, data: C, select: None = None, include: None = None,
                     returning: Literal["id"]) -> I: ...
    @overload
    async def create(self, *, data: C, select: None = None, include: None = None,
                     returning: Literal["none"]) -> None: ...

    @overload
    async def create_many(self, *, data: Sequence[C], select: None = None,
                          returning: Literal["records"] = "records") -> list[R]: ...
    @overload
    async def create_many(self, *, data: Sequence[C], select: Sel,
                          returning: Literal["records"] = "records") -> list[P]: ...
    @overload
    async def create_many(self, *, data: Sequence[C], select: None = None,
                          returning: Literal["ids"]) -> list[I]: ...
    @overload
    async def create_many(self, *, data: Sequence[C], select: None = None,
                          returning: Literal["count"]) -> int: ...

    @overload
    async def update(
        self, *, where: W, data: U, select: None = None, include: Inc | None = None,
        expected_version: int | None = None, with_deleted: bool = False, with_archived: bool = False,
        returning: Literal["record"] = "record",
    ) -> R | None: ...
    @overload
    async def update(
        self, *, where: W, data: U, select: Sel, include: None = None,
        expected_version: int | None = None, with_deleted: bool = False, with_archived: bool = False,
        returning: Literal["record"] = "record",
    ) -> P | None: ...
    @overload
    async def update(
        self, *, where: W, data: U, select: None = None, include: None = None,
        expected_version: int | None = None, with_deleted: bool = False, with_archived: bool = False,
        returning: Literal["count"],
    ) -> int: ...

    @overload
    async def update_or_raise(
        self, *, where: W, data: U, select: None = None, include: Inc | None = None,
        expected_version: int | None = None, with_deleted: bool = False, with_archived: bool = False,
    ) -> R: ...
    @overload
    async def update_or_raise(
        self, *, where: W, data: U, select: Sel, include: None = None,
        expected_version: int | None = None, with_deleted: bool = False, with_archived: bool = False,
    ) -> P: ...

    async def update_many(self, *, where: W, data: U, with_deleted: bool = False,
                          with_archived: bool = False) -> int: ...

    @overload
    async def upsert(self, *, where: WU, create: C, update: U | None = None, select: None = None,
                     include: Inc | None = None) -> R: ...
    @overload
    async def upsert(self, *, where: WU, create: C, update: U | None = None, select: Sel,
                     include: None = None) -> P: ...

    # delete: how many (0 or 1), or with select / include the deleted record as it was
    @overload
    async def delete(self, *, where: W, with_archived: bool = False, select: None = None,
                     include: None = None) -> int: ...
    @overload
    async def delete(self, *, where: W, with_archived: bool = False, select: None = None,
                     include: Inc) -> R | None: ...
    @overload
    async def delete(self, *, where: W, with_archived: bool = False, select: Sel,
                     include: None = None) -> P | None: ...

    async def delete_many(self, *, where: W, with_archived: bool = False) -> int: ...
    async def hard_delete(self, *, where: W) -> int: ...
    async def hard_delete_many(self, *, where: W) -> int: ...


#: the aggregate arguments and results (generated per model: ``UserCountInput`` …)
CIn = TypeVar("CIn", contravariant=True)
SIn = TypeVar("SIn", contravariant=True)
MIn = TypeVar("MIn", contravariant=True)
F = TypeVar("F", contravariant=True)
H = TypeVar("H", contravariant=True)
GO = TypeVar("GO", contravariant=True)
AggR = TypeVar("AggR", covariant=True)
GR = TypeVar("GR")


class Aggregates(Protocol[W, CIn, SIn, MIn, F, H, GO, AggR, GR]):
    """``aggregate`` and ``group_by`` (docs/aggregates.md), typed from the schema.

    CIn: ``count=`` (``True``, or ``_all`` and fields); SIn: ``sum=`` / ``avg=`` (number fields);
    MIn: ``min=`` / ``max=`` (number, datetime and string fields); F: a field ``by`` may name;
    H: ``having``; GO: a group_by ``order_by``; AggR: aggregate's result; GR: a group_by row.
    A result holds the keys that were asked for (every key is ``NotRequired``); ``as_=SomeStruct``
    (nested Structs for the functions) types it exactly."""

    @overload
    async def aggregate(
        self, *, where: W | None = None, count: bool | CIn | None = None, sum: SIn | None = None,  # noqa: A002
        avg: SIn | None = None, min: MIn | None = None, max: MIn | None = None,  # noqa: A002
        with_deleted: bool = False, with_archived: bool = False, as_: None = None,
    ) -> AggR: ...
    @overload
    async def aggregate(
        self, *, where: W | None = None, count: bool | CIn | None = None, sum: SIn | None = None,  # noqa: A002
        avg: SIn | None = None, min: MIn | None = None, max: MIn | None = None,  # noqa: A002
        with_deleted: bool = False, with_archived: bool = False, as_: type[S],
    ) -> S: ...

    @overload
    async def group_by(
        self, *, by: F | Sequence[F], where: W | None = None, count: bool | CIn | None = None,
        sum: SIn | None = None, avg: SIn | None = None, min: MIn | None = None,  # noqa: A002
        max: MIn | None = None, having: H | None = None, order_by: GO | Sequence[GO] | None = None,  # noqa: A002
        take: int | None = None, skip: int | None = None, with_deleted: bool = False, with_archived: bool = False,
        as_: None = None,
    ) -> list[GR]: ...
    @overload
    async def group_by(
        self, *, by: F | Sequence[F], where: W | None = None, count: bool | CIn | None = None,
        sum: SIn | None = None, avg: SIn | None = None, min: MIn | None = None,  # noqa: A002
        max: MIn | None = None, having: H | None = None, order_by: GO | Sequence[GO] | None = None,  # noqa: A002
        take: int | None = None, skip: int | None = None, with_deleted: bool = False, with_archived: bool = False,
        as_: type[S],
    ) -> list[S]: ...


class SoftDeletes(Protocol[W]):
    """What a ``model(soft_delete=True)`` adds: ``restore``."""

    async def restore(self, *, where: W, with_archived: bool = False) -> int: ...


class Archives(Protocol[W]):
    """What a ``model(archive=True)`` adds: ``archive`` and ``unarchive``."""

    async def archive(self, *, where: W) -> int: ...
    async def unarchive(self, *, where: W) -> int: ...


# -- the client -----------------------------------------------------------------------------
class TypedOrm:
    """The base of a generated ``TypedClient``: an ``Orm`` seen through the schema's types.

    ``TypedClient(orm)`` checks once that ``orm``'s schema is the one the module was generated
    from; ``client.<model>`` is ``orm.<model>`` itself (cached on first access), so queries cost
    what they cost on the plain Orm. ``client.orm`` is the plain Orm for everything untyped."""

    #: model name -> ``model_hash`` when the module was generated: ``class TypedClient(TypedOrm,
    #: schema_hashes=SCHEMA_HASHES)`` sets it
    schema_hashes: ClassVar[Mapping[str, str]] = {}
    #: schemas already checked against each generated class (a check per schema, not per client)
    _checked: ClassVar[dict[int, tuple[type[TypedOrm], Schema]]] = {}

    orm: Orm

    def __init_subclass__(cls, schema_hashes: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if schema_hashes is not None:
            cls.schema_hashes = dict(schema_hashes)

    def __init__(self, orm: Orm) -> None:
        schema = orm.schema
        seen = TypedOrm._checked.get(id(schema))
        if seen is None or seen[0] is not type(self) or seen[1] is not schema:
            self._check(schema)
            TypedOrm._checked[id(schema)] = (type(self), schema)
        self.orm = orm

    @classmethod
    def _check(cls, schema: Schema) -> None:
        generated = cls.schema_hashes
        hint = "Run `farmorm generate client` again (and `farmorm check client` in CI)."
        for name, digest in generated.items():
            model = schema.models.get(name)
            if model is None:
                raise SchemaError(f'{cls.__name__} was generated for a schema with model "{name}", '
                                  f"which this Orm's schema does not have. {hint}")
            if model_hash(model) != digest:
                raise SchemaError(f'{cls.__name__} was generated from an older version of model "{name}" '
                                  f"(its fields, relations or keys changed since). {hint}")
        extra = [m for m in schema.models if m not in generated and not m.startswith("farmorm_")]
        if extra:
            raise SchemaError(f"{cls.__name__} was generated without model(s) {', '.join(repr(m) for m in extra)} "
                              f"of this Orm's schema. {hint}")

    @classmethod
    def _view(cls, orm: Orm) -> Self:
        """A client of this class over ``orm`` (a transaction's), without the schema check."""
        client = cls.__new__(cls)
        client.orm = orm
        return client

    def _model(self, name: str) -> object:
        """``orm.<name>``; the generated properties cast it to the model's client protocol."""
        return self.orm.model(name)

    @property
    def schema(self) -> Schema:
        """The schema the Orm was built from."""
        return self.orm.schema

    @property
    def driver(self) -> DriverHandle:
        """The frozen driver handle: ``kind``, ``dialect``, ``client``, ``capabilities``."""
        return self.orm.driver

    @property
    def plan_cache(self) -> PlanCache:
        """The Orm's compiled-plan cache (hit/miss counters)."""
        return self.orm.plan_cache

    @overload
    def transaction(self, fn: Callable[[Self], Awaitable[T]], *, isolation: str | None = None,
                    retries: int = 0, actor: str | None = None) -> Coroutine[Any, Any, T]: ...
    @overload
    def transaction(self, fn: None = None, *, isolation: str | None = None, retries: int = 0,
                    actor: str | None = None) -> TypedTransaction[Self]: ...

    def transaction(self, fn: Callable[[Self], Awaitable[T]] | None = None, *, isolation: str | None = None,
                    retries: int = 0, actor: str | None = None) -> Coroutine[Any, Any, T] | TypedTransaction[Self]:
        """``orm.transaction``, handing the block or ``fn`` a typed client bound to the transaction
        (with ``fn``, a real coroutine: ``asyncio.create_task`` takes it)."""
        if fn is None:
            return TypedTransaction(self._view, self.orm.transaction(isolation=isolation, retries=retries,
                                                                     actor=actor))
        view, run = self._view, fn

        def bound(tx: Orm) -> Awaitable[T]:
            return run(view(tx))

        return self.orm.transaction(bound, isolation=isolation, retries=retries, actor=actor)

    async def batch(self, fns: Sequence[Callable[[Self], Awaitable[Any]]]) -> list[Any]:
        """Run the callables in order inside one transaction; returns their results."""
        async def run(tx: Self) -> list[Any]:
            return [await fn(tx) for fn in fns]

        return await self.transaction(run)

    def on_commit(self, callback: Callable[[], Any]) -> None:
        """``orm.on_commit``: run ``callback`` after the outermost transaction commits."""
        self.orm.on_commit(callback)

    def on_query(self, callback: Callable[[QueryEvent], Any]) -> Callable[[], None]:
        """``orm.on_query``: call ``callback(event)`` after every statement; returns an unsubscribe function."""
        return self.orm.on_query(callback)

    def primary(self) -> Self:
        """This client with every read on the primary (``orm.primary()``)."""
        return self._view(self.orm.primary())

    @property
    def raw(self) -> RawClient:
        """``orm.raw``: hand-written statements (bound values only), on the transaction's connection
        when reached from a transaction's client."""
        return self.orm.raw

    @property
    def outbox(self) -> OutboxClient:
        """``orm.outbox`` (needs ``define_schema(..., outbox=True)``)."""
        return cast("OutboxClient", self.orm.outbox)  # a feature client: orm.<name> is typed for models

    @property
    def idempotency(self) -> IdempotencyClient:
        """``orm.idempotency`` (needs ``define_schema(..., idempotency=True)``)."""
        return cast("IdempotencyClient", self.orm.idempotency)

    async def close(self, timeout: float | None = 10.0) -> None:
        """``orm.close``: close what farmorm opened."""
        await self.orm.close(timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.orm!r}>"


C_client = TypeVar("C_client", bound=TypedOrm)


class TypedTransaction(Generic[C_client]):
    """``async with client.transaction() as tx``: ``tx`` is a typed client bound to the transaction."""

    __slots__ = ("_view", "_tx")

    def __init__(self, view: Callable[[Orm], C_client], tx: Transaction[Orm]) -> None:
        self._view = view
        self._tx = tx

    async def __aenter__(self) -> C_client:
        return self._view(await self._tx.__aenter__())

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        await self._tx.__aexit__(exc_type, exc, tb)


__all__ = [
    "Struct", "TypedDict", "NotRequired",
    "SortOrder", "SortSpec", "RelationCountOrder", "QueryMode", "DecimalInput", "Json",
    "IntUpdate", "NullableIntUpdate", "DecimalUpdate", "NullableDecimalUpdate", "Aggregates",
    "StringFilter", "StringCaseFilter", "StringRangeFilter", "NullableStringFilter", "NullableStringCaseFilter",
    "NullableStringRangeFilter", "IntFilter", "NullableIntFilter", "DecimalFilter",
    "NullableDecimalFilter", "AvgInput", "AvgFilter", "DateTimeFilter", "NullableDateTimeFilter", "BoolFilter", "NullableBoolFilter",
    "Page", "PageInfo", "TypedStream", "TypedModelClient", "SoftDeletes", "Archives",
    "TypedOrm", "TypedTransaction",
]
