"""Ingest of GPS positions (巡查位置上报): batches from phones and other systems, and uploaded
CSV/GPX files.

A batch (at most ``TRACK_BATCH_MAX`` fixes, any supported crs — GCJ-02 from most phone
SDKs) is converted to WGS84 here at the boundary, cleaned as Traccar does
(:mod:`grids.tracking.clean`) against the person's stored neighbours, located (unit grid +
region, once, on write) and stored with one binary ``COPY``: a re-sent fix is a duplicate the
cleaner turns away, and one it could not see (another writer) sends the batch through
``INSERT … ON CONFLICT DO NOTHING`` — stored once either way. Every fix that is not stored
comes back with a reason.

**Running distance.** Each fix stores ``cum_m``, the person's cumulative ground distance, so
the mileage of any window is ``last.cum_m - first.cum_m``. A late (out-of-order) batch lands
between stored fixes: the stored fixes it interleaves with get their ``cum_m`` recomputed,
and every later fix is shifted by the same difference (one ``UPDATE``), so the invariant holds
whatever arrives when. A per-person advisory lock serializes two batches of one person.

**Speed** (target ≥ 50,000 fixes/s): a uniform batch is parsed column-wise with numpy, the
people's stored neighbours come in one query, the rows go in one binary COPY built with
numpy, and their packed playback chunks (``grids_track_chunk``, migration 0004) are written
from the same arrays. A batch costs seven statements (BEGIN and COMMIT included): locks,
partition check and neighbours travel together, and so do the chunks and ``last_position_at``;
the running distance reuses the steps the cleaner measured.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import operator
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.permissions import Principal
from accounts.scoping import scope_queryset
from gis_core import crs as crs_mod
from gis_core.errors import InvalidInput, TooLarge
from gis_core.imports.readers import decode_text
from gis_core.selectors.locate import locate_points_raw

from ..models import GridStaff, StaffStatus
from ..tracking.clean import REASONS, CleanRules, clean_fixes_steps
from ..tracking.trips import accumulate, running_distance
from .partitions import month_of, partition_name, positions_partitions_ensure

__all__ = [
    "IngestResult",
    "clean_rules",
    "own_staff_id",
    "positions_ingest",
    "track_file_read",
    "track_upload",
]

_LOCK_CLASS = 740_602  # pg_advisory_xact_lock(class, staff id): one batch of a person at a time
PARSE_REASONS = {
    "bad_staff": "人员编号 staff 缺失或无效",
    "forbidden_staff": "人员不存在或不在您的管辖范围内（或无权为其上报）",
    "staff_left": "该网格员已离岗",
    "bad_time": "定位时间 t 缺失或无法识别（ISO 8601 或 Unix 时间戳）",
    "bad_coordinates": "坐标 lon/lat 缺失或不是数字",
    "bad_item": "应为对象 {staff, t, lon, lat, accuracy}",
}


@dataclass
class IngestResult:
    accepted: int = 0  # stored now
    duplicates: int = 0  # already stored (a re-send): not an error
    rejected: list[dict] = field(default_factory=list)  # {"index", "code", "message"}

    def add(self, other: IngestResult, offset: int) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += [{**r, "index": r["index"] + offset} for r in other.rejected]

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


def clean_rules() -> CleanRules:
    cfg = settings.CIVGRID
    return CleanRules(
        max_speed_mps=cfg["TRACK_MAX_SPEED_KMH"] / 3.6,
        max_accuracy_m=cfg["TRACK_MAX_ACCURACY_M"],
        future_skew_s=cfg["TRACK_FUTURE_SKEW_S"],
        max_age_s=cfg["TRACK_MAX_AGE_DAYS"] * 86_400.0,
        skip_after_s=cfg["TRACK_SPEED_SKIP_AFTER_S"],
    )


# ------------------------------------------------------------------ parsing


def _epoch(value, tz: ZoneInfo) -> float:
    """Epoch seconds (rounded to the millisecond) of an ISO 8601 text or a Unix time in s or ms."""
    if isinstance(value, bool) or value is None:
        return math.nan
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            try:
                moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return math.nan
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=tz)  # a phone's local clock
            return round(moment.timestamp() * 1000) / 1000
    if not isinstance(value, int | float):
        return math.nan
    value = float(value)
    if value > 1e11:  # milliseconds
        value /= 1000
    return round(value * 1000) / 1000 if math.isfinite(value) else math.nan


def _float(value) -> float | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass
class _Batch:
    staff: np.ndarray  # int64, -1 unknown
    t: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    accuracy: np.ndarray
    valid: np.ndarray
    reason: np.ndarray  # object: '' or a code


_NUMBER = frozenset({int, float})
_FIVE_KEYS = operator.itemgetter("staff", "t", "lon", "lat", "accuracy")


def _parse_uniform(items: list, default_staff: int | None) -> _Batch | None:
    """The usual batch (every item an object with a numeric staff, Unix time, lon and lat),
    parsed column by column with numpy; None when any item needs the per-item parser."""
    if set(map(type, items)) != {dict}:
        return None
    try:  # the commonest shape, every key present and nothing else: columns in C
        if set(map(len, items)) != {5}:
            raise KeyError
        staff, t, lon, lat, accuracy = zip(*map(_FIVE_KEYS, items), strict=True)
    except KeyError:
        staff = [item.get("staff", default_staff) for item in items]
        t = [item.get("t", item.get("time")) for item in items]
        lon = [item.get("lon") for item in items]
        lat = [item.get("lat") for item in items]
        accuracy = [item.get("accuracy") for item in items]
        if any(item.get("valid") is not None for item in items):
            return None
    if (
        set(map(type, staff)) != {int}
        or not set(map(type, t)) <= _NUMBER
        or not set(map(type, lon)) <= _NUMBER
        or not set(map(type, lat)) <= _NUMBER
        or not set(map(type, accuracy)) <= _NUMBER | {type(None)}
    ):
        return None
    n = len(items)
    try:
        b = _Batch(
            np.array(staff, dtype=np.int64), np.array(t, dtype=float), np.array(lon, dtype=float),
            np.array(lat, dtype=float), np.array(accuracy, dtype=float), np.ones(n, dtype=bool),
            np.full(n, "", dtype=object),
        )  # fmt: skip
    except OverflowError:  # an integer beyond int64 / float: the per-item parser says which
        return None
    # the same rules as _epoch: milliseconds above 1e11, rounded to the millisecond
    with np.errstate(invalid="ignore"):
        b.t = np.where(b.t > 1e11, b.t / 1000, b.t)
        b.t = np.round(b.t * 1000) / 1000
    b.t[~np.isfinite(b.t)] = math.nan
    bad_staff = b.staff <= 0
    b.reason[bad_staff] = "bad_staff"
    b.staff[bad_staff] = -1
    b.reason[~bad_staff & np.isnan(b.t)] = "bad_time"
    b.t[b.reason != ""] = math.nan
    b.lon[b.reason != ""] = math.nan
    b.lat[b.reason != ""] = math.nan
    b.accuracy[b.reason != ""] = math.nan
    return b


def _parse(items: list, default_staff: int | None) -> _Batch:
    if (uniform := _parse_uniform(items, default_staff)) is not None:
        return uniform
    n = len(items)
    tz = ZoneInfo(settings.TIME_ZONE)
    b = _Batch(
        np.full(n, -1, dtype=np.int64), np.full(n, math.nan), np.full(n, math.nan), np.full(n, math.nan),
        np.full(n, math.nan), np.ones(n, dtype=bool), np.full(n, "", dtype=object),
    )  # fmt: skip
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            b.reason[i] = "bad_item"
            continue
        staff = item.get("staff", default_staff)
        if isinstance(staff, str) and staff.strip().isdigit():
            staff = int(staff)
        if not isinstance(staff, int) or isinstance(staff, bool) or not 0 < staff < 2**63:
            b.reason[i] = "bad_staff"
            continue
        b.staff[i] = staff
        t = _epoch(item.get("t", item.get("time")), tz)
        if math.isnan(t):
            b.reason[i] = "bad_time"
            continue
        lon, lat = _float(item.get("lon")), _float(item.get("lat"))
        if lon is None or lat is None:
            b.reason[i] = "bad_coordinates"
            continue
        b.t[i], b.lon[i], b.lat[i] = t, lon, lat
        accuracy = _float(item.get("accuracy"))
        if accuracy is not None:
            b.accuracy[i] = accuracy
        if item.get("valid") is False:
            b.valid[i] = False
    return b


def _to_wgs84(b: _Batch, crs: str) -> None:
    """Convert the parsed, finite, in-range coordinates (the others are judged by the cleaner)."""
    ok = (b.reason == "") & np.isfinite(b.lon) & np.isfinite(b.lat)
    ok &= (np.abs(b.lon) <= 180) & (np.abs(b.lat) <= 90) & ~((b.lon == 0) & (b.lat == 0))
    if crs != "wgs84" and ok.any():
        x, y = crs_mod.to_wgs84(b.lon[ok], b.lat[ok], crs)
        b.lon[ok], b.lat[ok] = x, y


# ------------------------------------------------------------------ who may post for whom


def _postable(principal: Principal, staff_ids: set[int]) -> dict[int, str]:
    """Status of each person the caller may post positions for: themself (a staff member's own
    account), or anyone in the jurisdiction for an API key or a holder of ``staff:manage``."""
    qs = GridStaff.objects.filter(pk__in=staff_ids)
    if principal.key_prefix or "staff:manage" in principal.scopes:
        qs = scope_queryset(qs, principal.jurisdiction)
    elif principal.user_id is not None:
        qs = qs.filter(user_id=principal.user_id)
    else:
        qs = qs.none()
    return dict(qs.values_list("pk", "status"))


def own_staff_id(principal: Principal) -> int | None:
    if principal.user_id is None:
        return None
    return GridStaff.objects.filter(user_id=principal.user_id).values_list("pk", flat=True).first()


# ------------------------------------------------------------------ storing


_SAVEPOINT = "grids_positions_copy"


def _lock_and_read(
    cur, staff_ids: list[int], t0: list[float], t1: list[float], partitions: list[str]
) -> tuple[set[str], dict[int, np.ndarray]]:
    """One round trip for everything a batch needs before it is cleaned: the people's advisory
    locks (in id order: two batches never wait on each other crosswise), which of
    ``partitions`` do not exist, each person's stored fixes from the last one before their
    ``t0`` to the first one after their ``t1`` — rows (t, lon, lat, cum) in time order — and
    the savepoint of the COPY, with the chunk insert trigger told to stand aside.

    The statements travel together (client-side binding) but run one after the other, each
    with its own snapshot (READ COMMITTED): the read sees what a batch we waited for committed.
    """
    cur.execute(
        """
        SELECT (SELECT count(pg_advisory_xact_lock(%(lock)s, s)) FROM unnest(%(s)s::int[]) AS s),
               (SELECT coalesce(array_agg(n), '{}') FROM unnest(%(parts)s::text[]) AS n
                 WHERE to_regclass(n) IS NULL);
        SELECT v.s, q.* FROM unnest(%(s)s::bigint[], %(t0)s::float8[], %(t1)s::float8[]) AS v(s, t0, t1)
        CROSS JOIN LATERAL (
          SELECT extract(epoch FROM recorded_at)::float8, ST_X(geom), ST_Y(geom), cum_m FROM (
            (SELECT recorded_at, geom, cum_m FROM grids_position
              WHERE staff_id = v.s AND recorded_at < to_timestamp(v.t0)
              ORDER BY recorded_at DESC LIMIT 1)
            UNION ALL
            (SELECT recorded_at, geom, cum_m FROM grids_position
              WHERE staff_id = v.s
                AND recorded_at >= to_timestamp(v.t0) AND recorded_at <= to_timestamp(v.t1))
            UNION ALL
            (SELECT recorded_at, geom, cum_m FROM grids_position
              WHERE staff_id = v.s AND recorded_at > to_timestamp(v.t1)
              ORDER BY recorded_at LIMIT 1)
          ) w
        ) q
        ORDER BY 1, 2;
        SAVEPOINT """
        + _SAVEPOINT
        + """;
        SELECT set_config('civgrid.track_chunks_by', 'ingest', true)
        """,
        {"lock": _LOCK_CLASS, "s": staff_ids, "t0": t0, "t1": t1, "parts": partitions},
    )
    missing = set(cur.fetchone()[1])
    cur.nextset()
    rows = np.array(cur.fetchall(), dtype=float).reshape(-1, 5)
    while cur.nextset():  # the savepoint and the setting: nothing to read
        pass
    found = {}
    if len(rows):
        cuts = np.flatnonzero(np.diff(rows[:, 0])) + 1
        found = {int(part[0, 0]): part[:, 1:] for part in np.split(rows, cuts)}
    return missing, {s: found.get(s, np.zeros((0, 4))) for s in staff_ids}


def _months(first: float, last: float) -> list[dt.date]:
    """Every local month from ``first``'s to ``last``'s (epoch seconds)."""
    month = month_of(dt.datetime.fromtimestamp(first, tz=dt.UTC))
    end = month_of(dt.datetime.fromtimestamp(last, tz=dt.UTC))
    months = []
    while month <= end:
        months.append(month)
        month = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return months


@dataclass
class _Rows:
    """The fixes to store, gathered per person as arrays and joined once (:meth:`join`)."""

    parts: list = field(default_factory=list)
    newest: dict[int, float] = field(default_factory=dict)  # each person's newest time
    staff: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lon: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lat: np.ndarray = field(default_factory=lambda: np.zeros(0))
    accuracy: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cum: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def add(self, staff_id: int, t, lon, lat, accuracy, cum) -> None:
        self.parts.append((np.full(len(t), staff_id, dtype=np.int64), t, lon, lat, accuracy, cum))
        self.newest[staff_id] = float(t.max())

    def join(self) -> None:
        if self.parts:
            columns = [np.concatenate(c) for c in zip(*self.parts, strict=True)]
            self.staff, self.t, self.lon, self.lat, self.accuracy, self.cum = columns


def _plan_staff(
    staff_id: int, idx: np.ndarray, stored: np.ndarray, b: _Batch, now: float, rules, rows: _Rows
) -> list:
    """Clean one person's fixes against their stored ones, compute their running distance;
    returns the cum_m updates of stored fixes [(t, cum) …] and the shift for the later ones as
    ("shift", after_t, delta)."""
    t0, t1 = float(b.t[idx].min()), float(b.t[idx].max())
    reason, judged_t, judged_steps = clean_fixes_steps(
        b.t[idx], b.lon[idx], b.lat[idx], now=now, accuracy=b.accuracy[idx], valid=b.valid[idx],
        stored_t=stored[:, 0], stored_lon=stored[:, 1], stored_lat=stored[:, 2], rules=rules,
    )  # fmt: skip
    b.reason[idx] = reason
    ok = idx[reason == ""]
    if not len(ok):
        return []
    anchor = stored[stored[:, 0] < t0]
    window = stored[(stored[:, 0] >= t0) & (stored[:, 0] <= t1)]
    after = stored[stored[:, 0] > t1]
    m_t = np.concatenate([anchor[:, 0], window[:, 0], b.t[ok]])
    m_lon = np.concatenate([anchor[:, 1], window[:, 1], b.lon[ok]])
    m_lat = np.concatenate([anchor[:, 2], window[:, 2], b.lat[ok]])
    is_new = np.concatenate([np.zeros(len(anchor) + len(window), dtype=bool), np.ones(len(ok), dtype=bool)])
    order = np.argsort(m_t, kind="stable")
    m_t, m_lon, m_lat, is_new = m_t[order], m_lon[order], m_lat[order], is_new[order]
    start_m = float(anchor[0, 3]) if len(anchor) else 0.0
    if np.array_equal(judged_t[: len(m_t)], m_t):  # the cleaner measured these steps already
        cum = accumulate(judged_steps[: len(m_t) - 1], start_m, len(m_t))
    else:  # a fix it judged was turned away
        cum = running_distance(m_lon, m_lat, start_m)
    new_pos = np.flatnonzero(is_new)
    new_order = ok[np.argsort(b.t[ok], kind="stable")]
    rows.add(staff_id, m_t[new_pos], m_lon[new_pos], m_lat[new_pos], b.accuracy[new_order], cum[new_pos])
    changes: list = []
    old_window = dict(zip(window[:, 0].tolist(), window[:, 3].tolist(), strict=True))
    for i in np.flatnonzero(~is_new):
        old = old_window.get(float(m_t[i]))
        if old is not None and abs(old - cum[i]) > 1e-6:
            changes.append((float(m_t[i]), float(cum[i])))
    if len(after):
        nxt = running_distance(
            np.array([m_lon[-1], after[0, 1]]), np.array([m_lat[-1], after[0, 2]]), cum[-1]
        )
        delta = float(nxt[1] - after[0, 3])
        if abs(delta) > 1e-6:
            changes.append(("shift", t1, delta))
    return changes


def _locate(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grid code and region code ('' where none) of every fix, as object arrays."""
    index, best = locate_points_raw(lon, lat)
    hit = best >= 0
    if not hit.any():
        none = np.full(len(best), "", dtype=object)
        return none, none
    part = np.where(hit, best, 0)
    is_grid = hit & index.is_grid[part]
    code = index.code[part]
    grid_codes = np.where(is_grid, code, "").astype(object)
    region_codes = np.where(hit, np.where(is_grid, index.region_code[part], code), "").astype(object)
    return grid_codes, region_codes


