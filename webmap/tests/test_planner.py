"""The planners' view (/map/planner/) in a real browser: the charts are drawn from the statistics
API, a draw made on the page shows its sites, reserves and balance on the map, and 导出 produces
a folium map (the Celery worker runs the job) that opens offline, and a real PNG."""

from __future__ import annotations

import io
import re

from PIL import Image
from playwright.sync_api import expect

REMOTE = re.compile(r"<(?:script|link|img|iframe)\b[^>]*(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", re.I)


def _export(page, layer: str, fmt: str) -> bytes:
    page.select_option("#export-layer", layer)
    page.select_option("#export-format", fmt)
    page.click("#export-go")
    link = page.locator("#export-link")
    expect(link).to_be_visible(timeout=90_000)
    response = page.request.get(link.get_attribute("href"))
    assert response.ok, response.text()
    return response.body()


def test_planner_view_charts_draw_and_export(page_as, screenshot):
    page = page_as("jiangyang_planner", "/map/planner/")
    expect(page.locator(".topnav a.active")).to_have_text("文明创建")
    stats = page.request.get("/api/v1/civilization/units/stats?by=type").json()
    density = page.request.get("/api/v1/civilization/density?by=subdistrict").json()
    expect(page.locator("#chart-types")).to_have_attribute("data-total", str(stats["total"]))
    for chart in ("#chart-types", "#chart-levels", "#chart-ranking"):
        expect(page.locator(f"{chart} canvas")).to_have_count(1)
    ranked = [r for r in density["results"] if r["count"] > 0]
    expect(page.locator("#chart-ranking")).to_have_attribute("data-rows", str(min(12, len(ranked))))
    expect(page.locator("#ranking-title")).to_have_text("各街道单位数排名")  # a district's planner
    expect(page.locator("#density-legend div")).to_have_count(6)

    # a draw made on the page: its sites (base filled, reserves hollow) and the balance figure
    page.fill("#draw-n", "6")
    page.fill("#draw-reserves", "2")
    with page.expect_response(
        lambda r: r.url.endswith("/api/v1/civilization/draws") and r.request.method == "POST"
    ) as made:
        page.click("#draw-new")
    draw = made.value.json()
    assert made.value.status == 201, draw
    expect(page.locator("path.draw-base")).to_have_count(6)
    expect(page.locator("path.draw-reserve")).to_have_count(2)
    expect(page.locator("#draw-balance")).to_have_text(f"{draw['balance']:.4f}")
    expect(page.locator("#map-balance")).to_contain_text("空间均衡度")
    page.wait_for_load_state("networkidle")
    screenshot(page, "planner")

    page_html = _export(page, "draw_sites", "html").decode("utf-8")
    assert draw["frame_sha256"] in page_html and "leaflet-container" in page_html
    assert REMOTE.findall(page_html) == []
    png = _export(page, "unit_density", "png")
    assert Image.open(io.BytesIO(png)).size == (1400, 900)
