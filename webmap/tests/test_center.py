"""The command center in a real browser: layers, search, range query, measuring, the time filter and
jurisdiction scoping, against the running server with the demo city."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import mapbox_vector_tile
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from pyproj import Geod

JIANGYANG = "510502"
LONGMATAN = "510504"
# a door plate of 江阳区 in the demo city (seed 1) and its unit grid
ADDRESS = "泸州市江阳区酒城大道48号"
ADDRESS_GRID = "510502001002002"
JIANGYANG_SPOT = (28.8652, 105.4402)  # lat, lon of that door, inside 江阳区

WGS84 = Geod(ellps="WGS84")


def listen(page, event: str) -> None:
    """Keep the detail of the page's last ``event`` on the bus in window.__<event>."""
    name = "__" + event.replace("-", "_")
    page.evaluate(
        f"window.{name} = null; civgrid.bus.addEventListener('{event}', e => {{ window.{name} = e.detail; }})"
    )


def wait_idle(page, timeout: float = 30_000) -> None:
    page.wait_for_function("window.civgrid && window.civgrid.ready && window.civgrid.idle()", timeout=timeout)


def open_center(page_as, username: str = "jiangyang_operator"):
    page = page_as(username, "/map/")
    wait_idle(page)
    return page


def layer_stats(page, key: str) -> dict:
    return page.evaluate(f"civgrid.layers[{json.dumps(key)}].stats")


def set_view(page, lat: float, lon: float, zoom: int) -> None:
    page.evaluate(f"civgrid.map.setView([{lat}, {lon}], {zoom}, {{animate: false}})")
    page.wait_for_timeout(100)
    wait_idle(page)


def map_point(page, fx: float, fy: float) -> tuple[float, float]:
    """Page coordinates of a point at fractions (fx, fy) of the map's box."""
    box = page.locator("#map").bounding_box()
    return box["x"] + box["width"] * fx, box["y"] + box["height"] * fy


def latlng_at(page, x: float, y: float) -> tuple[float, float]:
    box = page.locator("#map").bounding_box()
    ll = page.evaluate(
        "([x, y]) => { const p = civgrid.map.containerPointToLatLng([x, y]); return [p.lat, p.lng]; }",
        [x - box["x"], y - box["y"]],
    )
    return ll[0], ll[1]


def test_center_opens_on_the_jurisdiction_with_default_layers(page_as, screenshot):
    page = open_center(page_as)
    # fitted to 江阳区, default layers drawn from tiles
    center = page.evaluate("(() => { const c = civgrid.map.getCenter(); return [c.lat, c.lng]; })()")
    info = page.evaluate("JSON.parse(document.getElementById('user-info').textContent)")
    (south, west), (north, east) = info["bounds"]
    assert south <= center[0] <= north and west <= center[1] <= east
    assert info["jurisdiction"]["region"] == JIANGYANG + "000000"
    for key in ("regions-district", "grids", "events"):
        stats = layer_stats(page, key)
        assert stats["loaded"] > 0 and stats["failed"] == 0, (key, stats)
        assert stats["features"] > 0, (key, stats)
    assert any("/tiles/events/" in url for url in page.cg.requests)
    assert any("/basemap/tiles/basemap/webmercator/" in url for url in page.cg.requests)
    # scale bar, cursor coordinates and the overview map (鹰眼)
    expect(page.locator(".leaflet-control-scale-line")).to_be_visible()
    expect(page.locator(".leaflet-control-minimap")).to_be_visible()
    page.mouse.move(*map_point(page, 0.5, 0.5))
    expect(page.locator(".cg-coords")).to_contain_text("经度 105.")
    timing = page.evaluate("civgrid.timing")
    assert timing["baseLoaded"] and timing["allLoaded"]
    screenshot(page, "center-operator")


