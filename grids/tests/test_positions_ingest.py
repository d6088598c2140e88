"""grids.services.tracks, the fast paths of ingest: numpy parsing of uniform batches (same
answers as the per-item parser), the binary COPY (every stored column as the SQL path would
have written it) and its fallback when a conflicting row appears that the cleaner did not see."""

from __future__ import annotations

import datetime as dt
import math
import threading
import time

import numpy as np
import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from accounts.permissions import SCOPES, Principal
from accounts.scoping import Jurisdiction
from gis_core.selectors.locate import locate_points
from grids.models import GridStaff, UnitGrid
from grids.selectors.tracks import track_fetch
from grids.services import tracks as tracks_service
from grids.services.partitions import partition_name, positions_partitions
from grids.services.staff import StaffInput, staff_create
from grids.services.tracks import _parse, positions_ingest
from grids.tracking.trips import running_distance

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


@pytest.mark.parametrize(
    "odd",
    [
        None,  # every item has the five keys: read by itemgetter
        {"staff": 7, "time": 1_763_600_009.0, "lon": 105.4, "lat": 28.9, "accuracy": 3},  # "time"
        {"staff": 7, "t": 1_763_600_009.0, "lon": 105.4, "lat": 28.9, "valid": False},  # "valid"
        {"staff": 7, "t": 1_763_600_009.0, "lon": 105.4, "lat": 28.9, "accuracy": "5"},  # a text
    ],
)
def test_five_key_batches_parse_as_the_per_item_parser_does(odd):
    now = 1_763_600_000.0
    items = [
        {"staff": 7, "t": now + i, "lon": 105.4 + i * 1e-4, "lat": 28.9, "accuracy": [5, None, 9.5][i % 3]}
        for i in range(6)
    ]
    items[2]["t"] = math.nan
    items[3]["staff"] = 0
    if odd is not None:
        items.append(odd)
    fast = _parse(items, None)
    slow = _parse([*items, "not an object"], None)

    for name in ("staff", "t", "lon", "lat", "accuracy", "valid"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name)[:-1], equal_nan=True), name
    assert fast.reason.tolist() == slow.reason[:-1].tolist()
    assert fast.reason.tolist()[2:4] == ["bad_time", "bad_staff"]


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


def blind(real):
    """``_lock_and_read`` as a writer that bypassed the lock sees it: no stored fixes."""

    def read(cur, ids, t0, t1, partitions):
        missing, stored = real(cur, ids, t0, t1, partitions)
        return missing, {s: np.zeros((0, 4)) for s in stored}

    return read


def test_a_row_the_cleaner_did_not_see_is_not_stored_twice(staff, grid, monkeypatch):
    now = timezone.now().timestamp()
    items = _walk(grid, 5, now - 600, staff.pk)
    assert positions_ingest(principal=KEY_A, items=items[:2]).accepted == 2

    # a writer that bypassed the lock: the cleaner is blind to the two stored fixes
    monkeypatch.setattr(tracks_service, "_lock_and_read", blind(tracks_service._lock_and_read))
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
    monkeypatch.setattr(tracks_service, "_lock_and_read", blind(tracks_service._lock_and_read))
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


def test_a_month_without_a_partition_gets_one_before_its_rows(staff, grid, monkeypatch):
    now = dt.datetime(2031, 6, 15, 4, 0, tzinfo=dt.UTC)  # no partition for May or June 2031
    items = _walk(grid, 8, now.timestamp() - 600, staff.pk)
    too_old = {**items[0], "t": now.timestamp() - 40 * 86_400}  # May: rejected, no partition

    result = positions_ingest(principal=KEY_A, items=[*items[:5], too_old], now=now)

    assert result.accepted == 5 and [r["code"] for r in result.rejected] == ["too_old"]
    months = positions_partitions()
    assert dt.date(2031, 6, 1) in months and dt.date(2031, 5, 1) not in months

    def counts() -> tuple[int, int]:
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT count(*) FROM {partition_name(dt.date(2031, 6, 1))} WHERE staff_id = %s", [staff.pk]
            )
            in_month = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM grids_position_default WHERE staff_id = %s", [staff.pk])
            return in_month, cur.fetchone()[0]

    assert counts() == (5, 0)
    assert_chunks_exact(staff.pk)
    staff.refresh_from_db()
    assert staff.last_position_at.timestamp() == items[4]["t"]
    # the fallback (a writer that bypassed the lock) keeps the chunks and the last position too
    monkeypatch.setattr(tracks_service, "_lock_and_read", blind(tracks_service._lock_and_read))
    assert positions_ingest(principal=KEY_A, items=items, now=now).accepted == 3
    assert counts() == (8, 0)
    assert_chunks_exact(staff.pk)
    staff.refresh_from_db()
    assert staff.last_position_at.timestamp() == items[-1]["t"]
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('civgrid.track_chunks_by', true)")
        assert cur.fetchone()[0] == ""  # other writers of this transaction are packed again


