"""A small music store (artists, albums, tracks, customers, invoices) for the read-side suite:
aggregates, group_by, distinct, relation counts and ordering by relations.

Decimal totals are chosen so a float sum would be off (0.1 + 0.2) and so "over 100" has a group
at exactly 100 that must stay out.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from farmorm import belongs_to, define_schema, has_many, model
from farmorm import fields as f

UTC = dt.timezone.utc

music_schema = define_schema(
    artist=model(
        table="artists",
        fields={"id": f.id(), "name": f.string()},
        relations={"albums": has_many("album", foreign_key="artist_id")},
    ),
    album=model(
        table="albums",
        fields={
            "id": f.id(),
            "title": f.string(),
            "artist_id": f.string().references("artist.id"),
            "released": f.datetime().nullable(),
        },
        relations={
            "artist": belongs_to("artist", foreign_key="artist_id"),
            "tracks": has_many("track", foreign_key="album_id"),
        },
    ),
    track=model(
        table="tracks",
        fields={
            "id": f.id(),
            "name": f.string(),
            "album_id": f.string().nullable().references("album.id"),
            "milliseconds": f.integer(),
            "unit_price": f.decimal(),
            "composer": f.string().nullable(),
        },
        relations={"album": belongs_to("album", foreign_key="album_id")},
    ),
    customer=model(
        table="customers",
        fields={"id": f.id(), "name": f.string(), "country": f.string()},
        relations={"invoices": has_many("invoice", foreign_key="customer_id")},
    ),
    invoice=model(
        table="invoices",
        fields={
            "id": f.id(),
            "customer_id": f.string().references("customer.id"),
            "billing_country": f.string().nullable(),
            "total": f.decimal(),
            "items": f.integer(),
            "issued_at": f.datetime(),
        },
        relations={"customer": belongs_to("customer", foreign_key="customer_id")},
    ),
)


def at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, 1, day, hour, tzinfo=UTC)


ARTISTS = [("ar1", "AC/DC"), ("ar2", "Beethoven"), ("ar3", "Coltrane"), ("ar4", "Dylan")]
ALBUMS = [
    ("al1", "Back in Black", "ar1", at(3)),
    ("al2", "Highway to Hell", "ar1", None),
    ("al3", "Symphony 9", "ar2", at(1)),
    ("al4", "Blue Train", "ar3", at(2)),
    ("al5", "A Love Supreme", "ar3", None),
    ("al6", "Giant Steps", "ar3", at(4)),
]
TRACKS = [
    ("t1", "Hells Bells", "al1", 312000, "0.99", "Young"),
    ("t2", "Shoot to Thrill", "al1", 317000, "0.99", "Young"),
    ("t3", "Highway to Hell", "al2", 208000, "1.29", None),
    ("t4", "Ode", "al3", 1500000, "1.99", "Beethoven"),
    ("t5", "Blue Train", "al4", 643000, "0.99", "Coltrane"),
    ("t6", "Moment's Notice", "al4", 550000, "0.99", "Coltrane"),
    ("t7", "Locomotion", "al4", 434000, "1.29", None),
    ("t8", "Acknowledgement", "al5", 462000, "1.99", "Coltrane"),
    ("t9", "Loose demo", None, 100000, "0.10", None),
]
CUSTOMERS = [("c1", "Ana", "US"), ("c2", "Ben", "DE"), ("c3", "Cleo", "FR"), ("c4", "Dan", "BR"), ("c5", "Eve", "CA")]
#: (id, customer, billing country, total, items, issued day)
INVOICES = [
    ("i1", "c1", "US", "60.10", 3, 1),
    ("i2", "c1", "US", "45.20", 2, 2),
    ("i3", "c1", "US", "0.10", 1, 3),
    ("i4", "c2", "DE", "99.99", 4, 4),
    ("i5", "c2", "DE", "0.02", 1, 5),
    ("i6", "c3", "FR", "50.00", 2, 6),
    ("i7", "c3", "FR", "50", 2, 7),
    ("i8", "c4", "BR", "0.1", 1, 8),
    ("i9", "c4", "BR", "0.2", 1, 9),
    ("i10", "c5", None, "10.00", 1, 10),
    ("i11", "c5", "CA", "120.005", 5, 11),
]


async def seed_music(orm: Any) -> None:
    await orm.artist.create_many(data=[{"id": i, "name": n} for i, n in ARTISTS])
    await orm.album.create_many(data=[{"id": i, "title": t, "artist_id": a, "released": r} for i, t, a, r in ALBUMS])
    await orm.track.create_many(data=[
        {"id": i, "name": n, "album_id": al, "milliseconds": ms, "unit_price": Decimal(p), "composer": c}
        for i, n, al, ms, p, c in TRACKS
    ])
    await orm.customer.create_many(data=[{"id": i, "name": n, "country": c} for i, n, c in CUSTOMERS])
    await orm.invoice.create_many(data=[
        {"id": i, "customer_id": c, "billing_country": bc, "total": Decimal(t), "items": it, "issued_at": at(d)}
        for i, c, bc, t, it, d in INVOICES
    ])