def test_layers_toggle_request_and_draw_tiles(page_as, screenshot):
    page = open_center(page_as)
    set_view(page, *JIANGYANG_SPOT, 16)
    for key in ("components", "cameras", "civilization", "staff", "regions-community"):
        before = sum(f"/tiles/{key}/" in url for url in page.cg.requests)
        page.check(f'input[data-layer="{key}"]')
        wait_idle(page)
        stats = layer_stats(page, key)
        assert sum(f"/tiles/{key}/" in url for url in page.cg.requests) > before, key
        assert stats["loaded"] > 0 and stats["failed"] == 0, (key, stats)
        if key != "staff":  # who is on patrol "now" depends on when the test database was built
            assert stats["features"] > 0, (key, stats)
    screenshot(page, "center-all-layers")
    # switched off: gone from the map
    page.uncheck('input[data-layer="components"]')
    assert page.evaluate("civgrid.map.hasLayer(civgrid.layers.components)") is False
    # heatmap: server bins for the view
    page.check('input[data-layer="heatmap"]')
    wait_idle(page)
    heat = page.evaluate("({bins: civgrid.layers.heatmap.bins, total: civgrid.layers.heatmap.total})")
    assert heat["bins"] > 0 and heat["total"] > 0
    assert any("/api/v1/events/heatmap?" in url for url in page.cg.requests)
    page.select_option("#heatmap-shape", "hex")
    wait_idle(page)
    assert any("shape=hex" in url for url in page.cg.requests if "/heatmap?" in url)
    screenshot(page, "center-heatmap")


def test_event_click_selects_the_event(page_as):
    page = open_center(page_as)
    set_view(page, *JIANGYANG_SPOT, 16)
    hit = page.evaluate(
        """(() => {
        const layer = civgrid.layers.events;
        for (const drawn of layer.features.values()) for (const f of drawn) if (f.props.id) {
          const key = [...layer.features.entries()].find(([, v]) => v === drawn)[0];
          const [x, y, z] = key.split(':').map(Number);
          const size = layer.getTileSize().x;
          const p = civgrid.map.unproject([x * size + f.rings[0][0][0], y * size + f.rings[0][0][1]], z);
          const c = civgrid.map.latLngToContainerPoint(p);
          return {id: f.props.id, x: c.x, y: c.y};
        }
        return null;
      })()"""
    )
    assert hit, "no event point drawn at z16"
    listen(page, "event-selected")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + hit["x"], box["y"] + hit["y"])
    expect(page.locator(".cg-popup .popup-title")).to_have_text(f"事件 #{hit['id']}")
    assert page.evaluate("window.__event_selected.id") == hit["id"]


def test_search_places_the_address_and_highlights_its_grid(page_as, screenshot):
    page = open_center(page_as)
    page.fill("#search-input", "江阳区酒城大道48")
    expect(page.locator("#search-suggest li").first).to_contain_text("酒城大道48号", timeout=20_000)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("#search-grid")).to_have_attribute("data-code", ADDRESS_GRID, timeout=30_000)
    expect(page.locator("#search-result .addr")).to_contain_text("酒城大道48号")
    page.wait_for_function(f"civgrid.highlightedGrid === '{ADDRESS_GRID}'")
    # the map moved onto the grid (fitBounds animates: wait for it to arrive, not merely to start)
    lat, lon = JIANGYANG_SPOT
    page.wait_for_function(
        f"(() => {{ const c = civgrid.map.getCenter(); return Math.abs(c.lat - {lat}) < 0.003 "
        f"&& Math.abs(c.lng - {lon}) < 0.003; }})()",
        timeout=10_000,
    )
    wait_idle(page)
    screenshot(page, "center-search")
    # typing an address and pressing the button works too; an unknown one says so
    page.fill("#search-input", ADDRESS)
    page.click("#search-go")
    expect(page.locator("#search-grid")).to_have_attribute("data-code", ADDRESS_GRID, timeout=30_000)


def draw_circle(page, fx: float = 0.5, fy: float = 0.5, rx: float = 0.18) -> None:
    page.click('#range-tools [data-shape="Circle"]')
    x, y = map_point(page, fx, fy)
    box = page.locator("#map").bounding_box()
    page.mouse.click(x, y)
    page.mouse.move(x + box["width"] * rx / 2, y, steps=4)
    page.mouse.move(x + box["width"] * rx, y, steps=4)
    page.mouse.click(x + box["width"] * rx, y)


