"""Reads of patrol tracks: playback of one person's window, and patrol statistics
(网格巡查统计) per grid and per person for a day, week or month.

Callers pass people and grids already scoped to their jurisdiction (``staff_get``,
``staff_visible``, ``scope_queryset``); coordinates are WGS84 (the API converts).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from gis_core.errors import InvalidInput
from gis_core.ground import utm_zone

from ..models import GridStaff, StaffAssignment, StaffStatus, UnitGrid
from ..tracking.simplify import simplify_track, tolerance_for_zoom
from ..tracking.trips import Stop, Trip, TripRules, split_trips

__all__ = [
    "PERIODS",
    "Playback",
    "grid_stats",
    "period_bounds",
    "position_at",
    "staff_stats",
    "track_fetch",
    "track_playback",
    "trip_rules",
]

PERIODS = ("day", "week", "month")


def trip_rules() -> TripRules:
    cfg = settings.CIVGRID
    return TripRules(
        stop_radius_m=cfg["TRACK_STOP_RADIUS_M"], stop_min_s=cfg["TRACK_STOP_MIN_S"],
        max_gap_s=cfg["TRACK_GAP_S"], min_trip_m=cfg["TRACK_TRIP_MIN_M"], min_trip_s=cfg["TRACK_TRIP_MIN_S"],
    )  # fmt: skip


# ------------------------------------------------------------------ playback


def track_fetch(staff_id: int, start: dt.datetime, end: dt.datetime) -> np.ndarray:
    """The person's fixes in [start, end) as an (n, 4) array of t (epoch s), lon, lat, cum_m.

    Read from the packed chunks (``grids_track_chunk``: one ``bytea`` of big-endian doubles
    per person and 15-minute bucket, kept equal to the positions table by its triggers and
    the ingest), so a day is ~96 short rows, not 86,400: the row-by-row read alone took
    50–400 ms of the 100 ms playback budget. The buckets at the window's edges are cut here.
    """
    connection.ensure_connection()
    # a server-side-binding psycopg cursor on Django's connection: Django's client-side cursor
    # cannot ask for binary results, and hex text would double the bytes and cost the decoding
    with psycopg.Cursor(connection.connection) as cur:
        cur.execute(
            "SELECT data FROM grids_track_chunk WHERE staff_id = %s "
            "AND bucket > %s::timestamptz - interval '15 minutes' AND bucket < %s ORDER BY bucket",
            [staff_id, start, end],
            binary=True,
        )
        raw = b"".join(row[0] for row in cur.fetchall())
    if not raw:
        return np.zeros((0, 4))
    rows = np.frombuffer(raw, dtype=">f8").astype(float).reshape(-1, 4)
    t = rows[:, 0]
    return rows[np.searchsorted(t, start.timestamp()) : np.searchsorted(t, end.timestamp())]


@dataclass(frozen=True)
class Playback:
    t0: float | None  # epoch seconds of the first fix (elapsed time counts from it)
    points: int  # fixes in the window
    tolerance_m: float
    kept: np.ndarray  # indices of the drawn vertices
    t: np.ndarray  # epoch seconds of every fix
    lon: np.ndarray
    lat: np.ndarray
    cum: np.ndarray
    trips: list[Trip]
    stops: list[Stop]

    @property
    def mileage_m(self) -> float:
        return float(self.cum[-1] - self.cum[0]) if self.points else 0.0


def track_playback(
    *, staff: GridStaff, start: dt.datetime, end: dt.datetime, zoom: float | None = None
) -> Playback:
    """A person's window: every fix, its patrols and stops, and the vertices to draw at
    ``zoom`` (1 pixel of tolerance; all of them without a zoom). Patrol and stop ends are
    always drawn, so the line passes through them."""
    rows = track_fetch(staff.pk, start, end)
    t, lon, lat, cum = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    trips, stops = split_trips(t, lon, lat, cum, trip_rules())
    tolerance = tolerance_for_zoom(zoom, float(lat.mean())) if zoom is not None and len(lat) else 0.0
    ends = [i for s in (*trips, *stops) for i in (s.first, s.last)]
    kept = simplify_track(lon, lat, tolerance, keep=np.array(ends, dtype=np.int64))
    return Playback(
        t0=float(t[0]) if len(t) else None, points=len(t), tolerance_m=tolerance, kept=kept,
        t=t, lon=lon, lat=lat, cum=cum, trips=trips, stops=stops,
    )  # fmt: skip


def position_at(playback: Playback, elapsed_s: float) -> tuple[float, float] | None:
    """Where the person was ``elapsed_s`` seconds after the first fix (linear between fixes;
    None outside the track). Playback runs on time, not on vertex numbers."""
    if not playback.points or playback.t0 is None:
        return None
    at = playback.t0 + elapsed_s
    if at < playback.t[0] or at > playback.t[-1]:
        return None
    return float(np.interp(at, playback.t, playback.lon)), float(np.interp(at, playback.t, playback.lat))


# ------------------------------------------------------------------ statistics


def period_bounds(period: str, day: dt.date) -> tuple[dt.datetime, dt.datetime, int]:
    """[start, end) in local time and the number of days of the day/week/month holding ``day``."""
    if period not in PERIODS:
        raise InvalidInput(f"period 应为 {' / '.join(PERIODS)}", details={"period": period})
    if period == "day":
        first, last = day, day + dt.timedelta(days=1)
    elif period == "week":
        first = day - dt.timedelta(days=day.weekday())
        last = first + dt.timedelta(days=7)
    else:
        first = day.replace(day=1)
        last = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    tz = ZoneInfo(settings.TIME_ZONE)
    start = dt.datetime.combine(first, dt.time(), tz)
    end = dt.datetime.combine(last, dt.time(), tz)
    return start, end, (last - first).days


def _per_staff(ids: list[int], start: dt.datetime, end: dt.datetime) -> dict[int, tuple]:
    """staff id → (mileage m, patrol seconds, days online, fixes). Mileage is a subtraction of
    running distances (max − min: cum_m never decreases in time); patrol time adds the
    intervals between fixes no longer than a data gap."""
    if not ids:
        return {}
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT staff_id, max(cum_m) - min(cum_m), coalesce(sum(dt) FILTER (WHERE dt <= %(gap)s), 0),
                   count(DISTINCT (recorded_at AT TIME ZONE %(tz)s)::date), count(*)
            FROM (
              SELECT staff_id, recorded_at, cum_m,
                     extract(epoch FROM recorded_at - lag(recorded_at)
                             OVER (PARTITION BY staff_id ORDER BY recorded_at))::float8 AS dt
              FROM grids_position
              WHERE staff_id = ANY(%(ids)s) AND recorded_at >= %(start)s AND recorded_at < %(end)s
            ) s GROUP BY staff_id
            """,
            {"gap": settings.CIVGRID["TRACK_GAP_S"], "tz": settings.TIME_ZONE, "ids": ids,
             "start": start, "end": end},
        )  # fmt: skip
        return {r[0]: r[1:] for r in cur.fetchall()}


