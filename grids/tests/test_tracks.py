"""grids.services.tracks / partitions / selectors.tracks and the track endpoints: ingest
(idempotent, cleaned, any crs), the running distance under late batches, partitions, files,
playback and statistics, jurisdiction and bad input."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
import shapely
from django.db import connection
from django.utils import timezone
from pyproj import Transformer
from rest_framework.test import APIClient

from accounts.permissions import SCOPES, Principal
from accounts.scoping import Jurisdiction
from accounts.services import user_create
from gis_core import crs as crs_mod
from gis_core.errors import InvalidInput, TooLarge
from gis_core.selectors.locate import locate_grid_codes
from grids.models import GridStaff, UnitGrid
from grids.selectors.tracks import grid_coverage, period_bounds, staff_stats, track_fetch
from grids.services.partitions import (
    partition_name,
    positions_partitions,
    positions_partitions_detach,
    positions_partitions_ensure,
)
from grids.services.staff import StaffInput, staff_create
from grids.services.tracks import positions_ingest, track_upload
from grids.tracking.trips import running_distance

PASSWORD = "Civgrid-Test-2024"
A = Jurisdiction(region_code="510502000000")
SYSTEM = Principal("system:test", frozenset(SCOPES), Jurisdiction(nationwide=True))
KEY_A = Principal("key:testa", frozenset(SCOPES), A, key_prefix="testa")


@pytest.fixture
def grid(db) -> UnitGrid:
    return UnitGrid.objects.filter(code__startswith="510502").order_by("code").first()


@pytest.fixture
def staff(grid) -> GridStaff:
    return staff_create(
        data=StaffInput(name="巡查员", role="full_time", grids=[(grid.code, "")]), jurisdiction=A
    )


@pytest.fixture
def b_staff(db) -> GridStaff:
    b_grid = UnitGrid.objects.filter(code__startswith="510504").order_by("code").first()
    return staff_create(
        data=StaffInput(name="龙马潭巡查员", role="full_time", grids=[(b_grid.code, "")]),
        jurisdiction=Jurisdiction(nationwide=True),
    )


def walk_through(
    grid: UnitGrid, n: int, *, start: float, step_s: float = 10.0, metres: float = 8.0
) -> list[dict]:
    """Fixes walking east from the west edge of a grid, at its middle (WGS84)."""
    lat = grid.geom.point_on_surface.y
    m_lon = 1 / (111_320.0 * math.cos(math.radians(lat)))
    lon0 = grid.geom.extent[0]
    return [{"t": start + i * step_s, "lon": lon0 + (5 + i * metres) * m_lon, "lat": lat} for i in range(n)]


def stored(staff_id: int) -> np.ndarray:
    return track_fetch(
        staff_id, dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    )


def assert_running_distance_consistent(staff_id: int) -> np.ndarray:
    rows = stored(staff_id)
    expected = running_distance(rows[:, 1], rows[:, 2])
    assert np.allclose(rows[:, 3], expected, atol=1e-6), np.abs(rows[:, 3] - expected).max()
    return rows


# ------------------------------------------------------------------ ingest


def test_a_batch_in_gcj02_is_stored_in_wgs84_with_its_grid_and_once_only(staff, grid):
    now = timezone.now().timestamp()
    fixes = walk_through(grid, 60, start=now - 1200)
    g_lon, g_lat = crs_mod.wgs84_to_gcj02(
        np.array([f["lon"] for f in fixes]), np.array([f["lat"] for f in fixes])
    )
    items = [
        {"staff": staff.pk, "t": f["t"], "lon": x, "lat": y}
        for f, x, y in zip(fixes, g_lon, g_lat, strict=True)
    ]

    result = positions_ingest(principal=KEY_A, items=items, crs="gcj02")

    assert (result.accepted, result.duplicates, result.rejected) == (60, 0, [])
    rows = assert_running_distance_consistent(staff.pk)
    assert np.allclose(rows[:, 1], [f["lon"] for f in fixes], atol=1e-7)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT grid_code FROM grids_position WHERE staff_id = %s ORDER BY recorded_at", [staff.pk]
        )
        codes = [r[0] for r in cur.fetchall()]
    assert codes == [c or "" for c in locate_grid_codes(rows[:, 1], rows[:, 2])]
    assert grid.code in codes
    staff.refresh_from_db()
    assert staff.last_position_at.timestamp() == pytest.approx(fixes[-1]["t"])

    again = positions_ingest(principal=KEY_A, items=items, crs="gcj02")
    assert again.accepted == 0 and again.duplicates == 60
    assert {r["code"] for r in again.rejected} == {"duplicate"}
    assert len(stored(staff.pk)) == 60


def test_bad_fixes_are_rejected_one_by_one_with_reasons(staff, b_staff, grid):
    now = timezone.now().timestamp()
    good = walk_through(grid, 3, start=now - 600)
    items = [
        {**good[0], "staff": staff.pk},
        {**good[1], "staff": staff.pk, "lon": "NaN"},
        {**good[1], "staff": staff.pk, "lat": 95},
        {**good[1], "staff": staff.pk, "t": now + 7200},
        {**good[1], "staff": staff.pk, "t": now - 90 * 86400},
        {**good[1], "staff": staff.pk, "t": "昨天"},
        {**good[1], "staff": staff.pk, "lon": "东经105度"},
        {**good[1], "staff": b_staff.pk},  # outside the key's jurisdiction
        {**good[1], "staff": 987654321},
        {**good[1]},  # no staff, and the key is nobody's own
        {**good[2], "staff": staff.pk, "accuracy": 900},
        {**good[2], "staff": staff.pk, "valid": False},
        "not an object",
    ]

    result = positions_ingest(principal=KEY_A, items=items)

    codes = {r["index"]: r["code"] for r in result.rejected}
    assert result.accepted == 1
    assert codes == {
        1: "not_finite", 2: "out_of_range", 3: "future", 4: "too_old", 5: "bad_time", 6: "bad_coordinates",
        7: "forbidden_staff", 8: "forbidden_staff", 9: "bad_staff", 10: "low_accuracy", 11: "invalid_fix",
        12: "bad_item",
    }  # fmt: skip
    assert all(r["message"] for r in result.rejected)
    assert len(stored(b_staff.pk)) == 0


def test_too_many_fixes_is_413_and_nothing_is_written(staff, grid):
    items = [{"staff": staff.pk, "t": 1, "lon": 105.4, "lat": 28.8}] * 5001
    with pytest.raises(TooLarge):
        positions_ingest(principal=KEY_A, items=items)
    assert len(stored(staff.pk)) == 0


def test_who_may_post_for_whom(staff, grid, django_user_model):
    now = timezone.now().timestamp()
    fixes = walk_through(grid, 2, start=now - 60)
    user = user_create(username="wgy-own", password=PASSWORD, roles=["field_staff"], grid_codes=[grid.code])
    own = Principal("user:wgy-own", frozenset({"tracks:write"}), A, user_id=user.pk)
    # not yet bound to the person: refused
    assert positions_ingest(principal=own, items=[{**fixes[0], "staff": staff.pk}]).rejected[0]["code"] == (
        "forbidden_staff"
    )
    staff.user = user
    staff.save()
    assert positions_ingest(principal=own, items=[fixes[0]], default_staff=staff.pk).accepted == 1
    other = staff_create(
        data=StaffInput(name="别人", role="full_time", grids=[(grid.code, "")]), jurisdiction=A
    )
    result = positions_ingest(principal=own, items=[{**fixes[1], "staff": other.pk}])
    assert result.accepted == 0 and result.rejected[0]["code"] == "forbidden_staff"


def test_a_late_out_of_order_batch_keeps_the_running_distance_consistent(staff, grid):
    now = timezone.now().timestamp()
    fixes = [{**f, "staff": staff.pk} for f in walk_through(grid, 100, start=now - 3000)]
    # a zigzag, so that leaving fixes out changes the distance
    for i, f in enumerate(fixes):
        f["lat"] += (i % 2) * 0.00005
    first, hole, late_early = fixes[20:40] + fixes[60:100], fixes[40:60], fixes[:20]
    assert positions_ingest(principal=KEY_A, items=first).accepted == 60
    before = stored(staff.pk)
    assert positions_ingest(principal=KEY_A, items=hole[::-1]).accepted == 20  # reversed, late
    rows = assert_running_distance_consistent(staff.pk)
    assert rows[-1, 3] > before[-1, 3] + 1  # the later fixes were shifted
    assert positions_ingest(principal=KEY_A, items=late_early).accepted == 20  # before everything
    rows = assert_running_distance_consistent(staff.pk)
    assert len(rows) == 100
    # any window's mileage is a subtraction, and windows add up
    cum = rows[:, 3]
    assert cum[70] - cum[10] == pytest.approx((cum[40] - cum[10]) + (cum[70] - cum[40]))
    assert cum[-1] - cum[0] == pytest.approx(running_distance(rows[:, 1], rows[:, 2])[-1])


def test_partitions_are_made_for_the_months_written_and_stragglers_move_out_of_the_default(staff):
    month = dt.date(2031, 3, 1)
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO grids_position (staff_id, recorded_at, geom, cum_m) "  # no partition: the default
            "VALUES (%s, '2031-03-10 12:00+08', ST_SetSRID(ST_MakePoint(105.44, 28.87), 4326), 0)",
            [staff.pk],
        )
        cur.execute("SELECT count(*) FROM grids_position_default WHERE staff_id = %s", [staff.pk])
        assert cur.fetchone()[0] == 1
    assert positions_partitions_ensure(start=month, end=dt.date(2031, 4, 1)) == [month, dt.date(2031, 4, 1)]
    assert positions_partitions_ensure(start=month, end=month) == []  # idempotent
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {partition_name(month)}")
        assert cur.fetchone()[0] == 1
        cur.execute("SELECT count(*) FROM grids_position_default WHERE staff_id = %s", [staff.pk])
        assert cur.fetchone()[0] == 0
    assert month in positions_partitions()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM grids_track_chunk WHERE staff_id = %s", [staff.pk])
        assert cur.fetchone()[0] == 1
    assert month in positions_partitions_detach(before=dt.date(2031, 4, 1))
    assert month not in positions_partitions()
    with connection.cursor() as cur:  # detached, not dropped: the rows are still there
        cur.execute(f"SELECT count(*) FROM {partition_name(month)}")
        assert cur.fetchone()[0] == 1
        # ... but no longer played back: their packed chunk went with them
        cur.execute("SELECT count(*) FROM grids_track_chunk WHERE staff_id = %s", [staff.pk])
        assert cur.fetchone()[0] == 0


def test_ingest_creates_the_partition_of_its_month(staff, grid):
    now = timezone.now()
    positions_ingest(
        principal=KEY_A, items=[{**walk_through(grid, 1, start=now.timestamp() - 5)[0], "staff": staff.pk}]
    )
    assert dt.date(timezone.localtime(now).year, timezone.localtime(now).month, 1) in positions_partitions()


# ------------------------------------------------------------------ files


def test_csv_in_gbk_and_gpx_uploads(staff, grid):
    now = timezone.now().timestamp()
    fixes = walk_through(grid, 10, start=now - 3600)
    local = dt.timezone(dt.timedelta(hours=8))
    lines = ["时间,经度,纬度"] + [
        f"{dt.datetime.fromtimestamp(f['t'], local):%Y-%m-%d %H:%M:%S},{f['lon']},{f['lat']}"
        for f in fixes[:5]
    ]
    result = track_upload(
        principal=KEY_A, name="轨迹.csv", data="\n".join(lines).encode("gbk"), staff_id=staff.pk
    )
    assert result.accepted == 5, result.rejected
    points = "".join(
        f'<trkpt lat="{f["lat"]}" lon="{f["lon"]}">'
        f"<time>{dt.datetime.fromtimestamp(f['t'], dt.UTC):%Y-%m-%dT%H:%M:%SZ}</time></trkpt>"
        for f in fixes[5:]
    )
    gpx = f'<?xml version="1.0"?><gpx xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>{points}</trkseg></trk></gpx>'
    assert track_upload(principal=KEY_A, name="a.gpx", data=gpx.encode(), staff_id=staff.pk).accepted == 5
    assert_running_distance_consistent(staff.pk)


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("a.gpx", b"this is not xml", "invalid_gpx"),
        ("a.gpx", b"<gpx><trk><trkpt lat='1'", "invalid_gpx"),
        ("a.gpx", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><gpx>&a;</gpx>', "invalid_gpx"),
        ("a.csv", "经度,纬度\n105,28\n".encode(), "missing_columns"),
        ("a.csv", b"\xff\xfe\x00garbage\x81", "bad_encoding"),
        ("a.gpx", b"<gpx></gpx>", "empty_file"),
    ],
)
def test_bad_files_are_400_and_write_nothing(staff, name, data, code):
    with pytest.raises(InvalidInput) as raised:
        track_upload(principal=KEY_A, name=name, data=data, staff_id=staff.pk)
    assert raised.value.code == code
    assert len(stored(staff.pk)) == 0


# ------------------------------------------------------------------ playback and statistics


@pytest.fixture
def operator(db) -> APIClient:
    client = APIClient()
    client.force_authenticate(
        user_create(username="op-t", password=PASSWORD, roles=["operator"], region_code="510502")
    )
    return client


def _day_with_a_stop(staff: GridStaff, grid: UnitGrid, day_start: float) -> list[dict]:
    """10 min walking east, 10 min standing, 10 min walking east; a fix every 5 s."""
    lat = grid.geom.point_on_surface.y
    lon0 = grid.geom.extent[0]
    m_lon = 1 / (111_320.0 * math.cos(math.radians(lat)))
    items, x = [], 0.0
    for i in range(361):
        speed = 0.0 if 120 <= i < 240 else 1.2  # standing from 10 to 20 minutes
        if i:
            x += speed * 5
        items.append(
            {"staff": staff.pk, "t": day_start + 9 * 3600 + i * 5, "lon": lon0 + x * m_lon, "lat": lat}
        )
    return items


def test_playback_by_time_with_patrols_stops_and_mileage(operator, staff, grid):
    today = timezone.localdate() - dt.timedelta(days=1)
    start, _, _ = period_bounds("day", today)
    items = _day_with_a_stop(staff, grid, start.timestamp())
    assert positions_ingest(principal=SYSTEM, items=items).accepted == 361

    response = operator.get(
        f"/api/v1/staff/{staff.pk}/track", {"from": today.isoformat(), "zoom": 16, "at": 30, "crs": "gcj02"}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["points"] == 361 and 2 <= body["vertices"] < 361
    assert body["mileage_m"] == pytest.approx(1440, rel=0.01)
    # the stop may begin up to one stop radius (50 m = 42 s of walking) early
    assert len(body["stops"]) == 1 and body["stops"][0]["duration_s"] == pytest.approx(600, abs=45)
    assert len(body["patrols"]) == 2
    assert body["patrols"][0]["avg_speed_kmh"] == pytest.approx(1.2 * 3.6, rel=0.1)
    elapsed = [v[2] for v in body["path"]]
    assert elapsed[0] == 0 and elapsed[-1] == 1800 and elapsed == sorted(elapsed)
    # positions in GCJ-02, 30 s in: 36 m east of the first fix
    lon, lat = crs_mod.gcj02_to_wgs84(body["at"]["position"]["lon"], body["at"]["position"]["lat"])
    assert lon - items[0]["lon"] == pytest.approx(36 / (111_320 * math.cos(math.radians(lat))), rel=0.01)
    # bad windows and an unknown person
    assert operator.get(f"/api/v1/staff/{staff.pk}/track", {"from": "2024-13-01"}).status_code == 400
    assert (
        operator.get(
            f"/api/v1/staff/{staff.pk}/track", {"from": "2024-01-01", "to": "2024-03-01"}
        ).status_code
        == 400
    )
    assert operator.get("/api/v1/staff/987654321/track").status_code == 404


def test_staff_statistics_against_targets(staff, grid, settings):
    settings.CIVGRID = {
        **settings.CIVGRID,
        "TRACK_TARGET_DAILY_MILEAGE_M": 1000.0,
        "TRACK_TARGET_DAILY_DURATION_S": 3600,
    }
    day = timezone.localdate() - dt.timedelta(days=1)
    start, _, _ = period_bounds("day", day)
    positions_ingest(principal=SYSTEM, items=_day_with_a_stop(staff, grid, start.timestamp()))
    [row] = staff_stats(
        staff=GridStaff.objects.filter(pk=staff.pk), period="day", day=day, now=timezone.now()
    )
    assert row["mileage_m"] == pytest.approx(1440, rel=0.01) and row["mileage_met"] is True
    assert row["duration_s"] == 1800 and row["duration_met"] is False
    assert row["online_days"] == 1 and row["online_rate"] == 1.0 and row["online"] is False
    [week] = staff_stats(
        staff=GridStaff.objects.filter(pk=staff.pk), period="week", day=day, now=timezone.now()
    )
    assert week["days"] == 7 and week["online_rate"] == pytest.approx(1 / 7, abs=1e-4)
    assert week["mileage_target_m"] == 7000 and week["mileage_met"] is False


def test_staff_statistics_take_the_same_queries_for_one_person_or_many(
    staff, grid, django_assert_num_queries
):
    for i in range(4):
        staff_create(
            data=StaffInput(name=f"巡查员{i}", role="part_time", grids=[(grid.code, "")]), jurisdiction=A
        )
    people = GridStaff.objects.filter(name__startswith="巡查员")
    with django_assert_num_queries(3):  # the people, their grids, their figures
        rows = staff_stats(staff=people, period="day", day=timezone.localdate(), now=timezone.now())
    assert len(rows) == 5 and all(r["grids"] == grid.code for r in rows)


def test_grid_statistics_patrolled_and_coverage_on_the_ground(operator, staff, grid, settings):
    day = timezone.localdate() - dt.timedelta(days=20)  # before the demo city's week of tracks
    start, end, _ = period_bounds("day", day)
    items = _day_with_a_stop(staff, grid, start.timestamp())
    positions_ingest(principal=SYSTEM, items=items)

    response = operator.get(
        "/api/v1/track-stats", {"by": "grid", "date": day.isoformat(), "region": "510502"}
    )

    assert response.status_code == 200, response.content
    rows = {r["code"]: r for r in response.json()["results"]}
    assert rows[grid.code]["patrolled"] is True and rows[grid.code]["staff"] >= 1
    assert 0 < rows[grid.code]["coverage"] <= 1
    idle = next(code for code, r in rows.items() if not r["patrolled"])
    assert rows[idle]["coverage"] == 0 and rows[idle]["mileage_m"] == 0
    assert all(code.startswith("510502") for code in rows)

    # coverage: the same figure as shapely in the UTM zone (track simplified by 6 m, buffered 30 m ∩ grid)
    utm = Transformer.from_crs(4326, 32648, always_xy=True)
    inside = [(f["lon"], f["lat"]) for f in items]
    xs, ys = utm.transform(*zip(*inside, strict=True))
    line = shapely.simplify(shapely.LineString(list(zip(xs, ys, strict=True))), 30 / 5)
    polygon = shapely.transform(
        shapely.from_wkb(bytes(grid.geom.wkb)), lambda xy: np.column_stack(utm.transform(*xy.T))
    )
    expected = line.buffer(30, quad_segs=4).intersection(polygon).area / polygon.area
    assert grid_coverage([grid.code], start, end)[grid.code] == pytest.approx(expected, rel=0.01)
    settings.CIVGRID = {**settings.CIVGRID, "TRACK_COVERAGE_DISTANCE_M": 5000.0}
    assert grid_coverage([grid.code], start, end)[grid.code] == pytest.approx(1.0)

    for fmt in ("csv", "xlsx"):
        export = operator.get("/api/v1/track-stats", {"by": "staff", "export": fmt, "date": day.isoformat()})
        assert export.status_code == 200 and export["Content-Disposition"].endswith(f'.{fmt}"')
    assert operator.get("/api/v1/track-stats", {"period": "year"}).status_code == 400


def test_positions_api_as_the_staff_members_own_phone(staff, grid):
    user = user_create(username="phone-own", password=PASSWORD, roles=["field_staff"], grid_codes=[grid.code])
    staff.user = user
    staff.save()
    client = APIClient()
    client.force_authenticate(user)
    now = timezone.now().timestamp()
    fixes = [{"t": f["t"], "lon": f["lon"], "lat": f["lat"]} for f in walk_through(grid, 5, start=now - 100)]
    response = client.post("/api/v1/positions", {"positions": fixes}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 5
    assert client.post("/api/v1/positions", {"positions": "x"}, format="json").status_code == 400
    # field staff may post, but not read tracks
    assert client.get(f"/api/v1/staff/{staff.pk}/track").status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        b'{"positions": [{"staff": 7, "t": 1763600000.5, "lon": 105.4, "lat": 28.9}], "crs": "gcj02"}',
        b'[{"staff": 123456789012345678901234, "t": 1, "lon": 105.4, "lat": -0.0}]',  # beyond 64 bits
        b"[-9223372036854775809, 18446744073709551616, 1.5e300, 12345678901234567890.5, 1e400]",
        b'{"lon": 105.12345678901234567890123, "t": 1763600000123}',
        '{"name": "巡查 \\ud800"}'.encode(),  # a lone surrogate: orjson refuses, json takes it
        b'{"t": NaN}',
        b"",
        b"[1, 2,]",
    ],
)
def test_the_positions_body_parses_as_drf_parses_it(body):
    import io

    from rest_framework.exceptions import ParseError
    from rest_framework.parsers import JSONParser

    from grids.api_tracks import BatchJSONParser

    def parse(parser) -> object:
        try:
            return parser.parse(io.BytesIO(body), "application/json", {"encoding": "utf-8"})
        except ParseError:
            return ParseError

    ours, drf = parse(BatchJSONParser()), parse(JSONParser())
    assert repr(ours) == repr(drf)  # repr: inf and -0.0 compare as themselves


def test_positions_api_answers_a_staff_id_beyond_64_bits_per_item(api, staff, grid):
    fix = walk_through(grid, 1, start=timezone.now().timestamp() - 60)[0]
    item = f'"t": {fix["t"]!r}, "lon": {fix["lon"]!r}, "lat": {fix["lat"]!r}'
    body = '{"positions": [{"staff": 123456789012345678901234, ' + item + "}]}"
    response = api.post("/api/v1/positions", body, content_type="application/json")
    assert response.status_code == 200, response.content
    assert [r["code"] for r in response.json()["rejected"]] == ["bad_staff"]  # as before orjson


def test_the_demo_city_has_staff_for_every_grid_and_a_week_of_tracks(db):
    grids = UnitGrid.objects.filter(code__startswith="5105")
    covered = GridStaff.objects.filter(region_code__startswith="5105", role="full_time").values(
        "assignments__grid_code"
    )
    assert grids.exclude(code__in=covered).count() == 0
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(DISTINCT staff_id), "
            "count(DISTINCT (recorded_at AT TIME ZONE 'Asia/Shanghai')::date), "
            "count(*) FROM grids_position"
        )
        people, days, fixes = cur.fetchone()
    assert people >= 10 and days >= 4 and fixes > 10_000