def test_circle_counts_match_the_api(page_as, screenshot):
    page = open_center(page_as)
    set_view(page, *JIANGYANG_SPOT, 15)
    listen(page, "range-selected")
    x, y = map_point(page, 0.5, 0.5)
    draw_circle(page)
    page.wait_for_function("civgrid.rangeCounts !== null")
    params = page.evaluate("window.__range_selected")
    assert set(params) == {"lon", "lat", "radius"}
    lat, lon = latlng_at(page, x, y)
    assert abs(float(params["lat"]) - lat) < 1e-4 and abs(float(params["lon"]) - lon) < 1e-4
    counts = page.evaluate("civgrid.rangeCounts")
    for key, url in (
        ("events", "/api/v1/events"),
        ("components", "/api/v1/components"),
        ("cameras", "/api/v1/cameras"),
        ("civilization", "/api/v1/civilization/units"),
    ):
        answer = page.request.get(url, params={**params, "count": "true"})
        assert answer.ok, answer.text()
        assert counts[key] == answer.json()["count"], key
    assert counts["events"] > 0 and counts["components"] > 0
    expect(page.locator('#range-result [data-count="events"]')).to_have_text(str(counts["events"]))
    page.click('#range-result a[data-list="events"]')
    expect(page.locator("#range-list li")).to_have_count(min(10, counts["events"]))
    screenshot(page, "center-circle")
    # by region: the API's count for that region
    page.select_option("#range-region", index=1)
    page.wait_for_function("window.__range_selected && window.__range_selected.region")
    region = page.evaluate("window.__range_selected.region")
    shape = "document.querySelector('#range-result .range-shape').textContent"
    page.wait_for_function(f"civgrid.rangeCounts && {shape}.includes('行政区')")
    wait_idle(page)
    answer = page.request.get("/api/v1/events", params={"region": region, "count": "true"})
    assert page.evaluate("civgrid.rangeCounts.events") == answer.json()["count"]


def test_rectangle_and_polygon_ranges(page_as):
    page = open_center(page_as)
    set_view(page, *JIANGYANG_SPOT, 15)
    listen(page, "range-selected")
    page.click('#range-tools [data-shape="Rectangle"]')
    page.mouse.click(*map_point(page, 0.3, 0.3))
    page.mouse.move(*map_point(page, 0.5, 0.5), steps=4)
    page.mouse.click(*map_point(page, 0.7, 0.7))
    page.wait_for_function("window.__range_selected && window.__range_selected.bbox && civgrid.rangeCounts")
    wait_idle(page)
    params = page.evaluate("window.__range_selected")
    answer = page.request.get("/api/v1/events", params={**params, "count": "true"})
    assert page.evaluate("civgrid.rangeCounts.events") == answer.json()["count"]

    page.evaluate("civgrid.rangeCounts = null")
    page.click('#range-tools [data-shape="Polygon"]')
    corners = [(0.35, 0.3), (0.7, 0.35), (0.6, 0.75), (0.3, 0.6)]
    for fx, fy in corners:
        page.mouse.click(*map_point(page, fx, fy))
    page.mouse.click(*map_point(page, *corners[0]))  # back on the first vertex closes it
    page.wait_for_function(
        "window.__range_selected && window.__range_selected.polygon && civgrid.rangeCounts"
    )
    wait_idle(page)
    params = page.evaluate("window.__range_selected")
    assert json.loads(params["polygon"])["type"] == "Polygon"
    answer = page.request.get("/api/v1/events", params={**params, "count": "true"})
    assert page.evaluate("civgrid.rangeCounts.events") == answer.json()["count"]