_COPY_COLUMNS = "staff_id, recorded_at, geom, accuracy_m, cum_m, grid_code, region_code"
_PG_EPOCH = 946_684_800.0  # 2000-01-01 UTC, where PostgreSQL's binary timestamps count from
_EWKB_POINT = 0x20000001  # EWKB type: point with an SRID


def _copy_binary(rows: _Rows) -> bytes:
    """The rows in PostgreSQL's binary COPY format, built column-wise with numpy.

    Fixed-width fields are structured-array columns; the variable ones (the two codes, and a
    missing accuracy, which is a NULL) split the rows into a few groups of equal layout —
    COPY takes rows in any order. ``recorded_at`` is microseconds since 2000 rounded as
    ``to_timestamp`` rounds; ``geom`` is EWKB with its SRID (what ``geometry_recv`` reads).
    """
    staff, t, lon, lat, accuracy, cum = rows.staff, rows.t, rows.lon, rows.lat, rows.accuracy, rows.cum
    grid_codes, region_codes = _locate(lon, lat)
    grid_len = np.fromiter(map(len, grid_codes), dtype=np.int64, count=len(grid_codes))
    region_len = np.fromiter(map(len, region_codes), dtype=np.int64, count=len(region_codes))
    has_acc = ~np.isnan(accuracy)
    micros = np.rint((t - _PG_EPOCH) * 1e6).astype(np.int64)
    parts = [b"PGCOPY\n\xff\r\n\x00" + np.array([0, 0], dtype=">i4").tobytes()]
    layout = (grid_len * 1000 + region_len) * 2 + has_acc  # one integer per row layout
    for key in np.unique(layout).tolist():
        g_len, r_len, acc = key // 2000, key // 2 % 1000, key % 2
        sel = np.flatnonzero(layout == key)
        fields = [
            ("n", ">i2"), ("l_staff", ">i4"), ("staff", ">i8"), ("l_t", ">i4"), ("t", ">i8"),
            ("l_geom", ">i4"), ("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8"),
            ("l_acc", ">i4"), *([("acc", ">f8")] if acc else []), ("l_cum", ">i4"), ("cum", ">f8"),
            ("l_grid", ">i4"), *([("grid", f"S{g_len}")] if g_len else []),
            ("l_region", ">i4"), *([("region", f"S{r_len}")] if r_len else []),
        ]  # fmt: skip
        out = np.zeros(len(sel), dtype=np.dtype(fields, align=False))
        out["n"], out["l_staff"], out["l_t"], out["l_geom"], out["l_cum"] = 7, 8, 8, 25, 8
        out["staff"], out["t"], out["cum"] = staff[sel], micros[sel], cum[sel]
        out["order"], out["type"], out["srid"], out["x"], out["y"] = 1, _EWKB_POINT, 4326, lon[sel], lat[sel]
        out["l_acc"] = 8 if acc else -1
        if acc:
            out["acc"] = accuracy[sel]
        out["l_grid"], out["l_region"] = g_len, r_len
        if g_len:
            out["grid"] = grid_codes[sel].astype(f"S{g_len}")
        if r_len:
            out["region"] = region_codes[sel].astype(f"S{r_len}")
        parts.append(out.tobytes())
    parts.append(np.array([-1], dtype=">i2").tobytes())
    return b"".join(parts)


