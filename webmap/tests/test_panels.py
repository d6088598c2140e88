"""The command center's side panels (js/panels/) in a real browser, against the served demo city:
the event list and its count agree with the API for the same filters and ranges, an event opened
from the list moves one step through its lifecycle (and the API agrees), the charts show the
API's numbers, and a user whose role may not act sees no action button."""

from __future__ import annotations

import csv
import io
import json
import re

from playwright.sync_api import expect

OPERATOR = "jiangyang_operator"
PLANNER = "jiangyang_planner"
DISTRICT = "510502000000"  # 江阳区

LIST = "#cg-panels [data-pane=list]"
DETAIL = "#cg-panels [data-pane=detail]"
STATS = "#cg-panels [data-pane=stats]"


def api_get(page, path: str, params: dict | None = None) -> dict:
    """The API as the signed-in user of ``page`` (its cookies)."""
    response = page.request.get(path, params=params)
    assert response.ok, f"{path} {params}: {response.status} {response.text()[:300]}"
    return response.json()


def api_post(page, path: str, body: dict, params: dict | None = None) -> dict:
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        path,
        params=params,
        data=json.dumps(body),
        headers={"Content-Type": "application/json", "X-CSRFToken": token, "Referer": page.url},
    )
    assert response.ok, f"{path}: {response.status} {response.text()[:300]}"
    return response.json()


def open_panels(page) -> None:
    """Wait for the panels (pages are opened at DOMContentLoaded: the panels need not wait for
    every base-map and vector tile of the map)."""
    # the first page of a fresh server waits longest (workers warming up): more than expect's 5 s
    expect(page.locator("#cg-panels")).to_have_attribute("data-ready", "true", timeout=30_000)
    expect(page.locator(f"{LIST} [data-role=count]")).not_to_have_text("—", timeout=30_000)


def map_bbox(page) -> str:
    """The bbox the panel asks for: the map's view, as core.js writes it."""
    return page.evaluate("async () => (await import('/static/webmap/js/core.js')).bboxOf(window.civgrid.map)")


def emit(page, name: str, detail) -> None:
    """What the map's tools announce on the page's bus (core.js ``bus``)."""
    page.evaluate(
        "([n, d]) => window.civgrid.bus.dispatchEvent(new CustomEvent(n, {detail: d}))", [name, detail]
    )


def select_filter(page, name: str, value: str) -> None:
    page.select_option(f"{LIST} form.cgp-filters select[name={name}]", value)


def report_event(page, note: str) -> int:
    """A new event in 江阳区 (reported), at the point of one of the district's demo events."""
    some = api_get(page, "/api/v1/events", {"region": DISTRICT, "page_size": 1})["features"][0]
    lon, lat = some["geometry"]["coordinates"]
    created = api_post(
        page,
        "/api/v1/events",
        {"category": "E0109", "description": note, "lon": lon, "lat": lat, "source": "hotline"},
    )
    assert created["properties"]["state"] == "reported"
    return created["id"]


