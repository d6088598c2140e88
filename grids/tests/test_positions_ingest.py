"""grids.services.tracks, the fast paths of ingest: numpy parsing of uniform batches (same
answers as the per-item parser), the binary COPY (every stored column as the SQL path would
have written it) and its fallback when a conflicting row appears that the cleaner did not see."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from accounts.permissions import SCOPES, Principal
from accounts.scoping import Jurisdiction
from gis_core.selectors.locate import locate_points
from grids.models import GridStaff, UnitGrid
from grids.selectors.tracks import track_fetch
from grids.services import tracks as tracks_service
from grids.services.staff import StaffInput, staff_create
from grids.services.tracks import _parse, positions_ingest

A = Jurisdiction(region_code="510502000000")
KEY_A = Principal("key:testa", frozenset(SCOPES), A, key_prefix="testa")


@pytest.fixture
def grid(db) -> UnitGrid:
    return UnitGrid.objects.filter(code__startswith="510502").order_by("code").first()


@pytest.fixture
def staff(grid) -> GridStaff:
    return staff_create(
        data=StaffInput(name="巡查员", role="full_time", grids=[(grid.code, "")]), jurisdiction=A
    )


def _walk(grid: UnitGrid, n: int, start: float, staff_id: int) -> list[dict]:
    lat = grid.geom.point_on_surface.y
    m_lon = 1 / (111_320.0 * math.cos(math.radians(lat)))
    lon0 = grid.geom.extent[0]
    return [
        {"staff": staff_id, "t": start + i * 10.0, "lon": lon0 + (5 + i * 8.0) * m_lon, "lat": lat}
        for i in range(n)
    ]


def test_uniform_batches_parse_as_the_per_item_parser_does():
    now = 1_763_600_000.0
    items = [
        {"staff": 7, "t": now, "lon": 105.4, "lat": 28.9},
        {"staff": 7, "t": int(now * 1000) + 1234, "lon": 105.4, "lat": 28.9, "accuracy": 5},  # ms
        {"staff": 7, "t": now + 0.00049, "lon": 105.4, "lat": 28.9, "accuracy": None},
        {"staff": 7, "t": now + 2.0005, "lon": math.nan, "lat": 28.9},  # half a ms: to even
        {"staff": 0, "t": now, "lon": 105.4, "lat": 28.9},
        {"staff": -3, "t": now, "lon": 105.4, "lat": 28.9},
        {"staff": 8, "t": math.nan, "lon": 105.4, "lat": 28.9},
        {"staff": 8, "t": math.inf, "lon": 105.4, "lat": 28.9},
        {"staff": 8, "t": now, "lon": 181, "lat": -91, "accuracy": 900.5},
        {"time": now + 5, "lon": 105.4, "lat": 28.9},  # the default person
    ]
    fast = _parse(items, 9)
    slow = _parse([*items, "not an object"], 9)  # one odd item: the per-item parser

    assert fast is not None and len(fast.t) == len(items)
    for name in ("staff", "t", "lon", "lat", "accuracy", "valid"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name)[:-1], equal_nan=True), name
    assert fast.reason.tolist() == slow.reason[:-1].tolist()
    assert fast.reason.tolist()[4:8] == ["bad_staff", "bad_staff", "bad_time", "bad_time"]
    assert fast.t[1] == pytest.approx(now + 1.234) and fast.t[2] == now


def test_the_binary_copy_stores_every_column_as_written(staff, grid):
    now = timezone.now().timestamp()
    items = _walk(grid, 4, round(now) - 7200.0, staff.pk)
    items[0]["t"] += 0.123  # milliseconds are kept
    items[1]["accuracy"] = 6.5
    # an hour later, far outside every grid of the demo city: no grid code
    items[3] = {**items[3], "lon": items[3]["lon"] + 0.5, "t": items[3]["t"] + 3600}

    result = positions_ingest(principal=KEY_A, items=items, now=dt.datetime.fromtimestamp(now, dt.UTC))

    assert (result.accepted, result.rejected) == (4, [])
    with connection.cursor() as cur:
        cur.execute(
            "SELECT recorded_at, extract(epoch FROM recorded_at)::float8, ST_SRID(geom), ST_X(geom), "
            "ST_Y(geom), accuracy_m, grid_code, region_code, received_at = now() FROM grids_position "
            "WHERE staff_id = %s ORDER BY recorded_at",
            [staff.pk],
        )
        rows = cur.fetchall()
    located = locate_points(np.array([i["lon"] for i in items]), np.array([i["lat"] for i in items]))
    for item, row, where in zip(items, rows, located, strict=True):
        recorded_at, epoch, srid, lon, lat, accuracy, grid_code, region_code, received_now = row
        assert epoch == item["t"] and srid == 4326
        assert recorded_at == dt.datetime.fromtimestamp(item["t"], dt.UTC)
        assert (lon, lat) == (item["lon"], item["lat"])
        assert accuracy == item.get("accuracy")
        assert grid_code == (where.grid["code"] if where.grid else "")
        assert region_code == (where.regions[-1]["code"] if where.regions else "")
        assert received_now
    assert rows[0][6] == grid.code and rows[3][6] == ""


def test_a_row_the_cleaner_did_not_see_is_not_stored_twice(staff, grid, monkeypatch):
    now = timezone.now().timestamp()
    items = _walk(grid, 5, now - 600, staff.pk)
    assert positions_ingest(principal=KEY_A, items=items[:2]).accepted == 2

    # a writer that bypassed the lock: the cleaner is blind to the two stored fixes
    real = tracks_service._stored_around
    monkeypatch.setattr(
        tracks_service,
        "_stored_around",
        lambda cur, ids, t0, t1: {s: np.zeros((0, 4)) for s in real(cur, ids, t0, t1)},
    )
    result = positions_ingest(principal=KEY_A, items=items)

    assert result.accepted == 3  # the direct COPY failed on the key, the fallback skipped the two
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM grids_position WHERE staff_id = %s", [staff.pk])
        assert cur.fetchone()[0] == 5


# ------------------------------------------------------------------ packed chunks (playback)


def assert_chunks_exact(staff_id: int) -> int:
    """The person's chunks are exactly their positions packed per 15-minute bucket."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT bucket, first_at, last_at, n, data FROM grids_track_chunk "
            "WHERE staff_id = %s ORDER BY bucket",
            [staff_id],
        )
        chunks = cur.fetchall()
        cur.execute(
            "SELECT grids_track_bucket(recorded_at), min(recorded_at), max(recorded_at), count(*), "
            "string_agg(grids_track_pack(recorded_at, geom, cum_m), ''::bytea ORDER BY recorded_at) "
            "FROM grids_position WHERE staff_id = %s GROUP BY 1 ORDER BY 1",
            [staff_id],
        )
        expected = cur.fetchall()
    assert [c[:4] for c in chunks] == [e[:4] for e in expected]
    assert [bytes(c[4]) for c in chunks] == [bytes(e[4]) for e in expected]
    return len(chunks)