def test_the_running_distance_is_the_same_whichever_steps_it_reuses(staff, grid):
    """cum_m comes from the cleaner's steps when it judged exactly the stored fixes, and is
    measured again when it turned a fix away (a jump) or a stored fix lies after the batch."""
    now = timezone.now().timestamp()
    walk = _walk(grid, 60, now - 3600, staff.pk)
    assert positions_ingest(principal=KEY_A, items=walk[:20]).accepted == 20  # nothing stored before
    assert positions_ingest(principal=KEY_A, items=walk[40:]).accepted == 20  # an anchor before
    jump = {**walk[25], "t": walk[25]["t"] + 1, "lon": walk[25]["lon"] + 0.05}  # 5 km in a second
    late = positions_ingest(principal=KEY_A, items=[*walk[20:40], jump])  # between stored fixes
    assert late.accepted == 20 and [r["code"] for r in late.rejected] == ["speed"]
    with connection.cursor() as cur:
        cur.execute(
            "SELECT ST_X(geom), ST_Y(geom), cum_m FROM grids_position WHERE staff_id = %s "
            "ORDER BY recorded_at",
            [staff.pk],
        )
        rows = np.array(cur.fetchall(), dtype=float)
    expected = running_distance(rows[:, 0], rows[:, 1])
    assert len(rows) == 60 and np.abs(rows[:, 2] - expected).max() < 1e-6
    assert_chunks_exact(staff.pk)


@pytest.fixture
def other_writer():
    """A second connection, committing (set up before ``db``, so its clean-up runs after the
    test's transaction is rolled back: the rows it committed are deleted then)."""
    from django.db import connection as django_connection

    other = psycopg.connect(**django_connection.get_connection_params())
    written: list[int] = []
    yield other, written
    other.rollback()
    other.execute("DELETE FROM grids_position WHERE staff_id = ANY(%s)", [written])
    other.commit()
    other.close()


def test_a_batch_that_waited_for_the_persons_lock_sees_what_the_other_committed(other_writer, staff, grid):
    """The lock and the read travel in one round trip but are two statements: the read's
    snapshot is taken after the wait, so the other batch's fixes are duplicates, not a
    conflict the fallback has to absorb (the cleaner would have judged without them)."""
    other, written = other_writer
    written.append(staff.pk)
    items = _walk(grid, 5, round(timezone.now().timestamp()) - 600.0, staff.pk)  # whole seconds
    other.execute("SELECT pg_advisory_xact_lock(%s, %s)", [tracks_service._LOCK_CLASS, staff.pk])
    for item in items[:2]:
        other.execute(
            "INSERT INTO grids_position (staff_id, recorded_at, geom, cum_m) "
            "VALUES (%s, to_timestamp(%s), ST_SetSRID(ST_MakePoint(%s, %s), 4326), 0)",
            [staff.pk, item["t"], item["lon"], item["lat"]],
        )
    committer = threading.Timer(1.0, other.commit)
    committer.start()
    started = time.monotonic()
    result = positions_ingest(principal=KEY_A, items=items)
    committer.join()

    assert time.monotonic() - started >= 0.9  # it did wait for the lock
    assert (result.accepted, result.duplicates) == (3, 2)
    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass('_grids_position_in') IS NULL")  # no fallback
        assert cur.fetchone()[0]