_CHUNK_S = 900  # the 15-minute buckets of grids_track_chunk (migration 0004)


_LAST_POSITION = (
    "UPDATE grids_gridstaff g SET last_position_at = GREATEST(g.last_position_at, to_timestamp(v.t)) "
    "FROM unnest(%s::bigint[], %s::float8[]) AS v(id, t) WHERE g.id = v.id"
)


def _chunk_add(cur, rows: _Rows) -> None:
    """Pack the stored rows per (person, 15-minute bucket) as the chunk table holds them
    (t, lon, lat, cum as big-endian doubles, time order) and hand them to
    ``grids_track_chunk_add``, which appends them or rebuilds a bucket they land inside —
    in the same statement as the people's ``last_position_at`` and the end of the insert
    trigger's standing aside (one round trip)."""
    order = np.lexsort((rows.t, rows.staff))
    staff, t = rows.staff[order], rows.t[order]
    packed = np.column_stack([t, rows.lon[order], rows.lat[order], rows.cum[order]]).astype(">f8")
    bucket = np.floor_divide(t, _CHUNK_S) * _CHUNK_S
    starts = np.flatnonzero(np.r_[True, (np.diff(staff) != 0) | (np.diff(bucket) != 0)])
    ends = np.r_[starts[1:], len(t)]
    data = packed.tobytes()
    moment = dt.datetime.fromtimestamp
    # server-side binding, so the packed bytes travel as binary bytea (not as hex text)
    with psycopg.Cursor(cur.cursor.connection) as bound:
        bound.execute(
            f"WITH seen AS ({_LAST_POSITION} RETURNING 1) "
            "SELECT grids_track_chunk_add(%s::bigint[], %s::timestamptz[], %s::timestamptz[], "
            "%s::timestamptz[], %s::integer[], %s::bytea[]), "
            "set_config('civgrid.track_chunks_by', '', true), (SELECT count(*) FROM seen)",
            [
                list(rows.newest),
                list(rows.newest.values()),
                staff[starts].tolist(),
                [moment(b, dt.UTC) for b in bucket[starts].tolist()],
                [moment(x, dt.UTC) for x in t[starts].tolist()],
                [moment(x, dt.UTC) for x in t[ends - 1].tolist()],
                (ends - starts).tolist(),
                [data[a * 32 : b * 32] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)],
            ],
        )