def fetch_rows(staff_id: int, start: float, end: float) -> np.ndarray:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT date_part('epoch', recorded_at), ST_X(geom), ST_Y(geom), cum_m FROM grids_position "
            "WHERE staff_id = %s AND recorded_at >= to_timestamp(%s) AND recorded_at < to_timestamp(%s) "
            "ORDER BY recorded_at",
            [staff_id, start, end],
        )
        return np.array(cur.fetchall(), dtype=float).reshape(-1, 4)


def test_chunks_follow_every_write_path(staff, grid, monkeypatch):
    now = timezone.now().timestamp()
    start = (now // 900) * 900 - 6 * 3600 + 7.5  # not on a bucket edge
    walk = _walk(grid, 240, start, staff.pk)  # every 10 s: 40 minutes, 3–4 buckets
    assert positions_ingest(principal=KEY_A, items=walk[:100]).accepted == 100
    assert positions_ingest(principal=KEY_A, items=walk[100:200]).accepted == 100  # appended
    assert assert_chunks_exact(staff.pk) >= 3
    # a late batch inside stored buckets (and shifting every later running distance)
    late = [{**f, "t": f["t"] + 5, "lat": f["lat"] + 2e-5} for f in walk[50:60]]
    assert positions_ingest(principal=KEY_A, items=late).accepted == 10
    assert_chunks_exact(staff.pk)
    # the fallback path (a row the cleaner did not see), then the trigger for other writers
    real = tracks_service._stored_around
    monkeypatch.setattr(
        tracks_service,
        "_stored_around",
        lambda cur, ids, t0, t1: {s: np.zeros((0, 4)) for s in real(cur, ids, t0, t1)},
    )
    assert positions_ingest(principal=KEY_A, items=walk[190:220]).accepted == 20
    monkeypatch.undo()
    assert_chunks_exact(staff.pk)
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO grids_position (staff_id, recorded_at, geom, cum_m) "
            "SELECT %s, to_timestamp(%s + i), ST_SetSRID(ST_MakePoint(105.44, 28.87), 4326), 1e6 + i "
            "FROM generate_series(0, 30) i",
            [staff.pk, walk[-1]["t"] + 600],
        )
        assert_chunks_exact(staff.pk)
        cur.execute(
            "UPDATE grids_position SET cum_m = cum_m + 1 "
            "WHERE staff_id = %s AND recorded_at > to_timestamp(%s)",
            [staff.pk, walk[120]["t"]],
        )
        assert_chunks_exact(staff.pk)
        cur.execute(
            "DELETE FROM grids_position WHERE staff_id = %s AND recorded_at > to_timestamp(%s)",
            [staff.pk, walk[150]["t"]],
        )
        assert_chunks_exact(staff.pk)
        cur.execute("DELETE FROM grids_position WHERE staff_id = %s", [staff.pk])
    assert assert_chunks_exact(staff.pk) == 0


def test_fetch_from_chunks_equals_the_rows_for_any_window(staff, grid):
    now = timezone.now().timestamp()
    start = (now // 900) * 900 - 5 * 3600 + 3.25
    assert positions_ingest(principal=KEY_A, items=_walk(grid, 300, start, staff.pk)).accepted == 300
    for a, b in [(start - 100, start + 3000), (start + 450, start + 1351), (start + 900.25, start + 905),
                 (start + 10, start + 10), (start + 5000, start + 9000)]:  # fmt: skip
        window = dt.datetime.fromtimestamp(a, dt.UTC), dt.datetime.fromtimestamp(b, dt.UTC)
        got = track_fetch(staff.pk, *window)
        assert np.array_equal(got, fetch_rows(staff.pk, a, b)), (a, b)
