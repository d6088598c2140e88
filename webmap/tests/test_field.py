"""The field page (/field/) on a phone-sized page (390×844) in a real browser: the browser's
position (granted, a fake GCJ-02 fix inside one of the worker's grids) is located, an event is
reported with a category and a photo, and the API then lists it in that grid at the WGS84 point
the fix stands for; my grids and my tasks are shown."""

from __future__ import annotations

import io
import math

from PIL import Image
from playwright.sync_api import expect

from gis_core.crs import wgs84_to_gcj02

PHONE = {"width": 390, "height": 844}


def _photo() -> dict:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 60, 40)).save(buffer, "JPEG")
    return {"name": "现场.jpg", "mimeType": "image/jpeg", "buffer": buffer.getvalue()}


def _ground_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    dx = (a[0] - b[0]) * 111_320 * math.cos(math.radians(a[1]))
    return math.hypot(dx, (a[1] - b[1]) * 110_574)


def test_report_an_event_from_the_phone(page_as, screenshot):
    page = page_as("jiangyang_field_staff", None)
    page.set_viewport_size(PHONE)
    page.goto("/field/")
    info = page.evaluate("JSON.parse(document.getElementById('user-info').textContent)")
    grids = info["jurisdiction"]["grids"]
    assert grids, "the demo field worker has grids"
    grid = page.request.get(f"/api/v1/grids/{grids[0]}").json()
    expect(page.locator(".grid-label")).to_have_count(len(grids))  # my grids, labelled

    # a point well inside the first grid (WGS84), as the phone would give it (GCJ-02)
    ring = grid["geometry"]["coordinates"][0][0]
    lon = sum(p[0] for p in ring[:-1]) / (len(ring) - 1)
    lat = sum(p[1] for p in ring[:-1]) / (len(ring) - 1)
    check = page.request.get("/api/v1/locate", params={"lon": lon, "lat": lat}).json()
    assert check["grid"]["code"] == grids[0], "the vertex mean of this demo grid lies inside it"
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    page.context.grant_permissions(["geolocation"], origin=page.cg.server.url)
    page.context.set_geolocation({"longitude": float(g_lon), "latitude": float(g_lat), "accuracy": 8})

    page.click("#locate-me")
    where = page.locator("#field-where")
    expect(where).to_contain_text(grid["properties"]["name"])
    expect(where).to_have_attribute("data-crs", "gcj02")
    expect(page.locator(".me-marker")).to_have_count(1)

    page.select_option("#report-category", "C0101")  # 上水井盖
    page.fill("#report-description", "井盖破损，浏览器测试上报")
    page.set_input_files("#report-photo", _photo())
    with page.expect_response(
        lambda r: r.url.endswith("/api/v1/events") and r.request.method == "POST"
    ) as answer:
        page.click("#report-submit")
    assert answer.value.status == 201, answer.value.text()
    event_id = answer.value.json()["id"]
    expect(page.locator("#report-form")).to_have_attribute("data-last-event", str(event_id))

    listed = page.request.get(
        "/api/v1/events", params={"grid": grids[0], "state": "reported", "page_size": 100}
    )
    feature = next(f for f in listed.json()["features"] if f["id"] == event_id)
    assert feature["properties"]["category"] == "C0101"
    assert feature["properties"]["grid_code"] == grids[0]
    assert feature["properties"]["source"] == "field"
    assert _ground_m(tuple(feature["geometry"]["coordinates"]), (lon, lat)) < 3  # GCJ-02 undone
    detail = page.request.get(f"/api/v1/events/{event_id}").json()
    props = detail.get("properties", detail)
    assert len(props["attachments"]) == 1 and props["attachments"][0]["kind"] == "image"
    assert props["client_id"]  # the page sent its client id (idempotent resend)

    page.click("#tab-tasks")
    expect(page.locator(f".task[data-id='{event_id}']")).to_contain_text("待核实")
    screenshot(page, "field-phone")