def test_measure_distance_and_area_on_the_ground(page_as, screenshot):
    page = open_center(page_as)
    set_view(page, *JIANGYANG_SPOT, 16)
    page.click("#measure-line")
    a = map_point(page, 0.3, 0.5)
    b = map_point(page, 0.7, 0.6)
    page.mouse.click(*a)
    page.mouse.dblclick(*b)
    expect(page.locator("#measure-value")).to_be_visible()
    metres = float(page.locator("#measure-value").get_attribute("data-metres"))
    (lat1, lon1), (lat2, lon2) = latlng_at(page, *a), latlng_at(page, *b)
    _, _, truth = WGS84.inv(lon1, lat1, lon2, lat2)
    assert metres == pytest.approx(truth, rel=0.005)

    page.click("#measure-area")
    corners = [map_point(page, fx, fy) for fx, fy in ((0.3, 0.3), (0.6, 0.3), (0.6, 0.7), (0.3, 0.7))]
    for corner in corners:
        page.mouse.click(*corner)
    page.mouse.click(*corners[0])
    expect(page.locator("#measure-value[data-m2]")).to_be_visible()
    m2 = float(page.locator("#measure-value").get_attribute("data-m2"))
    lls = [latlng_at(page, *c) for c in corners]
    truth_area, _ = WGS84.polygon_area_perimeter([ll[1] for ll in lls], [ll[0] for ll in lls])
    assert m2 == pytest.approx(abs(truth_area), rel=0.01)
    screenshot(page, "center-measure")


def test_time_filter_reaches_the_event_tiles(page_as):
    page = open_center(page_as)
    listen(page, "filters-changed")
    page.click('.time-quick [data-days="7"]')
    page.wait_for_function("window.__filters_changed && window.__filters_changed.from")
    wait_idle(page)
    filters = page.evaluate("window.__filters_changed")
    tiles = [u for u in page.cg.requests if "/tiles/events/" in u and "from=" in u]
    assert tiles, "no event tile was fetched with the time filter"
    query = parse_qs(urlsplit(tiles[-1]).query)
    assert query["from"] == [filters["from"]] and query["to"] == [filters["to"]]
    stats = layer_stats(page, "events")
    assert stats["failed"] == 0


def _decoded_tiles(page, responses, layer: str) -> list[dict]:
    features = []
    for response in responses:
        if f"/tiles/{layer}/" not in response.url or response.status != 200:
            continue
        try:
            body = response.body()
        except PlaywrightError:  # a tile the map dropped meanwhile: the same URL, the same session
            body = page.request.get(response.url).body()
        if body:
            for decoded in mapbox_vector_tile.decode(body).values():
                features.extend(decoded["features"])
    return features


def test_a_district_user_sees_only_their_district(page_as, screenshot):
    responses = []
    page = page_as("longmatan_operator", None)
    page.on("response", lambda response: responses.append(response))
    page.goto("/map/")
    wait_idle(page)
    info = page.evaluate("JSON.parse(document.getElementById('user-info').textContent)")
    assert info["jurisdiction"]["region"] == LONGMATAN + "000000"
    for key in ("components", "cameras", "civilization"):
        page.check(f'input[data-layer="{key}"]')
    set_view(page, *JIANGYANG_SPOT, 16)  # look at 江阳区: nothing of it may come back
    set_view(page, 28.8762, 105.4358, 16)  # and at 龙马潭区
    screenshot(page, "center-longmatan")
    seen = 0
    checked = (("events", "grid"), ("grids", "code"), ("components", "grid"), ("cameras", "grid"))
    for layer, attr in (*checked, ("civilization", "grid")):
        for feature in _decoded_tiles(page, responses, layer):
            props = feature["properties"]
            if attr in props:
                seen += 1
                assert props[attr].startswith(LONGMATAN), (layer, props)
    assert seen > 0
    # API answers (event list, counts) are scoped too
    for response in responses:
        is_json = "json" in response.headers.get("content-type", "")
        if "/api/v1/events" in response.url and response.status == 200 and is_json:
            for feature in response.json().get("features", []):
                assert feature["properties"]["district_code"].startswith(LONGMATAN)
    # a circle drawn over 江阳区 counts what the (scoped) API counts there
    set_view(page, *JIANGYANG_SPOT, 17)
    listen(page, "range-selected")
    draw_circle(page, rx=0.1)
    page.wait_for_function("civgrid.rangeCounts !== null")
    params = page.evaluate("window.__range_selected")
    counts = page.evaluate("civgrid.rangeCounts")
    answer = page.request.get("/api/v1/events", params={**params, "count": "true"})
    assert counts["events"] == answer.json()["count"]