def _copy_insert(cur, rows: _Rows) -> int:
    """Store the rows with one binary COPY straight into the partitioned table, their packed
    chunks (the insert trigger stands aside for this COPY: we hold the rows already) and the
    people's ``last_position_at``.

    The cleaner has already turned away every fix of these people stored in the batch's time
    window, under their advisory locks, so nothing can conflict — unless a writer that does
    not take the lock got there first. Then the COPY is undone (back to the savepoint
    :func:`_lock_and_read` set) and the rows go through a temp table and
    ``INSERT … ON CONFLICT DO NOTHING``: stored once, whatever; the trigger packs the rows
    that were stored. The savepoint itself goes with the enclosing transaction or savepoint.
    """
    data = _copy_binary(rows)
    raw = cur.cursor  # psycopg 3 cursor under Django's wrapper: COPY
    try:
        with raw.copy(f"COPY grids_position ({_COPY_COLUMNS}) FROM STDIN (FORMAT binary)") as copy:
            copy.write(data)
    except (IntegrityError, psycopg.errors.UniqueViolation):
        pass
    else:
        _chunk_add(cur, rows)
        return len(rows.t)
    cur.execute(
        f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}; SELECT set_config('civgrid.track_chunks_by', '', true); "
        "CREATE TEMP TABLE IF NOT EXISTS _grids_position_in (LIKE grids_position INCLUDING DEFAULTS)"
    )
    with raw.copy(f"COPY _grids_position_in ({_COPY_COLUMNS}) FROM STDIN (FORMAT binary)") as copy:
        copy.write(data)
    cur.execute(
        f"INSERT INTO grids_position ({_COPY_COLUMNS}, received_at) "
        f"SELECT {_COPY_COLUMNS}, now() FROM _grids_position_in ON CONFLICT DO NOTHING"
    )
    inserted = cur.rowcount
    cur.execute(
        f"TRUNCATE _grids_position_in; {_LAST_POSITION}", [list(rows.newest), list(rows.newest.values())]
    )
    return inserted


