"""Monthly partitions of the positions table (``grids_position``, migration 0002).

One partition per local calendar month (Asia/Shanghai midnights), named
``grids_position_pYYYYMM``, plus ``grids_position_default`` for stragglers. A partition is
created *before* its month is written to (beat task ``grids.positions_partitions``, the
``tracks_partitions`` command, and the ingest itself for a month it finds missing). Rows that
reached the default partition meanwhile are moved into the new partition in the same
transaction: PostgreSQL refuses to attach a range the default partition has rows for.

Old partitions are *detached* (kept as ordinary tables for archiving, or dropped on request),
which takes no time whatever their size — the reason the table is partitioned. Their packed
playback chunks (``grids_track_chunk``) are deleted with them.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction

__all__ = [
    "month_of",
    "partition_name",
    "positions_partitions",
    "positions_partitions_detach",
    "positions_partitions_ensure",
    "positions_partitions_maintain",
]

PARENT = "grids_position"
DEFAULT = "grids_position_default"
_NAME = re.compile(r"^grids_position_p(\d{4})(\d{2})$")
_LOCK = 740_601  # pg_advisory_xact_lock key: one partition change at a time


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def month_of(moment: dt.datetime) -> dt.date:
    """First day of the local month holding ``moment``."""
    local = moment.astimezone(_tz())
    return dt.date(local.year, local.month, 1)


def _next(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _bound(month: dt.date) -> dt.datetime:
    return dt.datetime(month.year, month.month, 1, tzinfo=_tz())


def partition_name(month: dt.date) -> str:
    return f"{PARENT}_p{month.year:04d}{month.month:02d}"


def positions_partitions() -> list[dt.date]:
    """Months that have an attached partition, oldest first."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [PARENT],
        )
        names = [r[0] for r in cur.fetchall()]
    return sorted(dt.date(int(m[1]), int(m[2]), 1) for n in names if (m := _NAME.match(n)))


def _create(cur, month: dt.date) -> None:
    name, lo, hi = partition_name(month), _bound(month), _bound(_next(month))
    # a plain table first, filled with the month's stragglers from the default partition, then
    # attached: the CHECK lets ATTACH skip scanning the new table
    cur.execute(f'CREATE TABLE "{name}" (LIKE {PARENT} INCLUDING DEFAULTS)')
    cur.execute(
        f'ALTER TABLE "{name}" ADD CONSTRAINT "{name}_range" CHECK (recorded_at >= %s AND recorded_at < %s)',
        [lo, hi],
    )
    cur.execute(
        f"WITH moved AS (DELETE FROM {DEFAULT} WHERE recorded_at >= %s AND recorded_at < %s RETURNING *) "
        f'INSERT INTO "{name}" SELECT * FROM moved',
        [lo, hi],
    )
    cur.execute(f'ALTER TABLE {PARENT} ATTACH PARTITION "{name}" FOR VALUES FROM (%s) TO (%s)', [lo, hi])
    cur.execute(f'ALTER TABLE "{name}" DROP CONSTRAINT "{name}_range"')


def positions_partitions_ensure(*, start: dt.date, end: dt.date) -> list[dt.date]:
    """Create the partitions of every month from ``start``'s to ``end``'s that is missing;
    returns the months created. Safe to run concurrently and repeatedly."""
    months = []
    month = dt.date(start.year, start.month, 1)
    while month <= end:
        months.append(month)
        month = _next(month)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT " + ", ".join(["to_regclass(%s) IS NULL"] * len(months)),
            [partition_name(m) for m in months],
        )
        missing = [m for m, absent in zip(months, cur.fetchone(), strict=True) if absent]
    if not missing:
        return []
    created = []
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
        for m in missing:
            cur.execute("SELECT to_regclass(%s) IS NULL", [partition_name(m)])
            if cur.fetchone()[0]:  # not made by another process while we waited
                _create(cur, m)
                created.append(m)
    return created


def positions_partitions_detach(*, before: dt.date, drop: bool = False) -> list[dt.date]:
    """Detach (and with ``drop`` delete) the partitions of months entirely before ``before``."""
    old = [m for m in positions_partitions() if _next(m) <= before]
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
        for m in old:
            cur.execute(f'ALTER TABLE {PARENT} DETACH PARTITION "{partition_name(m)}"')
            # no trigger fires on a detach: the month's playback chunks go with it (buckets of
            # 15 minutes never straddle a local midnight)
            cur.execute(
                "DELETE FROM grids_track_chunk WHERE bucket >= %s AND bucket < %s",
                [_bound(m), _bound(_next(m))],
            )
            if drop:
                cur.execute(f'DROP TABLE "{partition_name(m)}"')
    return old


def positions_partitions_maintain(*, now: dt.datetime) -> dict:
    """What the beat task runs: partitions from the oldest month a fix may still arrive for
    to ``TRACK_PARTITION_MONTHS_AHEAD`` months ahead, and — when ``TRACK_RETENTION_MONTHS``
    is set — older months detached."""
    cfg = settings.CIVGRID
    this = month_of(now)
    end = this
    for _ in range(cfg["TRACK_PARTITION_MONTHS_AHEAD"]):
        end = _next(end)
    start = month_of(now - dt.timedelta(days=cfg["TRACK_MAX_AGE_DAYS"]))
    created = positions_partitions_ensure(start=start, end=end)
    detached: list[dt.date] = []
    if keep := cfg["TRACK_RETENTION_MONTHS"]:
        first_kept = this
        for _ in range(keep - 1):
            first_kept = dt.date(
                first_kept.year - (first_kept.month == 1), (first_kept.month - 2) % 12 + 1, 1
            )
        detached = positions_partitions_detach(before=min(first_kept, start))
    return {"created": [m.isoformat() for m in created], "detached": [m.isoformat() for m in detached]}