def test_an_event_from_the_list_moves_one_step(page_as, screenshot):
    page = page_as(OPERATOR, "/map/", wait_until="domcontentloaded")
    open_panels(page)
    event_id = report_event(page, "浏览器测试：道路遗撒待核实")
    select_filter(page, "state", "reported")
    select_filter(page, "source", "hotline")
    item = page.locator(f"{LIST} li.cgp-event[data-id='{event_id}']")
    expect(item).to_be_visible()  # newest first: on the first page
    screenshot(page, "panels-list-operator")

    item.locator("button").click()
    detail = page.locator(DETAIL)
    expect(detail).to_be_visible()
    # the map brings the chosen event into view and marks it
    expect(page.locator("path.cg-selected-event")).to_have_count(1)
    marked = page.evaluate("civgrid.selectedEvent")
    point = api_get(page, f"/api/v1/events/{event_id}")["geometry"]["coordinates"]
    assert abs(marked[0] - point[1]) < 1e-6 and abs(marked[1] - point[0]) < 1e-6
    assert page.evaluate("civgrid.map.getBounds().contains(civgrid.selectedEvent)")
    expect(page.locator("#cg-panels [data-pane=detail]")).to_have_attribute("data-event-id", str(event_id))
    expect(detail.locator("[data-role=state]")).to_have_text("已上报")
    expect(detail.locator("[data-role=grid]")).to_contain_text("网格")  # the grid's name, fetched
    expect(detail.locator("[data-role=chain]")).to_contain_text("江阳区")
    expect(detail.locator("[data-role=history] li")).to_have_count(1)  # 上报
    buttons = detail.locator("[data-role=actions] button.cgp-action")
    allowed = api_get(page, f"/api/v1/events/{event_id}")["properties"]["allowed_actions"]
    expect(buttons).to_have_text([a["name"] for a in allowed])  # exactly what the server allows

    buttons.filter(has_text="核实").click()
    form = detail.locator("form.cgp-transition")
    form.locator("button[type=submit]").click()  # without a note: refused in the page
    expect(detail.locator("[data-role=state]")).to_have_text("已上报")
    note = "现场核实属实，浏览器测试"
    form.locator("textarea[name=note]").fill(note)
    form.locator("button[type=submit]").click()

    expect(detail.locator("[data-role=state]")).to_have_text("已核实")
    last = detail.locator("[data-role=history] li").last
    expect(last).to_have_attribute("data-action", "verify")
    expect(last).to_contain_text("核实")
    expect(last).to_contain_text(note)
    expect(last).to_contain_text(OPERATOR)
    screenshot(page, "panels-detail-after-verify")

    body = api_get(page, f"/api/v1/events/{event_id}")["properties"]
    assert body["state"] == "verified"
    step = body["transitions"][-1]
    assert (step["action"], step["note"], step["actor"]) == ("verify", note, f"user:{OPERATOR}")
    names = [a["name"] for a in body["allowed_actions"]]
    expect(detail.locator("[data-role=actions] button.cgp-action")).to_have_text(names)
    # the list (filtered on 已上报) no longer shows it once told the event changed
    expect(page.locator(f"{LIST} li.cgp-event[data-id='{event_id}']")).to_have_count(0)
    # 在地图上定位 centres the map on the event
    detail.get_by_role("button", name="在地图上定位").click()
    lon, lat = api_get(page, f"/api/v1/events/{event_id}")["geometry"]["coordinates"]
    page.wait_for_function(
        "([lon, lat]) => { const c = window.civgrid.map.getCenter();"
        " return Math.abs(c.lng - lon) < 1e-5 && Math.abs(c.lat - lat) < 1e-5; }",
        arg=[lon, lat],
    )


def test_a_stale_action_is_refused_and_the_detail_refreshed(page_as):
    page = page_as(OPERATOR, "/map/", wait_until="domcontentloaded")
    open_panels(page)
    event_id = report_event(page, "浏览器测试：过期页面")
    emit(page, "event-selected", {"id": event_id})
    detail = page.locator(DETAIL)
    expect(detail.locator("[data-role=state]")).to_have_text("已上报")
    detail.locator("[data-role=actions] button[data-action=verify]").click()
    # meanwhile someone else verifies it
    api_post(page, f"/api/v1/events/{event_id}/transitions", {"action": "verify", "note": "他人已核实"})
    detail.locator("form.cgp-transition textarea[name=note]").fill("我也核实")
    detail.locator("form.cgp-transition button[type=submit]").click()
    expect(page.locator("#toasts .toast-error")).to_contain_text("事件状态已变为已核实")  # the server's 409
    expect(detail.locator("[data-role=state]")).to_have_text("已核实")  # refreshed
    history = api_get(page, f"/api/v1/events/{event_id}")["properties"]["transitions"]
    assert [t["action"] for t in history] == ["report", "verify"]  # not verified twice


def test_the_list_count_is_the_api_count(page_as, screenshot):
    page = page_as(OPERATOR, "/map/", wait_until="domcontentloaded")
    open_panels(page)
    count = page.locator(f"{LIST} [data-role=count]")
    bbox = map_bbox(page)
    everything = api_get(page, "/api/v1/events", {"bbox": bbox, "count": "true"})["count"]
    expect(count).to_have_text(str(everything))
    assert everything > 0

    select_filter(page, "source", "field")
    select_filter(page, "colour", "green")
    filters = {"source": "field", "colour": "green"}
    expected = api_get(page, "/api/v1/events", {"bbox": bbox, "count": "true", **filters})["count"]
    expect(count).to_have_text(str(expected))
    rows = page.locator(f"{LIST} li.cgp-event")
    expect(rows).to_have_count(min(expected, 20))

    # the CSV export link is the same query: one row per counted event
    href = page.locator(f"{LIST} [data-role=export-csv]").get_attribute("href")
    assert "export=csv" in href and "source=field" in href
    response = page.request.get(href)
    assert response.ok and response.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(response.body().decode("utf-8-sig"))))
    assert len(table) - 1 == expected
    xlsx = page.request.get(page.locator(f"{LIST} [data-role=export-xlsx]").get_attribute("href"))
    assert xlsx.ok and xlsx.body()[:2] == b"PK"

    # a drawn circle (range-selected from the map's tools) replaces the view
    some = api_get(page, "/api/v1/events", {"region": DISTRICT, "page_size": 1})["features"][0]
    lon, lat = some["geometry"]["coordinates"]
    circle = {"lon": lon, "lat": lat, "radius": 1500}
    emit(page, "range-selected", circle)
    in_circle = api_get(page, "/api/v1/events", {**circle, "count": "true", **filters})["count"]
    expect(count).to_have_text(str(in_circle))
    expect(page.locator(f"{LIST} [data-role=range]")).to_contain_text("圆形范围")

    # a drawn polygon goes as a JSON body (POST /events/search)
    d = 0.02
    ring = [
        [lon - d, lat - d],
        [lon + d, lat - d],
        [lon + d, lat + d],
        [lon - d, lat + d],
        [lon - d, lat - d],
    ]
    polygon = {"type": "Polygon", "coordinates": [ring]}
    emit(page, "range-selected", {"polygon": polygon})
    in_polygon = api_post(page, "/api/v1/events/search", {"polygon": polygon, "count": True, **filters})[
        "count"
    ]
    expect(count).to_have_text(str(in_polygon))
    screenshot(page, "panels-list-polygon")
    with page.expect_download() as download:  # too long for a link: posted, saved from a blob
        page.click(f"{LIST} [data-role=export-csv]")
    with open(download.value.path(), encoding="utf-8-sig") as f:
        assert len(list(csv.reader(f))) - 1 == in_polygon

    # clearing the range goes back to the view
    page.click(f"{LIST} [data-role=clear-range]")
    expect(count).to_have_text(str(expected))


