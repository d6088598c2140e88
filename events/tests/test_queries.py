"""Event queries for the map and the command center: the shared range filter on events
(each shape against a shapely / pyproj ground truth), the event filters, heatmap and
cluster totals equal to the filtered count, statistics, handling time and on-time rate,
exports, and bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import re

import numpy as np
import pytest
import shapely
from openpyxl import load_workbook
from pyproj import Geod, Transformer
from shapely.geometry import LineString, Point, mapping

from events.models import Event
from events.services.lifecycle import event_transition
from events.services.reporting import ReportInput, event_report
from grids.models import UnitGrid

from .conftest import local

GEOD = Geod(ellps="WGS84")
UTM = Transformer.from_crs(4326, 32648, always_xy=True)  # 泸州 lies in UTM zone 48N
SOURCES = ["field", "hotline", "web", "system"]
URL = "/api/v1/events"


@pytest.fixture
def field(db, root, category) -> list[Event]:
    """60 events of the test category at random points of district A's grids, reported
    2024-05-01 … 05-10, sources in turn."""
    rng = random.Random(7)
    grids = list(UnitGrid.objects.filter(code__startswith="510502").order_by("code")[:40])
    made = []
    for i in range(60):
        shape = shapely.from_wkb(bytes(grids[i % len(grids)].geom.wkb))
        x0, y0, x1, y1 = shape.bounds
        while True:
            p = Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
            if shape.contains(p):
                break
        at = local(2024, 5, 1 + i % 10, 9, 30)
        data = ReportInput(
            category=category.code,
            description=f"测试 {i}",
            point=(p.x, p.y),
            source=SOURCES[i % 4],
            reported_at=at,
        )
        made.append(event_report(principal=root, data=data, now=at).event)
    return made


def q(api, path=URL, **params):
    response = api.get(path, {"category": "T0101", **params})
    assert response.status_code == 200, response.content
    return response


def ids_of(response) -> set[int]:
    return {f["id"] for f in response.json()["features"]}


def _split(events, measure, limit: float, band: float = 1.0) -> tuple[set[int], set[int]]:
    """(surely inside, too close to the edge to call) by a ground-truth measure."""
    inside, edge = set(), set()
    for e in events:
        d = measure(e.geom.x, e.geom.y)
        if abs(d - limit) <= band:
            edge.add(e.pk)
        elif d < limit:
            inside.add(e.pk)
    return inside, edge


def _check(got: set[int], inside: set[int], edge: set[int]) -> None:
    assert inside <= got
    assert got - inside <= edge
    assert inside, "the shape should hold some events"


@pytest.mark.parametrize("radius", [300.0, 1200.0, 3000.0])
def test_circle_counts_the_ground_distance(operator_a_api, field, radius):
    lon, lat = field[0].geom.x, field[0].geom.y
    got = ids_of(q(operator_a_api, lon=lon, lat=lat, radius=radius, page_size=1000))

    def distance(x, y):
        return GEOD.inv(lon, lat, x, y)[2]

    _check(got, *_split(field, distance, radius))
    count = q(operator_a_api, lon=lon, lat=lat, radius=radius, count="true").json()["count"]
    assert count == len(got)


def test_polygon_matches_shapely(operator_a_api, field):
    xs = np.array([e.geom.x for e in field])
    ys = np.array([e.geom.y for e in field])
    cx, cy = float(np.median(xs)), float(np.median(ys))
    r = float(np.ptp(xs)) / 3
    polygon = shapely.Polygon(
        [(cx + r * np.cos(a), cy + r * 0.8 * np.sin(a)) for a in np.linspace(0, 5.5, 7)]
    )
    got = ids_of(q(operator_a_api, polygon=shapely.to_wkt(polygon), page_size=1000))
    boundary = polygon.boundary

    def signed(x, y):  # metres to the boundary, negative inside
        d = GEOD.geometry_length(
            LineString([(x, y), shapely.ops.nearest_points(boundary, Point(x, y))[0].coords[0]])
        )
        return -d if polygon.contains(Point(x, y)) else d

    _check(got, *_split(field, signed, 0.0))


def test_line_buffer_matches_a_utm_buffer(operator_a_api, field):
    a, b = field[0].geom, field[1].geom
    line = LineString([(a.x, a.y), (b.x, b.y)])
    utm_line = LineString([UTM.transform(x, y) for x, y in line.coords])
    got = ids_of(q(operator_a_api, line=json.dumps(mapping(line)), buffer=500, page_size=1000))

    def distance(x, y):
        return utm_line.distance(Point(UTM.transform(x, y)))

    _check(got, *_split(field, distance, 500.0, band=2.0))


def test_event_filters_combine_with_the_range(operator_a_api, field):
    lon, lat = field[0].geom.x, field[0].geom.y
    everything = q(operator_a_api, lon=lon, lat=lat, radius=3000, page_size=1000).json()["features"]
    hotline = q(operator_a_api, lon=lon, lat=lat, radius=3000, source="hotline,web", page_size=1000)
    expected = {f["id"] for f in everything if f["properties"]["source"] in ("hotline", "web")}
    assert ids_of(hotline) == expected and expected
    window = q(operator_a_api, **{"from": "2024-05-03", "to": "2024-05-04"}, page_size=1000)
    assert {f["properties"]["reported_at"][:10] for f in window.json()["features"]} == {
        "2024-05-03", "2024-05-04"
    }  # fmt: skip
    assert len(ids_of(window)) == 12  # 6 a day


def test_newest_first_and_paged(operator_a_api, field):
    page = q(operator_a_api, page_size=7).json()
    assert page["count"] == 60 and len(page["features"]) == 7
    times = [f["properties"]["reported_at"] for f in page["features"]]
    assert times == sorted(times, reverse=True)


def test_pages_are_cut_by_key_then_joined(operator_a_api, field):
    """A page of a range is cut from the events' keys alone, then its rows are read with their
    category and department (gis_core.api.pagination._LateRows): every page in order, ties on
    the report time broken by id as in one statement, nothing repeated or lost, and the rows of
    the district only."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    e = field[0]
    params = {"lon": e.geom.x, "lat": e.geom.y, "radius": 3000}
    everything = q(operator_a_api, **params, page_size=1000).json()
    expected = [
        f["id"]
        for f in sorted(everything["features"], key=lambda f: (f["properties"]["reported_at"], f["id"]))
    ][::-1]
    assert len(expected) >= 20
    seen = []
    for number in range(1, len(expected) // 7 + 2):
        with CaptureQueriesContext(connection) as captured:
            page = q(operator_a_api, **params, page_size=7, page=number).json()
        assert page["count"] == len(expected)
        seen += [f["id"] for f in page["features"]]
        assert all(f["properties"]["category"] for f in page["features"])
        sqls = [c["sql"] for c in captured.captured_queries if '"events_event"' in c["sql"]]
        keys = [s for s in sqls if s.startswith('SELECT "events_event"."id" AS "pk"')]
        assert len(keys) == 1 and re.search(r"LIMIT [1-7]( OFFSET \d+)?$", keys[0])
        rows = [s for s in sqls if '"events_department"."name"' in s]  # the joined read: no LIMIT
        assert len(rows) == 1 and '"events_event"."id" IN (' in rows[0] and "LIMIT" not in rows[0]
    assert seen == expected
    # the district's operator never sees another district's events through the key step
    assert set(seen) <= set(Event.objects.filter(district_code=e.district_code).values_list("pk", flat=True))


def test_overdue_and_colour(operator_a_api, field, root):
    # the test category verifies within 1 h: every report of May 2024 is long overdue (red)
    assert q(operator_a_api, overdue="true", count="true").json()["count"] == 60
    assert q(operator_a_api, colour="red", count="true").json()["count"] == 60
    assert q(operator_a_api, colour="green,yellow", count="true").json()["count"] == 0
    event_transition(principal=root, event_id=field[0].pk, action="verify", note="属实")  # clock restarts now
    assert q(operator_a_api, overdue="false", count="true").json()["count"] == 1
    assert q(operator_a_api, colour="green", count="true").json()["count"] == 1
    event_transition(principal=root, event_id=field[1].pk, action="verify", note="属实", at=local(2024, 5, 2))
    event_transition(
        principal=root, event_id=field[1].pk, action="invalidate", note="不属实", at=local(2024, 5, 2)
    )
    assert (
        q(operator_a_api, overdue="true", count="true").json()["count"] == 58
    )  # closed ones are never overdue


def test_heatmap_and_clusters_add_up_to_the_filtered_count(operator_a_api, field):
    lon, lat = field[0].geom.x, field[0].geom.y
    params = {"lon": lon, "lat": lat, "radius": 2500, "source": "field,hotline"}
    count = q(operator_a_api, **params, count="true").json()["count"]
    assert count > 0
    for shape in ("square", "hex"):
        heat = q(operator_a_api, f"{URL}/heatmap", **params, zoom=14, shape=shape).json()
        assert heat["count"] == count == sum(b["count"] for b in heat["bins"])
    weighted = q(operator_a_api, f"{URL}/heatmap", **params, size=500, weight="escalation").json()
    assert weighted["weight"] == 0  # nothing escalated yet
    clusters = q(operator_a_api, f"{URL}/clusters", **params, zoom=12).json()
    assert sum(c["count"] for c in clusters["clusters"]) == count
    body = {"category": "T0101", "polygon": mapping(Point(lon, lat).buffer(0.02)), "size": 300}
    big = operator_a_api.post(f"{URL}/heatmap", body, format="json")
    assert big.status_code == 200 and big.json()["count"] == sum(b["count"] for b in big.json()["bins"])


def test_search_takes_the_query_as_json(operator_a_api, field):
    lon, lat = field[0].geom.x, field[0].geom.y
    polygon = mapping(Point(lon, lat).buffer(0.02))
    body = {"category": "T0101", "polygon": polygon, "source": ["field", "web"]}
    response = operator_a_api.post(f"{URL}/search?page_size=1000", body, format="json")
    assert response.status_code == 200
    got = {f["id"] for f in response.json()["features"]}
    truth = {e.pk for e in field if e.source in ("field", "web") and shapely.geometry.shape(polygon).contains(
        Point(e.geom.x, e.geom.y))}  # fmt: skip
    assert got == truth and truth


def test_statistics_by_field_region_and_month(operator_a_api, field):
    by_source = q(operator_a_api, f"{URL}/stats", by="source").json()
    assert by_source["total"] == 60
    assert {r["key"]: (r["name"], r["count"]) for r in by_source["results"]} == {
        "field": ("网格员上报", 15), "hotline": ("12345 热线", 15), "web": ("网站/公众", 15),
        "system": ("其他系统", 15),
    }  # fmt: skip
    by_category = q(operator_a_api, f"{URL}/stats", by="category").json()["results"]
    assert by_category == [{"key": "T0101", "name": "测试小类", "count": 60}]
    by_major = q(operator_a_api, f"{URL}/stats", by="major").json()["results"]
    assert by_major == [{"key": "T01", "name": "测试大类", "count": 60}]
    by_district = q(operator_a_api, f"{URL}/stats", by="district").json()["results"]
    assert by_district == [{"code": "510502000000", "name": "江阳区", "count": 60}]
    by_day = q(operator_a_api, f"{URL}/stats", by="day", **{"from": "2024-05-01", "to": "2024-05-10"}).json()
    assert [r["count"] for r in by_day["results"]] == [6] * 10
    top = q(operator_a_api, f"{URL}/stats", by="grid", top=3).json()["results"]
    assert len(top) == 3 and top[0]["count"] >= top[-1]["count"]


def test_list_and_statistics_export(operator_a_api, field):
    response = q(operator_a_api, export="csv", crs="gcj02")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 60
    assert {r["小类"] for r in rows} == {"测试小类"} and {r["状态"] for r in rows} == {"已上报"}
    first = next(r for r in rows if int(r["编号"]) == field[0].pk)
    assert abs(float(first["经度（gcj02）"]) - field[0].geom.x) > 1e-4  # shifted to GCJ-02
    xlsx = q(operator_a_api, export="xlsx", source="web")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.max_row == 1 + 15
    stats = q(operator_a_api, f"{URL}/stats", by="source", export="xlsx")
    assert load_workbook(io.BytesIO(stats.content)).active.max_row == 1 + 4


@pytest.fixture
def worked(db, root, field, departments) -> list[Event]:
    """Six events taken to 处置 by A's 城市管理局: handle limit 2 working days from dispatch
    on Monday 2024-05-13 09:00; four handled in time, two late; one of the late ones
    reassigned to 住房和城乡建设局 first, which handed it back."""
    events = field[:6]
    dispatch = local(2024, 5, 13, 9)
    for i, event in enumerate(events):
        for action in ("verify", "register"):
            event_transition(
                principal=root,
                event_id=event.pk,
                action=action,
                note="同意",
                at=dispatch - dt.timedelta(hours=1),
            )
        dept = departments["a_build"] if i == 5 else departments["a"]
        event_transition(
            principal=root,
            event_id=event.pk,
            action="dispatch",
            note="派遣",
            at=dispatch,
            department_id=dept.pk,
        )
    later = local(2024, 5, 14, 9)
    event_transition(principal=root, event_id=events[5].pk, action="return", note="非本部门职责", at=later)
    event_transition(
        principal=root,
        event_id=events[5].pk,
        action="dispatch",
        note="改派",
        at=later,
        department_id=departments["a"].pk,
    )
    hours = [3, 10, 20, 26, 100, 80]  # from each event's dispatch; 2 working days = 05-15 09:00
    for event, h in zip(events, hours, strict=True):
        start = later if event is events[5] else dispatch
        event_transition(
            principal=root,
            event_id=event.pk,
            action="handle",
            note="已处置",
            at=start + dt.timedelta(hours=h),
        )
    return events  # fmt: skip


def test_handling_time_and_on_time_rate_per_department(operator_a_api, worked, departments):
    rows = q(operator_a_api, f"{URL}/performance", by="department").json()["results"]
    a = next(r for r in rows if r["key"] == departments["a"].pk)
    assert (a["completed"], a["on_time"]) == (6, 4)
    assert a["on_time_rate"] == pytest.approx(4 / 6, abs=1e-4)
    assert a["mean_hours"] == pytest.approx(sum([3, 10, 20, 26, 100, 80]) / 6, abs=0.01)
    assert a["median_hours"] == pytest.approx(23.0, abs=0.01)
    build = next(r for r in rows if r["key"] == departments["a_build"].pk)
    assert (build["completed"], build["returned"]) == (0, 1)
    assert build["on_time_rate"] is None and rows[-1] is build  # no figure: ranked last
    assert all(r["region_code"] != "510504000000" for r in rows)


def test_on_time_rate_per_grid_and_district_and_ranking(operator_a_api, worked):
    rows = q(operator_a_api, f"{URL}/performance", by="district").json()["results"]
    assert [r["key"] for r in rows] == ["510502000000"]
    district = rows[0]
    # per event: verify, register, dispatch, handle → 6 × 4, and the re-dispatch after a return
    assert district["completed"] == 25 and district["open"] == 60 and district["overdue"] > 0
    grids = q(operator_a_api, f"{URL}/performance", by="grid", sort="-completed", top=2).json()["results"]
    assert len(grids) == 2 and grids[0]["completed"] >= grids[1]["completed"]
    assert all(len(r["key"]) == 15 and r["name"] for r in grids)
    window = q(operator_a_api, f"{URL}/performance", by="department", **{"from": "2024-05-16"}).json()[
        "results"
    ]
    assert sum(r["completed"] for r in window) == 2  # the handle steps ended on or after 05-16
    export = q(operator_a_api, f"{URL}/performance", by="grid", export="csv")
    header = export.content.decode("utf-8-sig").splitlines()[0]
    assert header.startswith("代码,名称,完成环节数,按期环节数,按期率")


@pytest.mark.parametrize(
    ("path", "params", "fragment"),
    [
        ("", {"state": "done"}, "状态 state"),
        ("", {"category": "T0101,X99"}, "X99"),
        ("", {"source": "phone"}, "来源 source"),
        ("", {"colour": "purple"}, "颜色 colour"),
        ("", {"overdue": "maybe"}, "overdue"),
        ("", {"department": "x1"}, "department"),
        ("", {"export": "pdf"}, "export"),
        ("", {"lon": 105.4, "lat": 28.9, "radius": -5}, "radius"),
        ("", {"lon": 105.4, "lat": 28.9, "radius": 10_000_000}, "radius"),
        ("", {"polygon": "POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))"}, "Self-intersection"),
        ("/heatmap", {"zoom": 30}, "zoom"),
        ("/heatmap", {"size": 300, "weight": "price"}, "weight"),
        ("/stats", {"by": "colour"}, "by"),
        ("/stats", {"by": "day", "top": 3}, "top"),
        ("/performance", {"by": "street"}, "by"),
        ("/performance", {"by": "grid", "sort": "returned"}, "sort"),
        ("/performance", {"by": "department", "top": 0}, "top"),
    ],
)
def test_bad_input_is_a_clear_400(operator_a_api, path, params, fragment):
    response = operator_a_api.get(URL + path, params)
    assert response.status_code == 400, response.content
    body = response.json()["error"]
    assert fragment in body["message"] or fragment in str(body.get("details")), body


def test_a_category_filter_is_its_minor_classes_ids(operator_a_api, field):
    """A major class code means all its minor classes; the events are filtered on their own
    column (no join of the classes, so the index — or the cells — can answer)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    minor = q(operator_a_api, count="true").json()["count"]
    with CaptureQueriesContext(connection) as captured:
        major = operator_a_api.get(URL, {"category": "T01", "count": "true"}).json()["count"]
    assert minor == major == 60
    sent = [c["sql"] for c in captured.captured_queries]
    counts = [sql for sql in sent if "events_event" in sql and "count(" in sql.lower()]
    assert counts and not any("events_eventcategory" in sql for sql in counts), counts
    both = operator_a_api.get(URL, {"category": "T01,T0101", "count": "true"}).json()["count"]
    assert both == 60


def test_a_district_sees_only_its_own(operator_b_api, field):
    assert q(operator_b_api, count="true").json()["count"] == 0
    assert q(operator_b_api, f"{URL}/heatmap", size=500).json()["count"] == 0
    assert q(operator_b_api, f"{URL}/stats", by="district").json()["results"] == []
    assert q(operator_b_api, f"{URL}/performance", by="grid").json()["results"] == []
    lon, lat = field[0].geom.x, field[0].geom.y
    assert q(operator_b_api, lon=lon, lat=lat, radius=1000, count="true").json()["count"] == 0