def _online(last: dt.datetime | None, now: dt.datetime) -> bool:
    return last is not None and last >= now - dt.timedelta(minutes=settings.CIVGRID["TRACK_ONLINE_MINUTES"])


def staff_stats(*, staff: QuerySet[GridStaff], period: str, day: dt.date, now: dt.datetime) -> list[dict]:
    """One row per person: online now, days online and online rate, mileage and patrol time
    against the targets (daily targets × days of the period)."""
    start, end, days = period_bounds(period, day)
    people = list(staff.order_by("region_code", "name", "pk"))
    if staff._prefetch_related_lookups:  # the caller's (scoped) assignments
        grids = {p.pk: [a.grid_code for a in p.assignments.all()] for p in people}
    else:  # one query of plain values for everybody's grids: no model per assignment
        grids = {p.pk: [] for p in people}
        for staff_id, code in StaffAssignment.objects.filter(staff_id__in=list(grids)).values_list(
            "staff_id", "grid_code"
        ):
            grids[staff_id].append(code)
    figures = _per_staff([p.pk for p in people], start, end)
    cfg = settings.CIVGRID
    mileage_target = cfg["TRACK_TARGET_DAILY_MILEAGE_M"] * days
    duration_target = cfg["TRACK_TARGET_DAILY_DURATION_S"] * days
    rows = []
    for p in people:
        mileage, duration, online_days, fixes = figures.get(p.pk, (0.0, 0.0, 0, 0))
        rows.append({
            "staff": p.pk, "name": p.name, "role": p.role, "role_name": p.get_role_display(),
            "status": p.status, "region_code": p.region_code,
            "grids": ",".join(grids[p.pk]),
            "online": _online(p.last_position_at, now), "last_position_at": p.last_position_at,
            "online_days": online_days, "days": days, "online_rate": round(online_days / days, 4),
            "positions": fixes, "mileage_m": round(mileage, 1), "duration_s": round(duration),
            "mileage_target_m": mileage_target, "duration_target_s": duration_target,
            "mileage_met": mileage >= mileage_target, "duration_met": duration >= duration_target,
        })  # fmt: skip
    return rows