def test_field_staff_and_nationwide_admin(page_as, screenshot):
    # field staff: three grids as the jurisdiction; the range tool offers exactly those grids
    staff = open_center(page_as, "jiangyang_field_staff")
    info = staff.evaluate("JSON.parse(document.getElementById('user-info').textContent)")
    grids = info["jurisdiction"]["grids"]
    assert len(grids) == 3 and info["bounds"]
    expect(staff.locator("#range-region option[data-kind='grid']")).to_have_count(3)
    expect(staff.locator('input[data-layer="staff"]')).to_be_disabled()  # no tracks:read
    listen(staff, "range-selected")
    staff.select_option("#range-region", grids[0])
    staff.wait_for_function("window.__range_selected && window.__range_selected.grid && civgrid.rangeCounts")
    wait_idle(staff)
    answer = staff.request.get("/api/v1/events", params={"grid": grids[0], "count": "true"})
    assert staff.evaluate("civgrid.rangeCounts.events") == answer.json()["count"]
    for feature in _decoded_tiles_of(staff, "grids"):
        assert feature["properties"]["code"] in grids
    screenshot(staff, "center-field-staff")
    # the nationwide administrator opens on every mapped region, with every layer available
    admin = open_center(page_as, "admin")
    assert admin.evaluate("document.querySelectorAll('#layer-list input:disabled').length") == 0
    expect(admin.locator(".topbar .user-where")).to_have_text("全国")


def _decoded_tiles_of(page, layer: str) -> list[dict]:
    """The features of the tiles of ``layer`` the page's map holds now (fetched again over HTTP)."""
    urls = page.evaluate(
        f"""(() => {{ const l = civgrid.layers[{json.dumps(layer)}]; if (!l) return [];
        return [...l.features.keys()].map(k => {{ const [x, y, z] = k.split(':').map(Number);
        return l.tileUrl({{x, y, z}}); }}); }})()"""
    )
    features = []
    for url in urls:
        body = page.request.get(url).body()
        for decoded in mapbox_vector_tile.decode(body).values() if body else ():
            features.extend(decoded["features"])
    assert urls, f"no {layer} tile on the map"
    return features


def test_export_the_view_as_a_folium_map(page_as, screenshot):
    """导出当前视图: the event heatmap of the view with the page's time window, as an offline
    folium page whose figures are the heatmap API's for the same view."""
    page = open_center(page_as)
    set_view(page, *JIANGYANG_SPOT, 14)
    page.click("#time-box [data-days='30']")
    page.select_option("#export-format", "html")
    with page.expect_response(
        lambda r: r.url.endswith("/api/v1/exports/maps") and r.request.method == "POST"
    ) as queued:
        page.click("#export-go")
    assert queued.value.status == 202, queued.value.text()
    spec = json.loads(queued.value.request.post_data)
    assert spec["layer"] == "event_heatmap" and spec["params"]["bbox"] and spec["params"]["from"]
    link = page.locator("#export-link")
    expect(link).to_be_visible(timeout=90_000)
    html = page.request.get(link.get_attribute("href")).text()
    assert "leaflet-container" in html and "//cdn" not in html
    heat = page.request.get("/api/v1/events/heatmap", params={**spec["params"]}).json()
    found = re.search(r'<script type="application/json" id="export-meta">(.*?)</script>', html, re.S)
    meta = json.loads(found.group(1))
    assert heat["count"] > 0 and (meta["count"], meta["bins"]) == (heat["count"], len(heat["bins"]))
    screenshot(page, "center-export")