def _apply_changes(cur, staff_id: int, changes: list) -> None:
    updates = [c for c in changes if c[0] != "shift"]
    if updates:
        cur.execute(
            "UPDATE grids_position p SET cum_m = v.cum FROM unnest(%s::float8[], %s::float8[]) AS v(t, cum) "
            "WHERE p.staff_id = %s AND p.recorded_at = to_timestamp(v.t)",
            [[u[0] for u in updates], [u[1] for u in updates], staff_id],
        )
    for _, after, delta in (c for c in changes if c[0] == "shift"):
        cur.execute(
            "UPDATE grids_position SET cum_m = cum_m + %s "
            "WHERE staff_id = %s AND recorded_at > to_timestamp(%s)",
            [delta, staff_id, after],
        )


def positions_ingest(
    *,
    principal: Principal,
    items: list,
    crs: str = "wgs84",
    now: dt.datetime | None = None,
    default_staff: int | None = None,
    max_items: int | None = None,
) -> IngestResult:
    """Store a batch of fixes ``[{staff, t, lon, lat, accuracy?, valid?}, …]`` in ``crs``.

    ``default_staff`` is the person of items without ``staff`` (a phone posting its own).
    Nothing is written unless the whole batch is processed; bad fixes are reported one by one.
    """
    limit = max_items or settings.CIVGRID["TRACK_BATCH_MAX"]
    if not isinstance(items, list):
        raise InvalidInput('positions 应为数组：[{"staff", "t", "lon", "lat"}, …]')
    if len(items) > limit:
        raise TooLarge(f"一次最多 {limit} 个位置，收到 {len(items)} 个", details={"max": limit})
    now_s = (now or timezone.now()).timestamp()
    b = _parse(items, default_staff)
    known = _postable(principal, set(b.staff[b.reason == ""].tolist()))
    for i in np.flatnonzero(b.reason == ""):
        status = known.get(int(b.staff[i]))
        if status is None:
            b.reason[i] = "forbidden_staff"
        elif status == StaffStatus.LEFT:
            b.reason[i] = "staff_left"
    _to_wgs84(b, crs)
    result = IngestResult()
    rules = clean_rules()
    with transaction.atomic(), connection.cursor() as cur:
        todo = b.reason == ""
        staff_ids = sorted(set(b.staff[todo].tolist()))
        mine = {s: np.flatnonzero(todo & (b.staff == s)) for s in staff_ids}
        # the months any fix may be stored in (the cleaner's age window), checked on the way
        when = b.t[todo]
        when = when[(when >= now_s - rules.max_age_s) & (when <= now_s + rules.future_skew_s)]
        checked = _months(float(when.min()), float(when.max())) if len(when) else []
        missing, stored = _lock_and_read(
            cur,
            staff_ids,
            [float(b.t[i].min()) for i in mine.values()],
            [float(b.t[i].max()) for i in mine.values()],
            [partition_name(m) for m in checked],
        )
        rows, changes = _Rows(), {}
        for staff_id in staff_ids:
            changes[staff_id] = _plan_staff(staff_id, mine[staff_id], stored[staff_id], b, now_s, rules, rows)
        rows.join()
        if not len(rows.t):
            cur.execute("SELECT set_config('civgrid.track_chunks_by', '', true)")
        else:
            months = _months(float(rows.t.min()), float(rows.t.max()))
            if any(m not in checked or partition_name(m) in missing for m in months):
                # made outside the COPY's savepoint: a fallback must not undo them
                cur.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
                positions_partitions_ensure(start=months[0], end=months[-1])
                cur.execute(f"SAVEPOINT {_SAVEPOINT}")
            result.accepted = _copy_insert(cur, rows)
            for staff_id, staff_changes in changes.items():
                _apply_changes(cur, staff_id, staff_changes)
    for i in np.flatnonzero(b.reason != ""):
        code = b.reason[i]
        if code == "duplicate":
            result.duplicates += 1
        message = REASONS.get(code) or PARSE_REASONS.get(code, code)
        result.rejected.append({"index": int(i), "code": code, "message": message})
    return result