def _per_grid(codes: list[str], start: dt.datetime, end: dt.datetime) -> dict[str, tuple]:
    """grid → (fixes inside, mileage m and patrol seconds between consecutive fixes of one person
    both inside the grid and no more than a data gap apart)."""
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH w AS (
              SELECT staff_id, recorded_at, grid_code, cum_m FROM grids_position
              WHERE recorded_at >= %(start)s AND recorded_at < %(end)s AND staff_id IN (
                SELECT DISTINCT staff_id FROM grids_position
                WHERE recorded_at >= %(start)s AND recorded_at < %(end)s AND grid_code = ANY(%(codes)s))
            ), s AS (
              SELECT grid_code, cum_m - lag(cum_m) OVER k AS dm, lag(grid_code) OVER k AS prev_grid,
                     extract(epoch FROM recorded_at - lag(recorded_at) OVER k)::float8 AS dt
              FROM w WINDOW k AS (PARTITION BY staff_id ORDER BY recorded_at)
            )
            SELECT grid_code, count(*),
                   coalesce(sum(dm) FILTER (WHERE prev_grid = grid_code AND dt <= %(gap)s), 0),
                   coalesce(sum(dt) FILTER (WHERE prev_grid = grid_code AND dt <= %(gap)s), 0)
            FROM s WHERE grid_code = ANY(%(codes)s) GROUP BY grid_code
            """,
            {"start": start, "end": end, "codes": codes, "gap": settings.CIVGRID["TRACK_GAP_S"]},
        )
        return {r[0]: r[1:] for r in cur.fetchall()}


def grid_coverage(codes: list[str], start: dt.datetime, end: dt.datetime) -> dict[str, float]:
    """Share of each grid's area within ``TRACK_COVERAGE_DISTANCE_M`` of the period's tracks.

    Computed in PostGIS in the UTM zone of the grids (a local metric projection: scale error
    under 0.04 %, and the share is a ratio of two areas in the same projection). Tracks are cut
    at data gaps and into pieces of 200 fixes (so a day-long line is clipped locally, not per
    grid it crosses), simplified by a fifth of the distance (GPS zigzags make buffering slow;
    the covered band moves by at most that much at its edge), buffered, clipped to each grid
    and unioned there.
    """
    if not codes:
        return {}
    grids = UnitGrid.objects.filter(code__in=codes)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT ST_X(c), ST_Y(c), ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT ST_Centroid(ST_Extent(geom)::geometry) c, ST_Extent(geom)::geometry e "
            "FROM grids_unitgrid WHERE code = ANY(%s)) q",
            [codes],
        )
        row = cur.fetchone()
        if row is None or row[0] is None:
            return {}
        srid = utm_zone(row[0], row[1])
        distance = settings.CIVGRID["TRACK_COVERAGE_DISTANCE_M"]
        margin = distance / 90_000.0  # degrees, a little more than the distance anywhere below 60°
        cur.execute(
            """
            WITH p AS (
              SELECT staff_id, recorded_at, geom,
                     CASE WHEN lag(recorded_at) OVER k IS NULL
                            OR recorded_at - lag(recorded_at) OVER k > make_interval(secs => %(gap)s)
                          THEN 1 ELSE 0 END AS starts
              FROM grids_position
              WHERE recorded_at >= %(start)s AND recorded_at < %(end)s
                AND ST_X(geom) BETWEEN %(x0)s AND %(x1)s AND ST_Y(geom) BETWEEN %(y0)s AND %(y1)s
              WINDOW k AS (PARTITION BY staff_id ORDER BY recorded_at)
            ), r AS (
              SELECT staff_id, recorded_at, geom,
                     sum(starts) OVER (PARTITION BY staff_id ORDER BY recorded_at) AS run,
                     row_number() OVER (PARTITION BY staff_id ORDER BY recorded_at) / 200 AS piece
              FROM p
            ), lines AS (
              SELECT ST_Buffer(
                       ST_Simplify(ST_Transform(
                         CASE WHEN count(*) > 1 THEN ST_MakeLine(geom ORDER BY recorded_at)
                              ELSE ST_Collect(geom) END,
                         %(srid)s), %(simplify)s),
                       %(d)s, 'quad_segs=4') AS g
              FROM r GROUP BY staff_id, run, piece
            ), pieces AS (  -- with a 4326 box, so the grids' GiST index finds the candidates
              SELECT g, ST_Transform(ST_Envelope(g), 4326) AS box FROM lines
            ), pairs AS (
              SELECT u.code, ST_Transform(u.geom, %(srid)s) AS grid, pieces.g
              FROM pieces JOIN grids_unitgrid u ON u.geom && pieces.box
              WHERE u.code = ANY(%(codes)s)
            )
            SELECT code, ST_Area(ST_Union(ST_Intersection(grid, g))) / NULLIF(ST_Area(grid), 0)
            FROM pairs WHERE ST_Intersects(grid, g)
            GROUP BY code, grid
            """,
            {"start": start, "end": end, "gap": settings.CIVGRID["TRACK_GAP_S"], "srid": srid,
             "d": distance, "simplify": distance / 5, "codes": codes, "x0": row[2] - margin,
             "y0": row[3] - margin, "x1": row[4] + margin, "y1": row[5] + margin},
        )  # fmt: skip
        found = {code: min(1.0, float(share or 0.0)) for code, share in cur.fetchall()}
    return {code: found.get(code, 0.0) for code in grids.values_list("code", flat=True)}


def grid_stats(
    *, grids: QuerySet[UnitGrid], period: str, day: dt.date, now: dt.datetime, coverage: bool = True
) -> list[dict]:
    """One row per grid: its team (active staff), online now and online rate, patrolled or not,
    mileage and patrol time inside the grid against the grid targets, and coverage."""
    start, end, days = period_bounds(period, day)
    rows = list(grids.order_by("code").values("code", "name", "community_code"))
    codes = [r["code"] for r in rows]
    team: dict[str, list[int]] = {c: [] for c in codes}
    last: dict[int, dt.datetime | None] = {}
    for grid_code, staff_id, staff_last in StaffAssignment.objects.filter(
        grid_code__in=codes, staff__status=StaffStatus.ACTIVE
    ).values_list("grid_code", "staff_id", "staff__last_position_at"):
        team[grid_code].append(staff_id)
        last[staff_id] = staff_last
    people = _per_staff(sorted(last), start, end)
    inside = _per_grid(codes, start, end) if codes else {}
    covered = grid_coverage(codes, start, end) if coverage else {}
    cfg = settings.CIVGRID
    mileage_target = cfg["TRACK_TARGET_GRID_DAILY_MILEAGE_M"] * days
    duration_target = cfg["TRACK_TARGET_GRID_DAILY_DURATION_S"] * days
    for row in rows:
        members = team[row["code"]]
        online_days = sum(people.get(s, (0, 0, 0, 0))[2] for s in members)
        fixes, mileage, duration = inside.get(row["code"], (0, 0.0, 0.0))
        row.update({
            "staff": len(members), "online_now": sum(_online(last[s], now) for s in members),
            "online_rate": round(online_days / (len(members) * days), 4) if members else None,
            "patrolled": fixes > 0, "positions": fixes, "mileage_m": round(mileage, 1),
            "duration_s": round(duration), "mileage_target_m": mileage_target,
            "duration_target_s": duration_target, "mileage_met": mileage >= mileage_target,
            "duration_met": duration >= duration_target,
            "coverage": round(covered.get(row["code"], 0.0), 4) if coverage else None,
        })  # fmt: skip
    return rows
