"""Pre-aggregated event cells (events.EventCell, EventCellTotal, EventFineCell, EventDayCell,
EventClassCell and EventClassDayCell, kept by the one trigger of migrations 0009-0013) and
the heatmap that sums them (gis_core.selectors.density, CellCounts): the same bins and the
same totals as the scan of the events, after reports, bulk loads, state changes and
deletes, under jurisdiction scoping; filters the cells cannot answer take the scan."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.scoping import Jurisdiction
from events.models import (
    CELL_M,
    FINE_CELL_M,
    WIDE_CELL_M,
    Event,
    EventCategory,
    EventCell,
    EventCellTotal,
    EventClassCell,
    EventClassDayCell,
    EventDayCell,
    EventFineCell,
)
from events.selectors.events import events_filter, events_visible
from events.services.bulk import CELL_TABLES, BulkEvents, events_bulk_create
from events.services.lifecycle import event_transition
from events.services.reporting import ReportInput, event_report
from gis_core.selectors import density
from gis_core.selectors.density import BinGrid, heatmap
from gis_core.selectors.ranges import Circle, RangeFilter
from grids.models import UnitGrid

from .conftest import A_CODE, local

TZ = dt.timezone(dt.timedelta(hours=8))


def _heatmaps(qs, grid: BinGrid):
    """(the heatmap as served, the heatmap from the scan of the events, whether cells served it)."""
    with CaptureQueriesContext(connection) as captured:
        served = heatmap(qs, grid)
    used = any(re.search(r"\bevents_event\w*cell", q["sql"]) for q in captured.captured_queries)
    saved = dict(density._CELLS)
    density._CELLS.clear()
    try:
        scanned = heatmap(qs, grid)
    finally:
        density._CELLS.update(saved)
    return served, scanned, used


def _bins(result) -> dict[tuple[int, int], int]:
    return {(b.i, b.j): b.count for b in result.bins}


def _same(qs, grid: BinGrid, *, cells: bool) -> int:
    served, scanned, used = _heatmaps(qs, grid)
    assert used is cells
    assert _bins(served) == _bins(scanned)
    assert served.count == scanned.count == qs.count()
    return served.count


def _cells_match_events() -> None:
    """Every cell, coarse (by month and over all months) and fine, holds exactly the events of
    its key (the triggers' invariant)."""
    with connection.cursor() as cur:
        cur.execute(
            f"""SELECT floor(6378137.0 * radians(ST_X(geom)) / {CELL_M})::int AS i,
                floor(6378137.0 * ln(tan(pi() / 4 + radians(ST_Y(geom)) / 2)) / {CELL_M})::int AS j,
                grid_code, region_code, state, date_trunc('month', reported_at, 'Asia/Shanghai'),
                count(*) FROM events_event GROUP BY 1, 2, 3, 4, 5, 6"""
        )
        events = {tuple(r[:6]): r[6] for r in cur.fetchall()}
        cur.execute(
            f"""SELECT floor(6378137.0 * radians(ST_X(geom)) / {FINE_CELL_M})::int AS i,
                floor(6378137.0 * ln(tan(pi() / 4 + radians(ST_Y(geom)) / 2)) / {FINE_CELL_M})::int AS j,
                grid_code, region_code, state, count(*) FROM events_event GROUP BY 1, 2, 3, 4, 5"""
        )
        fine_events = {tuple(r[:5]): r[5] for r in cur.fetchall()}
    cells = {
        (c.i, c.j, c.grid_code, c.region_code, c.state, c.reported_at): c.n for c in EventCell.objects.all()
    }
    assert cells == events
    totals: dict[tuple, int] = {}
    for key, n in events.items():
        totals[key[:5]] = totals.get(key[:5], 0) + n
    total = {(c.i, c.j, c.grid_code, c.region_code, c.state): c.n for c in EventCellTotal.objects.all()}
    assert total == totals
    fine = {(c.i, c.j, c.grid_code, c.region_code, c.state): c.n for c in EventFineCell.objects.all()}
    assert fine == fine_events
    with connection.cursor() as cur:  # what scoping the community-keyed cells by a grid prefix rests on
        cur.execute("SELECT count(*) FROM events_event WHERE left(grid_code, 12) <> region_code")
        assert cur.fetchone()[0] == 0
    wide = f"""floor(6378137.0 * radians(ST_X(geom)) / {WIDE_CELL_M})::int,
        floor(6378137.0 * ln(tan(pi() / 4 + radians(ST_Y(geom)) / 2)) / {WIDE_CELL_M})::int"""
    with connection.cursor() as cur:
        cur.execute(f"""SELECT {wide}, region_code, state, category_id, kind, source, count(*)
            FROM events_event GROUP BY 1, 2, 3, 4, 5, 6, 7""")
        class_events = {tuple(r[:7]): r[7] for r in cur.fetchall()}
        cur.execute(f"""SELECT {wide}, region_code, state, date_trunc('day', reported_at, 'Asia/Shanghai'),
            count(*) FROM events_event GROUP BY 1, 2, 3, 4, 5""")
        day_events = {tuple(r[:5]): r[5] for r in cur.fetchall()}
        cur.execute(f"""SELECT {wide}, region_code, state, category_id, kind, source,
            date_trunc('day', reported_at, 'Asia/Shanghai'), count(*) FROM events_event
            GROUP BY 1, 2, 3, 4, 5, 6, 7, 8""")
        class_day_events = {tuple(r[:8]): r[8] for r in cur.fetchall()}
    classes = {
        (c.i, c.j, c.region_code, c.state, c.category_id, c.kind, c.source): c.n
        for c in EventClassCell.objects.all()
    }
    assert classes == class_events
    days = {(c.i, c.j, c.region_code, c.state, c.reported_at): c.n for c in EventDayCell.objects.all()}
    assert days == day_events
    class_days = {
        (c.i, c.j, c.region_code, c.state, c.category_id, c.kind, c.source, c.reported_at): c.n
        for c in EventClassDayCell.objects.all()
    }
    assert class_days == class_day_events


def _report(who, category, lon: float, lat: float, at: dt.datetime) -> Event:
    data = ReportInput(category=category.code, description="测试热力格", point=(lon, lat), reported_at=at)
    return event_report(principal=who, data=data, now=at).event


@pytest.fixture(autouse=True)
def _cells_for_any_size(monkeypatch):
    """The test city is small: let shapes of any size take the cells (in service, shapes with
    little inside whole cells are counted from their points, see the last test)."""
    monkeypatch.setattr(density, "MIN_INSIDE_M2", 0.0)


@pytest.fixture
def spread(db, root, category) -> list[Event]:
    """40 reports over district A's grids in May and June 2024."""
    rng = np.random.default_rng(5)
    grids = list(UnitGrid.objects.filter(code__startswith="510502").order_by("code")[:20])
    made = []
    for k in range(40):
        point = grids[k % len(grids)].geom.point_on_surface
        lon, lat = point.x + rng.normal(0, 1e-4), point.y + rng.normal(0, 1e-4)
        at = local(2024, 5 + k % 2, 1 + k % 27, 10, 0)
        made.append(_report(root, category, lon, lat, at))
    return made


def test_cell_size_is_the_heatmap_bin_of_32_px_at_zoom_14():
    assert BinGrid.for_zoom("square", 14).size == CELL_M
    for name in ("0003_event_cells", "0009_cells_one_trigger"):  # made the cells; keeps them now
        migration = (Path(__file__).parents[1] / "migrations" / f"{name}.py").read_text("utf-8")
        assert float(re.search(r"\bCELL_M = ([0-9.]+)", migration).group(1)) == CELL_M
    assert float(re.search(r"FINE_CELL_M = ([0-9.]+)", migration).group(1)) == FINE_CELL_M


def test_reports_are_counted_in_cells_and_the_heatmap_sums_them(spread):
    _cells_match_events()
    city = events_visible(Jurisdiction(region_code="510500000000"))
    district = events_visible(Jurisdiction(region_code=A_CODE))
    for zoom in (14, 13, 12, 10):
        _same(city, BinGrid.for_zoom("square", zoom), cells=True)
        _same(district, BinGrid.for_zoom("square", zoom), cells=True)
    field_staff = events_visible(Jurisdiction(grid_codes=(spread[0].grid_code, spread[1].grid_code)))
    assert _same(field_staff, BinGrid.for_zoom("square", 12), cells=True) >= 2
    nobody = events_visible(Jurisdiction())
    assert heatmap(nobody, BinGrid.for_zoom("square", 12)).bins == []  # no query at all


def test_filters_the_cells_keep_are_answered_from_them(spread):
    district = events_visible(Jurisdiction(region_code=A_CODE))
    grid = BinGrid.for_zoom("square", 12)
    # state, region and a window of whole months (Beijing time)
    assert _same(events_filter(district, states="reported"), grid, cells=True) >= 40
    assert _same(RangeFilter(region=spread[0].grid_code[:9]).apply(district), grid, cells=True) >= 1
    may = RangeFilter(since=local(2024, 5, 1), until=local(2024, 6, 1))
    assert _same(may.apply(district, time_field="reported_at"), grid, cells=True) >= 20
    assert _same(district.exclude(state="closed"), grid, cells=True) >= 40


def test_filters_the_cells_do_not_keep_take_the_scan(spread, category):
    district = events_visible(Jurisdiction(region_code=A_CODE))
    square = BinGrid.for_zoom("square", 12)
    e = spread[0]
    finer = BinGrid.for_zoom("square", 13)  # finer than the cells by class and by day
    cases = [
        (events_filter(district, category=category.code), finer),
        (events_filter(district, sources="field"), finer),
        (RangeFilter(circle=Circle(e.geom.x, e.geom.y, 2000)).apply(district), square),
        (
            RangeFilter(since=local(2024, 5, 3), until=local(2024, 6, 1)).apply(
                district, time_field="reported_at"
            ),
            finer,
        ),  # a window edge inside a month
        (
            RangeFilter(since=local(2024, 5, 3, 9), until=local(2024, 5, 3, 18)).apply(
                district, time_field="reported_at"
            ),
            square,
        ),  # no whole day inside the window
        (events_filter(district.filter(grid_code__in=[e.grid_code]), category=category.code), square),
        (
            RangeFilter(since=local(2024, 5, 3, 9)).apply(
                events_filter(district, category=category.code), time_field="reported_at"
            ),
            finer,
        ),  # a category and a window: the cells by class and day are wide
        (district.filter(pk__in=[e.pk]), square),
        (district.filter(pk__in=Event.objects.filter(state="reported").values("pk")), square),
        (district, BinGrid.for_zoom("hex", 12)),
        (district, BinGrid.for_zoom("square", 18)),  # finer than the fine cells
        (district, BinGrid.for_zoom("square", 12, bin_px=24)),  # not a power of two of cells
    ]
    for qs, grid in cases:
        _same(qs, grid, cells=False)


@pytest.fixture
def mixed(spread, root, category) -> list[Event]:
    """Besides ``spread`` (noon-ish reports of May and June 2024), 30 reports at any hour of May."""
    rng = np.random.default_rng(7)
    made = []
    for k in range(30):
        base = spread[k % len(spread)].geom
        at = local(2024, 5, 1 + k % 28, k % 24, 7 * k % 60)
        made.append(_report(root, category, base.x + rng.normal(0, 2e-3), base.y + rng.normal(0, 2e-3), at))
    return made


@pytest.fixture
def classes(spread, root) -> list[Event]:
    """Besides ``spread`` (one test class, by web), 30 reports of a seed event class and a seed
    component class, by hotline and web, in May 2024."""
    event_class = EventCategory.objects.filter(kind="event", parent__isnull=False).order_by("code").first()
    component = EventCategory.objects.filter(kind="component", parent__isnull=False).order_by("code").first()
    rng = np.random.default_rng(9)
    made = []
    for k in range(30):
        base = spread[k % len(spread)].geom
        data = ReportInput(
            category=(event_class, component)[k % 2].code,
            description="测试分类热力格",
            point=(base.x + rng.normal(0, 2e-3), base.y + rng.normal(0, 2e-3)),
            reported_at=local(2024, 5, 1 + k % 28, 10),
            source=("hotline", "web")[k % 3 % 2],
        )
        made.append(event_report(principal=root, data=data, now=data.reported_at).event)
    return made


def test_a_category_kind_or_source_sums_the_cells_by_class(classes, category):
    """A category (minor or major class), a kind or a source is summed from the cells by class
    (wide cells, 32 px at zoom 12, keyed by community: a jurisdiction of regions scopes them by
    its prefix) — the same bins and totals as the scan, at zoom 12 and coarser, with a state
    too, and in a map view (its whole wide cells, the points of the wide cells on its edge)."""
    _cells_match_events()
    seeded = classes[1].category
    district = events_visible(Jurisdiction(region_code=A_CODE))
    city = events_visible(Jurisdiction(region_code="510500000000"))
    for grid in (BinGrid.for_zoom("square", 12), BinGrid.for_zoom("square", 10)):
        for qs in (district, city):
            assert _same(events_filter(qs, category=category.code), grid, cells=True) == 40
            assert _same(events_filter(qs, category=seeded.parent.code), grid, cells=True) >= 5
            assert _same(events_filter(qs, kind="component"), grid, cells=True) >= 5
            assert _same(events_filter(qs, sources="hotline"), grid, cells=True) >= 5
            assert _same(events_filter(qs, category=category.code, states="reported"), grid, cells=True) == 40
    e = classes[0]
    shape = RangeFilter(bbox=(e.geom.x - 0.03, e.geom.y - 0.03, e.geom.x + 0.03, e.geom.y + 0.03)).split()[1]
    grid = BinGrid.for_zoom("square", 12)
    qs = events_filter(city, category=category.code)
    with CaptureQueriesContext(connection) as captured:
        served = heatmap(qs, grid, area=shape)
    assert any("events_eventclasscell" in q["sql"] for q in captured.captured_queries)
    saved = dict(density._CELLS)
    density._CELLS.clear()
    try:
        scanned = heatmap(shape.narrow(qs, "geom"), grid)
    finally:
        density._CELLS.update(saved)
    assert (
        _bins(served) == _bins(scanned)
        and served.count == scanned.count == shape.narrow(qs, "geom").count() > 0
    )


def test_a_window_to_the_minute_sums_its_whole_days_and_reads_its_part_days(mixed, category):
    """A time window whose edges fall inside days (the last 7 days to this minute): its whole
    days summed from the cells by day (wide cells, 32 px at zoom 12, keyed by community: a
    jurisdiction of regions scopes them by its prefix), its two part-days from their points —
    the same bins and totals as the scan, at zoom 12 and coarser, with the cells' other filters."""
    _cells_match_events()
    district = events_visible(Jurisdiction(region_code=A_CODE))
    city = events_visible(Jurisdiction(region_code="510500000000"))
    week = RangeFilter(since=local(2024, 5, 3, 9, 30), until=local(2024, 5, 10, 16, 45))
    since = RangeFilter(since=local(2024, 5, 20, 17, 5))  # open-ended
    until = RangeFilter(until=local(2024, 5, 12, 8, 15))
    for grid in (BinGrid.for_zoom("square", 12), BinGrid.for_zoom("square", 10)):
        for qs in (district, city, events_filter(district, states="reported")):
            assert _same(week.apply(qs, time_field="reported_at"), grid, cells=True) >= 10
            assert _same(since.apply(qs, time_field="reported_at"), grid, cells=True) >= 10
            assert _same(until.apply(qs, time_field="reported_at"), grid, cells=True) >= 10
    # the statement: the day cells for the whole days, the points for the part-days only
    with CaptureQueriesContext(connection) as captured:
        heatmap(week.apply(district, time_field="reported_at"), BinGrid.for_zoom("square", 12))
    (sql,) = [q["sql"] for q in captured.captured_queries]
    assert "events_eventdaycell" in sql and sql.count('FROM "events_event"') == 2


def test_a_category_kind_or_source_under_a_window_sums_the_cells_by_class_and_day(classes, mixed, category):
    """A category, a kind or a source under a time window to the minute: its whole days summed
    from the cells by class and day (wide cells keyed by community, like the cells by class), its
    two part-days from their points — the same bins and totals as the scan, at zoom 12 and
    coarser, with a state and under jurisdiction scoping; a window alone still takes the day cells
    (fewer rows), a category alone the cells by class."""
    _cells_match_events()
    seeded = classes[1].category
    district = events_visible(Jurisdiction(region_code=A_CODE))
    city = events_visible(Jurisdiction(region_code="510500000000"))
    week = RangeFilter(since=local(2024, 5, 3, 9, 30), until=local(2024, 5, 20, 16, 45))
    since = RangeFilter(since=local(2024, 5, 12, 17, 5))  # open-ended
    for grid in (BinGrid.for_zoom("square", 12), BinGrid.for_zoom("square", 10)):
        for qs in (district, city):
            for window in (week, since):
                for filtered, least in (
                    (events_filter(qs, category=category.code), 10),
                    (events_filter(qs, category=seeded.parent.code), 1),
                    (events_filter(qs, kind="component"), 1),
                    (events_filter(qs, sources="hotline"), 1),
                    (events_filter(qs, category=category.code, states="reported"), 10),
                ):
                    assert _same(window.apply(filtered, time_field="reported_at"), grid, cells=True) >= least
    grid = BinGrid.for_zoom("square", 12)
    cases = {
        "events_eventclassdaycell": events_filter(district, category=category.code),
        "events_eventdaycell": district,
    }
    for table, qs in cases.items():  # the whole days from the cells, only the part-days from the points
        with CaptureQueriesContext(connection) as captured:
            heatmap(week.apply(qs, time_field="reported_at"), grid)
        (sql,) = [q["sql"] for q in captured.captured_queries]
        assert f'"{table}"' in sql and sql.count('FROM "events_event"') == 2
        assert {"events_eventdaycell", "events_eventclassdaycell"} - {table} & set(
            re.findall(r"events_\w+", sql)
        ) == set()
    with CaptureQueriesContext(connection) as captured:  # no window: the cells by class
        heatmap(events_filter(district, category=category.code), grid)
    assert '"events_eventclasscell"' in captured.captured_queries[-1]["sql"]


def test_a_departments_heatmap_reads_its_index_alone(spread, departments):
    """A department's events (a filter no cell table keeps): the heatmap reads the points, and
    the department index carries what that statement reads (the point, the unit grid the
    jurisdiction scopes by) — an index-only scan, no heap page per event (0014)."""
    district = events_visible(Jurisdiction(region_code=A_CODE))
    ids = [e.pk for e in spread[:12]]
    Event.objects.filter(pk__in=ids).update(department=departments["a"])
    qs = events_filter(district, department=departments["a"].pk)
    grid = BinGrid.for_zoom("square", 12)
    assert _same(qs, grid, cells=False) >= 12
    with CaptureQueriesContext(connection) as captured:
        heatmap(qs, grid)
    (sql,) = [q["sql"] for q in captured.captured_queries]
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")  # the test city is small: ask for the index
        cur.execute("SET LOCAL enable_bitmapscan = off")
        cur.execute("EXPLAIN " + sql)
        plan = "\n".join(r[0] for r in cur.fetchall())
    assert "Index Only Scan using event_department_idx" in plan, plan


def test_state_changes_and_deletes_move_the_counts(spread, root, departments):
    district = events_visible(Jurisdiction(region_code=A_CODE))
    grid = BinGrid.for_zoom("square", 13)
    first, second = spread[0], spread[1]
    event_transition(principal=root, event_id=first.pk, action="verify", note="核实", at=local(2024, 7, 1, 9))
    event_transition(
        principal=root, event_id=first.pk, action="invalidate", note="无效", at=local(2024, 7, 1, 10)
    )
    _cells_match_events()
    assert _same(events_filter(district, states="invalid"), grid, cells=True) >= 1
    Event.objects.filter(pk=second.pk).update(geom=first.geom)  # moved onto another point
    _cells_match_events()
    Event.objects.filter(pk__in=[first.pk, second.pk]).delete()
    _cells_match_events()
    assert not EventCell.objects.filter(n__lte=0).exists()
    assert not EventFineCell.objects.filter(n__lte=0).exists()
    assert not EventCellTotal.objects.filter(n__lte=0).exists()
    _same(district, grid, cells=True)
    assert (
        EventDayCell.objects.exists()
        and EventClassCell.objects.exists()
        and EventClassDayCell.objects.exists()
    )
    with connection.cursor() as cur:  # a truncate empties every cell table
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred key checks first
        # the transitions named too: their reference is a trigger (0012), which CASCADE does not follow
        cur.execute("TRUNCATE events_event, events_eventtransition CASCADE")
    assert not any(m.objects.exists() for m in CELL_TABLES)


_UPDATES = "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname LIKE %s"


def test_cell_counts_change_in_place(spread, root, category):
    """A count change rewrites no index entry (a heap-only update): no index may cover ``n``
    (migration 0007), and the pages keep room for the new versions (fillfactor)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT relname, reloptions FROM pg_class WHERE relname LIKE %s AND relkind = 'r'",
            ["events_event%cell%"],
        )
        assert {name: opts for name, opts in cur.fetchall()} == {
            "events_eventcell": ["fillfactor=75"],
            "events_eventcelltotal": ["fillfactor=75"],
            "events_eventfinecell": ["fillfactor=75"],
            "events_eventdaycell": ["fillfactor=75"],
            "events_eventclasscell": ["fillfactor=75"],
            "events_eventclassdaycell": ["fillfactor=75"],
        }
        cur.execute(_UPDATES, ["events_event%cell%"])
        before = {name: (upd, hot) for name, upd, hot in cur.fetchall()}
    again = spread[2]
    _report(root, category, again.geom.x, again.geom.y, again.reported_at)  # the same cells again
    _cells_match_events()
    with connection.cursor() as cur:
        cur.execute(_UPDATES, ["events_event%cell"])
        for name, upd, hot in cur.fetchall():
            upd0, hot0 = before.get(name, (0, 0))
            assert upd - upd0 == 1, name  # one cell of each table counted one more event
            assert hot - hot0 == 1, name


def test_bulk_loads_are_counted_in_cells(db, category):
    grids = list(UnitGrid.objects.filter(code__startswith="510502").order_by("code")[:30])
    points = [g.geom.point_on_surface for g in grids] * 10
    n = len(points)
    rows = BulkEvents(
        lon=np.array([p.x for p in points]),
        lat=np.array([p.y for p in points]),
        category=np.full(n, category.code, dtype=object),
        state=np.full(n, "reported", dtype=object),
        reported_at=np.full(n, np.datetime64("2024-03-31T16:30:00", "us")),  # 04-01 00:30 in Beijing
    )
    before = EventCell.objects.filter(reported_at=local(2024, 4, 1)).count()
    result = events_bulk_create(rows, chunk_size=100, now=local(2024, 4, 2))
    assert result.created == n
    assert EventCell.objects.filter(reported_at=local(2024, 4, 1)).count() > before
    _cells_match_events()
    april = RangeFilter(since=local(2024, 4, 1), until=local(2024, 5, 1))
    district = events_visible(Jurisdiction(region_code=A_CODE))
    assert (
        _same(april.apply(district, time_field="reported_at"), BinGrid.for_zoom("square", 12), cells=True)
        >= n
    )


def _tile(layer, tile, qs) -> tuple[list, bool]:
    import mapbox_vector_tile

    from tiles.selectors.mvt import tile_render

    with CaptureQueriesContext(connection) as captured:
        body = tile_render(layer, tile, qs).data
    used = any(re.search(r"events_event(fine)?cell", q["sql"]) for q in captured.captured_queries)
    features = mapbox_vector_tile.decode(body)[layer.name]["features"] if body else []
    return sorted((f["properties"]["count"], tuple(f["geometry"]["coordinates"])) for f in features), used


def test_aggregated_event_tiles_sum_the_cells(spread):
    from tiles.registry import get_layer
    from tiles.selectors.mvt import layer_queryset
    from tiles.tilemath import lonlat_to_tile

    layer = get_layer("events")
    e = spread[0]
    cases = [
        (12, {}, True),
        (10, {"state": "reported"}, True),
        (12, {"category": spread[0].category.code}, False),  # not kept in cells: the scan
        (13, {}, True),  # the tile's cells are 4 fine cells wide
        (15, {"state": "reported"}, True),  # … one fine cell
        # a time window: only the coarse cells keep months, and they are too coarse at zoom 13
        (13, {"from": "2024-05-01T00:00:00+08:00", "to": "2024-07-01T00:00:00+08:00"}, False),
    ]
    for z, params, cells in cases:
        tile = lonlat_to_tile(e.geom.x, e.geom.y, z)
        qs = layer_queryset(layer, params, Jurisdiction(region_code=A_CODE))
        served, used = _tile(layer, tile, qs)
        saved = dict(density._CELLS)
        density._CELLS.clear()
        try:
            scanned, _ = _tile(layer, tile, qs)
        finally:
            density._CELLS.update(saved)
        assert used is cells
        assert served == scanned  # same cells, counts and (to the tile unit) centroids
        assert sum(n for n, _ in served) >= 1


def _both(fn, *, tables: bool = False):
    """(``fn()`` as served, ``fn()`` without cells, whether the coarse cells served it — or,
    with ``tables``, the names of the cell tables that did)."""
    with CaptureQueriesContext(connection) as captured:
        served = fn()
    sql = " ".join(q["sql"] for q in captured.captured_queries)
    found = {m._meta.db_table for m in CELL_TABLES if f'"{m._meta.db_table}"' in sql}
    used = found if tables else bool(found & {"events_eventcell", "events_eventcelltotal"})
    saved = dict(density._CELLS)
    density._CELLS.clear()
    try:
        return served, fn(), used
    finally:
        density._CELLS.update(saved)


def test_statistics_by_region_and_month_sum_the_cells(spread, category):
    from gis_core.selectors.stats import count_by_region, trend

    city = events_visible(Jurisdiction(region_code="510500000000"))
    district = events_visible(Jurisdiction(region_code=A_CODE))
    cases = [
        (lambda: count_by_region(city, 3), True),
        (lambda: count_by_region(events_filter(district, states="reported"), 5), True),
        (lambda: trend(city, "reported_at", "month"), True),
        (
            lambda: trend(district, "reported_at", "month", since=local(2024, 5, 1), until=local(2024, 7, 1)),
            True,
        ),
        (lambda: trend(district, "reported_at", "day"), False),  # the cells keep months only
        (lambda: count_by_region(events_filter(district, category=category.code), 4), False),
    ]
    for fn, cells in cases:
        served, scanned, used = _both(fn)
        assert used is cells
        assert served == scanned
        assert sum(r["count"] for r in served) >= 40


def test_the_cells_over_all_months_answer_what_asks_no_window(spread):
    """Of the two tables of coarse cells, the one over all months (fewer rows) serves heatmaps,
    counts by region and range counts without a time window; the month cells serve windows of
    whole months and the trend by month — the same answers as the scan either way."""
    from gis_core.selectors.stats import count_by_region, trend

    district = events_visible(Jurisdiction(region_code=A_CODE))
    may = RangeFilter(since=local(2024, 5, 1), until=local(2024, 6, 1))
    may = may.apply(district, time_field="reported_at")
    grid = BinGrid.for_zoom("square", 12)
    e = spread[0]
    circle = RangeFilter(circle=Circle(e.geom.x, e.geom.y, 3000))
    cases = [
        (lambda: _bins(heatmap(district, grid)), {"events_eventcelltotal"}),
        (lambda: _bins(heatmap(events_filter(district, states="reported"), grid)), {"events_eventcelltotal"}),
        (lambda: count_by_region(district, 5), {"events_eventcelltotal"}),
        (lambda: circle.count(district), {"events_eventcelltotal", "events_eventfinecell"}),
        (lambda: _bins(heatmap(may, grid)), {"events_eventcell"}),
        (lambda: trend(district, "reported_at", "month"), {"events_eventcell"}),
    ]
    for fn, tables in cases:
        served, scanned, used = _both(fn, tables=True)
        assert used == tables
        assert served == scanned


def test_a_map_view_sums_the_cells_inside_and_reads_the_points_along_its_edges(spread, api):
    """A heatmap of a bbox (the map's view): the cells wholly inside it are summed, only the
    points of the band along its edges are read — the same bins and total as the scan."""
    district = events_visible(Jurisdiction(region_code=A_CODE))
    xs = [e.geom.x for e in spread]
    ys = [e.geom.y for e in spread]
    west, south, east, north = min(xs), min(ys), max(xs), max(ys)
    rng = np.random.default_rng(11)
    used_cells = 0
    for _ in range(12):
        # boxes from a sliver of the points to all of them, edges cutting through cells
        fx = sorted(rng.uniform(-0.9, 1.9, 2))
        fy = sorted(rng.uniform(-0.9, 1.9, 2))
        box = (
            west + (east - west) * fx[0], south + (north - south) * fy[0],
            west + (east - west) * fx[1], south + (north - south) * fy[1],
        )  # fmt: skip
        for zoom in (14, 13, 12):
            grid = BinGrid.for_zoom("square", zoom)
            area = RangeFilter(bbox=box).split()[1]
            served, scanned, used = _both(lambda area=area, grid=grid: heatmap(district, grid, area=area))
            expected = RangeFilter(bbox=box).apply(district)
            assert _bins(served) == _bins(scanned)
            assert served.count == scanned.count == expected.count()
            used_cells += used
    assert used_cells >= 6  # boxes wide enough (3 cells or more) took the cells
    # through the API, the view's heatmap counts what the list counts
    bbox = ",".join(f"{v:.6f}" for v in (west - 0.01, south - 0.01, (west + east) / 2, north + 0.01))
    heat = api.get("/api/v1/events/heatmap", {"bbox": bbox, "zoom": 13}).json()
    listed = api.get("/api/v1/events", {"bbox": bbox, "count": "true"}).json()
    assert heat["count"] == listed["count"] > 0
    assert sum(b["count"] for b in heat["bins"]) == heat["count"]


@pytest.fixture
def dense(db, category) -> np.ndarray:
    """2,400 events over district A's grids (uniform in their union), a few of them exactly on
    cell corners and edges; returns their lon/lat."""
    import shapely

    grids = [shapely.from_wkb(bytes(g.geom.wkb)) for g in UnitGrid.objects.filter(code__startswith="510502")]
    union = shapely.union_all(grids)
    shapely.prepare(union)
    x0, y0, x1, y1 = union.bounds
    rng = np.random.default_rng(23)
    lon, lat = rng.uniform(x0, x1, 20_000), rng.uniform(y0, y1, 20_000)
    keep = shapely.contains_xy(union, lon, lat)
    lon, lat = lon[keep][:2_400], lat[keep][:2_400]
    # points on the lines between cells (as the cells' SQL numbers them)
    for k in range(0, 60, 3):
        i = np.floor(6378137.0 * np.radians(lon[k]) / CELL_M)
        lon[k] = np.degrees(i * CELL_M / 6378137.0)
    _report_march(lon, lat, category)
    return np.column_stack([lon, lat])


def _report_march(lon: np.ndarray, lat: np.ndarray, category) -> None:
    """Fresh reports of ``category`` at these points, all on 10 March 2024 (bulk-written)."""
    n = len(lon)
    rows = BulkEvents(
        lon=lon,
        lat=lat,
        category=np.full(n, category.code, dtype=object),
        state=np.full(n, "reported", dtype=object),
        reported_at=np.full(n, np.datetime64("2024-03-10T02:00:00", "us")),
    )
    assert events_bulk_create(rows, chunk_size=1_000, now=local(2024, 4, 2)).created == n


def _star(rng, lon: float, lat: float, radius_m: float):
    import shapely

    k = int(rng.integers(6, 13))
    angles = np.sort(rng.uniform(0, 2 * np.pi, k))
    r = radius_m * rng.uniform(0.4, 1.0, k)
    return shapely.Polygon(
        np.column_stack([lon + r * np.cos(angles) / 97_500, lat + r * np.sin(angles) / 111_000])
    )


def test_counts_and_heatmaps_of_any_shape_sum_the_cells_inside_and_test_the_edge(dense, api):
    """Circles, drawn polygons (one with a hole) and boxes: the count and the heatmap from the
    cells wholly inside the shape plus the exactly tested points of its edge cells equal the
    scan of the events, under scoping and with the cells' own filters; most shapes took the cells."""
    import shapely

    district = events_visible(Jurisdiction(region_code=A_CODE))
    reported = events_filter(district, states="reported,dispatched")  # a filter the cells keep
    rng = np.random.default_rng(7)
    shapes = []
    for n in range(24):
        lon, lat = dense[rng.integers(len(dense))]
        radius = float(rng.uniform(150, 2_500))
        if n % 3 == 0:
            shapes.append(RangeFilter(circle=Circle(float(lon), float(lat), radius)))
        elif n % 3 == 1:
            polygon = _star(rng, float(lon), float(lat), radius)
            if n == 4:  # with a hole
                polygon = polygon.difference(shapely.Point(lon, lat).buffer(radius / 4 / 111_000))
            shapes.append(RangeFilter(polygon=polygon))
        else:
            d = radius / 100_000
            shapes.append(RangeFilter(bbox=(lon - d, lat - d * 0.7, lon + d * 1.3, lat + d)))
    used_cells = 0
    for rf in shapes:
        for qs in (district, reported):
            served, scanned, used = _both(lambda rf=rf, qs=qs: rf.count(qs))
            assert served == scanned == rf.apply(qs).count()
            used_cells += used
        rest, area = rf.split()
        grid = BinGrid.for_zoom("square", 13)
        heat, heat_scanned, _ = _both(
            lambda rest=rest, area=area, grid=grid: heatmap(rest.apply(district), grid, area=area)
        )
        assert _bins(heat) == _bins(heat_scanned)
        assert heat.count == rf.apply(district).count()
    assert used_cells >= 20
    # a circle's edge is split again into fine cells: the fine table answers too
    with CaptureQueriesContext(connection) as captured:
        assert shapes[0].count(district) == shapes[0].apply(district).count()
    assert any("events_eventfinecell" in q["sql"] for q in captured.captured_queries)
    # the ground truth: geodesic distance on WGS84 for circles, planar lon/lat for polygons and boxes
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    march = RangeFilter(since=local(2024, 3, 1), until=local(2024, 4, 1))
    everywhere = march.apply(
        events_visible(Jurisdiction(nationwide=True)), time_field="reported_at"
    )  # the dense events
    lons, lats = dense[:, 0], dense[:, 1]
    for rf in shapes:
        if rf.circle is not None:
            c = rf.circle
            _, _, dist = geod.inv(np.full(len(lons), c.lon), np.full(len(lons), c.lat), lons, lats)
            truth = int((dist <= c.radius_m).sum())
        else:
            shape = rf.polygon if rf.polygon is not None else shapely.box(*rf.bbox)
            truth = int(shapely.intersects_xy(shape, lons, lats).sum())
        assert rf.count(everywhere) == truth
    # through the API (an administrator: everything): the count and the heatmap of a circle agree
    c = shapes[0].circle
    circle = {"lon": c.lon, "lat": c.lat, "radius": c.radius_m}
    listed = api.get("/api/v1/events", {**circle, "count": "true"}).json()
    heat = api.get("/api/v1/events/heatmap", {**circle, "zoom": 13}).json()
    assert (
        listed["count"]
        == heat["count"]
        == shapes[0].apply(events_visible(Jurisdiction(nationwide=True))).count()
        > 0
    )


def test_a_shape_with_little_inside_whole_cells_is_counted_from_its_points(dense, monkeypatch):
    monkeypatch.setattr(density, "MIN_INSIDE_M2", 24 * CELL_M**2)
    district = events_visible(Jurisdiction(region_code=A_CODE))
    lon, lat = dense[0]
    small, large = (RangeFilter(circle=Circle(float(lon), float(lat), r)) for r in (400.0, 2_500.0))
    for rf, cells in ((small, False), (large, True)):
        served, scanned, used = _both(lambda rf=rf: rf.count(district))
        assert served == scanned
        assert used is cells


def _same_clusters(served, scanned, cell_m: float) -> int:
    """The same bins in the same order (count, then bin): equal counts, centroids and lone ids;
    each bbox from the cells holds the points' own and is at most one cell wider on each side.
    Returns how many lone points there were."""
    assert [c.count for c in served] == [c.count for c in scanned]
    slack = np.degrees(cell_m / 6378137.0)  # a cell in degrees of longitude (latitude: less)
    for got, want in zip(served, scanned, strict=True):
        assert (got.lon, got.lat) == pytest.approx((want.lon, want.lat), abs=1e-9)
        assert got.id == want.id
        w0, s0, e0, n0 = want.bbox
        w1, s1, e1, n1 = got.bbox
        if got.count == 1:
            assert got.bbox == pytest.approx(want.bbox, abs=1e-9)
            assert got.bbox[:2] == pytest.approx((got.lon, got.lat), abs=1e-9)
        assert w0 - slack - 1e-9 <= w1 <= w0 + 1e-9 and s0 - slack - 1e-9 <= s1 <= s0 + 1e-9
        assert e0 - 1e-9 <= e1 <= e0 + slack + 1e-9 and n0 - 1e-9 <= n1 <= n0 + slack + 1e-9
    return sum(c.count == 1 for c in served)


def test_clusters_sum_the_cells_and_look_up_lone_points(dense, root, api, category):
    """Square clusters whose bins are powers of two of the cells: summed from the finest cells
    answering the filters (fine cells; the month cells under a time window), in a map view from
    its whole cells and its edge's points — the same clusters as the scan, lone ids included."""
    from gis_core.selectors.density import clusters

    district = events_visible(Jurisdiction(region_code=A_CODE))
    lone = 0
    sparse = district.exclude(state="reported")  # the district's few other events: lone points
    for zoom in (12, 14, 16, 17, 18):
        grid = BinGrid.for_zoom("square", zoom, 64)
        for qs in (district, sparse):
            served, scanned, used = _both(lambda grid=grid, qs=qs: clusters(qs, grid), tables=True)
            assert used == {"events_eventfinecell"}
            assert sum(c.count for c in served) == qs.count()
            lone += _same_clusters(served, scanned, FINE_CELL_M)
    assert district.count() >= len(dense)
    assert lone > 20  # the lone points were looked up
    # a time window on whole months: only the month cells answer (coarser bboxes)
    window = RangeFilter(since=local(2024, 3, 1), until=local(2024, 4, 1))
    march = window.apply(district, time_field="reported_at")
    served, scanned, used = _both(lambda: clusters(march, BinGrid.for_zoom("square", 13, 64)), tables=True)
    assert used == {"events_eventcell"}
    _same_clusters(served, scanned, CELL_M)
    # a category: only the cells by class answer (wide cells, two a bin at zoom 12 — coarser bboxes),
    # in a map view too (its whole wide cells, its edge's points)
    of_class = events_filter(district, category=category.code)
    grid = BinGrid.for_zoom("square", 12, 64)
    served, scanned, used = _both(lambda: clusters(of_class, grid), tables=True)
    assert used == {"events_eventclasscell"} and sum(c.count for c in served) == of_class.count() > 0
    _same_clusters(served, scanned, WIDE_CELL_M)
    # a category under a window of whole days: only the cells by class and day answer
    days = RangeFilter(since=local(2024, 3, 9), until=local(2024, 3, 12)).apply(
        of_class, time_field="reported_at"
    )
    served, scanned, used = _both(lambda: clusters(days, grid), tables=True)
    assert used == {"events_eventclassdaycell"} and sum(c.count for c in served) == days.count() > 0
    _same_clusters(served, scanned, WIDE_CELL_M)
    lon, lat = dense.mean(axis=0)
    rest, area = RangeFilter(bbox=(lon - 0.05, lat - 0.04, lon + 0.05, lat + 0.04)).split()
    served, scanned, used = _both(lambda: clusters(rest.apply(of_class), grid, area=area), tables=True)
    assert used == {"events_eventclasscell"}
    _same_clusters(served, scanned, WIDE_CELL_M)
    # a field worker's grids: scoped in the cells as in the scan
    worker = events_visible(Jurisdiction(grid_codes=tuple(district.values_list("grid_code", flat=True)[:3])))
    served, scanned, used = _both(lambda: clusters(worker, BinGrid.for_zoom("square", 15, 64)), tables=True)
    assert used and sum(c.count for c in served) == worker.count() > 0
    _same_clusters(served, scanned, FINE_CELL_M)
    # map views and circles: whole cells inside, the edge's points tested
    rng = np.random.default_rng(3)
    for n in range(8):
        lon, lat = dense[rng.integers(len(dense))]
        d = float(rng.uniform(0.01, 0.03))
        rf = (
            RangeFilter(bbox=(lon - d, lat - d * 0.6, lon + d * 1.2, lat + d))
            if n % 2
            else RangeFilter(circle=Circle(float(lon), float(lat), d * 90_000))
        )
        rest, area = rf.split()
        grid = BinGrid.for_zoom("square", 15, 64)
        qs = rest.apply(district)
        served, scanned, used = _both(
            lambda qs=qs, area=area, grid=grid: clusters(qs, grid, area=area), tables=True
        )
        assert used
        assert sum(c.count for c in served) == rf.apply(district).count()
        _same_clusters(served, scanned, CELL_M)  # the coarse cells wholly inside count too
    # hexagons or bins that are not powers of two of the cells: the scan
    for grid in (BinGrid.for_zoom("hex", 14, 64), BinGrid.for_zoom("square", 14, 60)):
        assert _both(lambda grid=grid: clusters(district, grid), tables=True)[2] == set()
    # through the API: a map view's clusters add up to the list's count; lone ids are events in it
    west, south = dense.min(axis=0)
    east, north = dense.max(axis=0)
    bbox = ",".join(f"{v:.6f}" for v in (west, south, (west + east) / 2, north))
    body = api.get("/api/v1/events/clusters", {"bbox": bbox, "zoom": 16}).json()
    listed = api.get("/api/v1/events", {"bbox": bbox, "count": "true"}).json()
    assert body["count"] == sum(c["count"] for c in body["clusters"]) == listed["count"] > 0
    ids = [c["id"] for c in body["clusters"] if "id" in c]
    inside = RangeFilter(bbox=tuple(float(v) for v in bbox.split(","))).apply(Event.objects.all())
    assert ids and inside.filter(pk__in=ids).count() == len(ids)


def test_a_circle_counts_the_points_a_centimetre_either_side_of_its_edge(db, category, monkeypatch):
    """The circle's cells are classified by their distances on the spheroid, 0.05 % of the
    radius either side of it (gis_core.ground.GroundDisc): points 2 cm inside and 2 cm outside
    the radius, all round, and on the lines between cells near it, are counted as the scan and
    GeographicLib count them — from the cells, the fine ones included."""
    import shapely
    from pyproj import Geod

    from gis_core.ground import GroundDisc

    grids = [shapely.from_wkb(bytes(g.geom.wkb)) for g in UnitGrid.objects.filter(code__startswith="5105")]
    radius = 700.0  # inside the test city's grids
    centre = shapely.union_all(grids).buffer(-1.05 * radius / 100_000).point_on_surface()
    lon0, lat0 = centre.x, centre.y
    monkeypatch.setattr(density, "MIN_INSIDE_M2", 0)  # the cells for a circle this small too
    geod = Geod(ellps="WGS84")
    azimuths = np.repeat(np.linspace(0, 360, 300, endpoint=False), 2)
    distances = np.tile([radius - 0.02, radius + 0.02], 300)
    lon, lat, _ = geod.fwd(np.full(600, lon0), np.full(600, lat0), azimuths, distances)
    x = np.floor(6378137.0 * np.radians(lon[::10]) / (CELL_M / 8))  # some moved onto fine cell lines
    lon[::10] = np.degrees(x * (CELL_M / 8) / 6378137.0)
    n = len(lon)
    _report_march(lon, lat, category)
    _, _, dist = geod.inv(np.full(n, lon0), np.full(n, lat0), lon, lat)
    truth = int((dist <= radius).sum())
    assert 250 < truth < 350
    rf = RangeFilter(circle=Circle(float(lon0), float(lat0), radius))
    everywhere = events_visible(Jurisdiction(nationwide=True))
    tests = []  # the cells' test each level was classified by: the disc's own, not the polygons
    real_cover = density.cell_cover
    monkeypatch.setattr(
        density, "cell_cover", lambda *a, **kw: tests.append(kw.get("classify")) or real_cover(*a, **kw)
    )
    with CaptureQueriesContext(connection) as captured:
        served = rf.count(everywhere)
    assert len(tests) == 2 and all(isinstance(getattr(t, "__self__", None), GroundDisc) for t in tests)
    assert served == rf.apply(everywhere).count()
    assert any('"events_eventfinecell"' in q["sql"] for q in captured.captured_queries)
    assert rf.apply(everywhere.filter(category=category)).count() == truth