# ------------------------------------------------------------------ files (CSV / GPX)

_COLUMNS = {
    "t": ("t", "time", "timestamp", "datetime", "时间", "定位时间"),
    "lon": ("lon", "lng", "longitude", "x", "经度"),
    "lat": ("lat", "latitude", "y", "纬度"),
    "accuracy": ("accuracy", "acc", "精度"),
    "staff": ("staff", "staff_id", "人员", "人员编号"),
}


def _read_gpx(data: bytes) -> list[dict]:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"<"):
        raise InvalidInput("GPX 文件不是 XML", code="invalid_gpx")
    if re.search(rb"<!(DOCTYPE|ENTITY)", data, re.IGNORECASE):
        raise InvalidInput("GPX 文件不能含 DOCTYPE 或实体声明", code="invalid_gpx")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InvalidInput(f"GPX 文件不是有效的 XML：{exc}", code="invalid_gpx") from None
    if not root.tag.endswith("gpx"):
        raise InvalidInput("不是 GPX 文件（根元素应为 gpx）", code="invalid_gpx")
    items = []
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] != "trkpt":
            continue
        time = next((c.text for c in el if c.tag.rsplit("}", 1)[-1] == "time"), None)
        items.append({"t": (time or "").strip(), "lon": el.get("lon"), "lat": el.get("lat")})
    return items