def _chart(page, name: str) -> dict:
    """What ECharts draws in the panel's chart ``name`` (its option, as the library holds it)."""
    script = "(n) => window.echarts.getInstanceByDom(document.querySelector(`[data-chart=${n}]`)).getOption()"
    return page.evaluate(script, name)


def test_the_charts_show_the_api_numbers(page_as, screenshot):
    page = page_as(OPERATOR, "/map/", wait_until="domcontentloaded")
    open_panels(page)
    page.click("#cg-panels [role=tab][data-tab=stats]")
    stats = page.locator(f"{STATS} [data-role=stats]")
    expect(stats).to_have_attribute("data-loaded", "1")

    major = api_get(page, "/api/v1/events/stats", {"by": "major"})
    slices = _chart(page, "major")["series"][0]["data"]
    assert [d["value"] for d in slices] == [r["count"] for r in major["results"]]
    kinds = {m["code"]: m["kind_name"] for m in api_get(page, "/api/v1/event-categories")["results"]}
    assert [d["name"] for d in slices] == [f"{r['name']}（{kinds[r['key']]}）" for r in major["results"]]
    by_state = api_get(page, "/api/v1/events/stats", {"by": "state"})
    option = _chart(page, "state")
    assert option["xAxis"][0]["data"] == [r["name"] for r in by_state["results"]]
    assert [d["value"] for d in option["series"][0]["data"]] == [r["count"] for r in by_state["results"]]
    expect(page.locator(f"{STATS} [data-role=stats-total]")).to_have_text(str(by_state["total"]))
    overdue = api_get(page, "/api/v1/events", {"overdue": "true", "count": "true"})["count"]
    expect(page.locator(f"{STATS} [data-role=stats-overdue]")).to_have_text(str(overdue))

    trend = api_get(page, "/api/v1/events/stats", {"by": "day"})
    option = _chart(page, "trend")
    assert option["xAxis"][0]["data"] == [r["period"] for r in trend["results"]]
    assert option["series"][0]["data"] == [r["count"] for r in trend["results"]]

    # a district's operator ranks its streets first
    rank = api_get(page, "/api/v1/events/stats", {"by": "subdistrict", "top": 10})
    option = _chart(page, "rank")
    assert option["yAxis"][0]["data"] == [r["name"] for r in rank["results"]]
    assert option["series"][0]["data"] == [r["count"] for r in rank["results"]]

    performance = api_get(page, "/api/v1/events/performance", {"by": "district", "top": 10})
    option = _chart(page, "perf")
    assert option["series"][0]["data"] == [
        None if r["on_time_rate"] is None else round(r["on_time_rate"] * 100, 1)
        for r in performance["results"]
    ]
    assert performance["results"], "江阳区 has handled steps in the demo city"

    # another grouping: the chart follows the API again
    page.select_option(f"{STATS} select[name=rank]", "grid")
    expect(stats).to_have_attribute("data-loaded", "2")
    by_grid = api_get(page, "/api/v1/events/stats", {"by": "grid", "top": 10})
    assert _chart(page, "rank")["series"][0]["data"] == [r["count"] for r in by_grid["results"]]
    screenshot(page, "panels-stats-operator")

    # the page's time window (the map's time filter) narrows the figures
    since = trend["results"][len(trend["results"]) // 2]["period"]
    page.evaluate("async (d) => (await import('/static/webmap/js/core.js')).setFilters({from: d})", since)
    expect(stats).to_have_attribute("data-loaded", "3")
    expect(page.locator(f"{STATS} [data-role=stats-scope]")).to_contain_text(f"{since} 起")
    recent = api_get(page, "/api/v1/events/stats", {"by": "state", "from": since})
    assert recent["total"] < by_state["total"]
    option = _chart(page, "state")
    assert [d["value"] for d in option["series"][0]["data"]] == [r["count"] for r in recent["results"]]
    expect(page.locator(f"{STATS} [data-role=stats-total]")).to_have_text(str(recent["total"]))


def test_a_user_without_the_role_sees_no_action(page_as, screenshot):
    operator = page_as(OPERATOR, "/map/", wait_until="domcontentloaded")
    open_panels(operator)
    event_id = report_event(operator, "浏览器测试：无权处置")

    # 文明办: reads events, takes no action on them
    page = page_as(PLANNER, "/map/", wait_until="domcontentloaded")
    open_panels(page)
    select_filter(page, "state", "reported")
    item = page.locator(f"{LIST} li.cgp-event[data-id='{event_id}']")
    item.locator("button").click()
    detail = page.locator(DETAIL)
    expect(page.locator(DETAIL)).to_have_attribute("data-event-id", str(event_id))
    expect(detail.locator("[data-role=state]")).to_have_text("已上报")
    expect(detail.locator("[data-role=history] li")).to_have_count(1)
    expect(detail.locator("button.cgp-action")).to_have_count(0)
    assert api_get(page, f"/api/v1/events/{event_id}")["properties"]["allowed_actions"] == []
    screenshot(page, "panels-detail-planner")
    # the operator, on the same event, has buttons: the difference is the role, not the page
    emit(operator, "event-selected", {"id": event_id})
    expect(operator.locator(f"{DETAIL} button.cgp-action[data-action=verify]")).to_be_visible()


def test_a_department_handles_what_was_dispatched_to_it(page_as, screenshot):
    operator = page_as(OPERATOR, "/map/", wait_until="domcontentloaded")
    open_panels(operator)
    event_id = report_event(operator, "浏览器测试：派遣到城市管理局")
    bureau = next(
        d["id"]
        for d in api_get(operator, "/api/v1/event-departments")["results"]
        if d["name"] == "城市管理局" and d["region_code"] == DISTRICT
    )
    for action in ("verify", "register"):
        api_post(operator, f"/api/v1/events/{event_id}/transitions", {"action": action, "note": "同意"})
    # the operator dispatches in the page, naming the department
    emit(operator, "event-selected", {"id": event_id})
    detail = operator.locator(DETAIL)
    expect(detail.locator("[data-role=state]")).to_have_text("已立案")
    detail.locator("[data-role=actions] button[data-action=dispatch]").click()
    form = detail.locator("form.cgp-transition")
    form.locator("select[name=department]").select_option(str(bureau))
    form.locator("textarea[name=note]").fill("请城市管理局处置")
    form.locator("button[type=submit]").click()
    expect(detail.locator("[data-role=state]")).to_have_text("已派遣")
    expect(detail.locator("[data-role=history] li").last).to_contain_text("城市管理局")

    # 处置部门: handles, or hands back, its own dispatches
    page = page_as("jiangyang_department", "/map/", wait_until="domcontentloaded")
    open_panels(page)
    emit(page, "event-selected", {"id": event_id})
    detail = page.locator(DETAIL)
    expect(detail.locator("[data-role=state]")).to_have_text("已派遣")
    expect(detail.locator("[data-role=actions] button.cgp-action")).to_have_text(["处置", "退回"])
    detail.locator("[data-role=actions] button[data-action=handle]").click()
    form = detail.locator("form.cgp-transition")
    form.locator("textarea[name=note]").fill("已清扫完毕")
    form.locator("input[name=photos]").set_input_files(
        {"name": "现场.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}
    )
    form.locator("button[type=submit]").click()
    expect(detail.locator("[data-role=state]")).to_have_text("已处置")
    expect(detail.locator("button.cgp-action")).to_have_count(0)  # checking is not the department's
    thumb = detail.locator(".cgp-thumbs img")  # the photo of the step, as the server's thumbnail
    expect(thumb).to_have_count(1)
    expect(thumb).to_have_attribute("src", re.compile(r"/attachments/\d+\?thumbnail=1$"))
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    screenshot(page, "panels-detail-department")
    body = api_get(page, f"/api/v1/events/{event_id}")["properties"]
    assert body["state"] == "handled" and body["transitions"][-1]["actor"] == "user:jiangyang_department"
    assert [a["transition"] for a in body["attachments"]] == [body["transitions"][-1]["id"]]


def _jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()