def _read_csv(data: bytes) -> list[dict]:
    text = decode_text(data).lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text))
    header = {(h or "").strip().lower(): h for h in reader.fieldnames or []}
    mapping = {}
    for key, names in _COLUMNS.items():
        found = next((header[n] for n in names if n in header), None)
        if found is not None:
            mapping[key] = found
    if missing := [k for k in ("t", "lon", "lat") if k not in mapping]:
        raise InvalidInput(
            f"CSV 缺少列：{'、'.join(missing)}（时间 t/time/时间，经度 lon/经度，纬度 lat/纬度）",
            code="missing_columns", details={"columns": list(header.values())},
        )  # fmt: skip
    items = []
    for row in reader:
        item = {key: row.get(column) for key, column in mapping.items()}
        if "staff" in item and not (item["staff"] or "").strip():
            del item["staff"]
        items.append(item)
    return items


def track_file_read(*, name: str, data: bytes) -> list[dict]:
    """Fixes of an uploaded file: GPX (by name or content) or CSV (UTF-8 or GBK)."""
    lowered = (name or "").lower()
    if lowered.endswith(".gpx") or data[:200].lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return _read_gpx(data)
    if lowered.endswith((".csv", ".txt")) or not lowered:
        return _read_csv(data)
    raise InvalidInput("只支持 CSV 和 GPX 文件", code="unsupported_format", details={"file": name})


def track_upload(
    *, principal: Principal, name: str, data: bytes, staff_id: int | None, crs: str = "wgs84"
) -> IngestResult:
    """An uploaded file, stored as batches in one transaction (all its fixes, or none on error)."""
    items = track_file_read(name=name, data=data)
    limit = settings.CIVGRID["TRACK_UPLOAD_MAX_POINTS"]
    if len(items) > limit:
        raise TooLarge(f"文件最多 {limit} 个位置，收到 {len(items)} 个", details={"max": limit})
    if not items:
        raise InvalidInput("文件中没有位置点", code="empty_file")
    step = settings.CIVGRID["TRACK_BATCH_MAX"]
    result = IngestResult()
    with transaction.atomic():
        for start in range(0, len(items), step):
            part = positions_ingest(
                principal=principal, items=items[start : start + step], crs=crs, default_staff=staff_id
            )
            result.add(part, start)
    return result
