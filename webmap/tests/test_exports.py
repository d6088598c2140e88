"""Map exports (gis_core/mapexport.py, webmap/export_layers.py, export_jobs.py, api.py) through the API:
a job per export run by the real job runner, the folium page offline and equal to the API's
figures, PNG/PDF printed by headless Chromium, jurisdiction and scopes, every bad input a 4xx."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from uuid import UUID

import pytest
from PIL import Image
from rest_framework.test import APIClient

from accounts.services import apikey_issue, user_create
from jobs.models import Job, JobStatus
from jobs.runner import job_run

URL = "/api/v1/exports/maps"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
A_CODE, B_PREFIX = "510502000000", "510504"  # 江阳区, 龙马潭区
PASSWORD = "Civgrid-Test-2024"
REMOTE = re.compile(r"<(?:script|link|img|iframe)\b[^>]*(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", re.I)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def operator_a(db) -> APIClient:
    return client_for(
        user_create(username="exp_operator_a", password=PASSWORD, roles=["operator"], region_code=A_CODE)
    )


@pytest.fixture
def planner_a(db) -> APIClient:
    return client_for(
        user_create(username="exp_planner_a", password=PASSWORD, roles=["planner"], region_code=A_CODE)
    )


def _export(client: APIClient, layer: str, fmt: str = "html", **params) -> dict:
    response = client.post(URL, {"layer": layer, "format": fmt, "params": params}, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def _run(client: APIClient, body: dict) -> dict:
    """Run the queued job here, like a worker would, and read its state back."""
    assert job_run(job_id=UUID(body["id"])) in ("succeeded", "failed")
    return client.get(body["links"]["self"]).json()


def _meta(page: str, element_id: str) -> dict:
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', page, re.S)
    assert found, element_id
    return json.loads(found.group(1))


def _offline(page: str) -> None:
    assert "leaflet-container" in page and "L.map(" in page  # Leaflet's CSS and JS, inlined
    assert REMOTE.findall(page) == []
    assert not re.search(r"@import\s+url\(\s*[\"']?(?:https?:)?//", page)


def test_event_heatmap_html_matches_the_heatmap_api(operator_a):
    params = {"from": "2020-01-01", "to": "2030-12-31", "size": 500}
    body = _export(operator_a, "event_heatmap", **params)
    assert body["status"] == "queued" and body["options"]["layer"] == "event_heatmap"
    early = operator_a.get(f"{URL}/{body['id']}/file")
    assert early.status_code == 409 and early.json()["error"]["code"] == "job_not_finished"
    done = _run(operator_a, body)
    assert done["status"] == "succeeded" and done["links"]["file"].endswith("/file")
    response = operator_a.get(done["links"]["file"])
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert "attachment" in response["Content-Disposition"]
    page = b"".join(response.streaming_content).decode("utf-8")
    _offline(page)
    api = operator_a.get("/api/v1/events/heatmap", params).json()
    meta = _meta(page, "export-meta")
    assert api["count"] > 0
    assert (meta["count"], meta["bins"]) == (api["count"], len(api["bins"]))
    assert not re.search(rf"(?<![\d.]){B_PREFIX}\d*", page)  # nothing of 龙马潭区, not even its outline


def test_event_heatmap_follows_the_filters(operator_a):
    bbox = operator_a.get("/api/v1/regions/510502000000").json()
    api_all = operator_a.get("/api/v1/events/heatmap", {"size": 800}).json()
    state = "closed"
    api = operator_a.get("/api/v1/events/heatmap", {"size": 800, "state": state}).json()
    done = _run(operator_a, _export(operator_a, "event_heatmap", size=800, state=state))
    page = b"".join(operator_a.get(done["links"]["file"]).streaming_content).decode("utf-8")
    assert _meta(page, "export-meta")["count"] == api["count"] <= api_all["count"]
    assert bbox  # the district exists for this caller


@pytest.mark.parametrize("fmt", ["png", "pdf"])
def test_png_and_pdf_are_real_prints(operator_a, fmt):
    done = _run(operator_a, _export(operator_a, "event_heatmap", fmt, size=1000))
    assert done["status"] == "succeeded", done["error"]
    response = operator_a.get(done["links"]["file"])
    data = b"".join(response.streaming_content)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"export-event-heatmap.{fmt}").write_bytes(data)
    if fmt == "png":
        assert response["Content-Type"] == "image/png"
        image = Image.open(io.BytesIO(data))
        assert image.size == (1400, 900)
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert len(colours) > 20  # outlines, bins and the legend, not a blank page
    else:
        assert response["Content-Type"] == "application/pdf"
        assert data.startswith(b"%PDF-") and b"/Type /Page" in data and len(data) > 10_000


def test_draw_sites_and_density_for_planners(planner_a):
    from civilization.tests.conftest import grid_points

    sites = [
        {"type": "农贸市场", "name": f"市场{i}", "lon": p.lon, "lat": p.lat}
        for i, p in enumerate(grid_points("510502", 6))
    ]
    draw = planner_a.post(
        "/api/v1/civilization/draws",
        {"title": "导出测试", "sites": sites, "counts": {"农贸市场": 3}, "reserves": 1, "seed": 7},
        format="json",
    ).json()
    done = _run(planner_a, _export(planner_a, "draw_sites", draw=draw["id"]))
    response = planner_a.get(done["links"]["file"])
    assert "测评点位" in response["Content-Disposition"] or "filename*" in response["Content-Disposition"]
    page = b"".join(response.streaming_content).decode("utf-8")
    _offline(page)
    assert _meta(page, "draw-meta") == {"draw": draw["id"], "frame_sha256": draw["frame_sha256"]}

    density = planner_a.get("/api/v1/civilization/density").json()
    done = _run(planner_a, _export(planner_a, "unit_density"))
    page = b"".join(planner_a.get(done["links"]["file"]).streaming_content).decode("utf-8")
    _offline(page)
    assert _meta(page, "export-meta")["regions"] == [r["code"] for r in density["results"]]


def test_bad_requests_are_4xx(operator_a, planner_a):
    def error(response, status: int) -> str:
        assert response.status_code == status, response.content
        return response.json()["error"]["code"]

    assert error(operator_a.post(URL, {"layer": "everything"}, format="json"), 400) == "unknown_layer"
    bad_format = operator_a.post(URL, {"layer": "event_heatmap", "format": "gif"}, format="json")
    assert "format" in bad_format.json()["error"]["message"] and bad_format.status_code == 400
    assert operator_a.post(URL, ["event_heatmap"], format="json").status_code == 400
    assert (
        operator_a.post(URL, {"layer": "event_heatmap", "params": "size=5"}, format="json").status_code == 400
    )
    # a bad layer parameter fails the job, with the reason, and the file says so (409)
    done = _run(operator_a, _export(operator_a, "event_heatmap", size="many"))
    assert done["status"] == "failed" and "size" in done["error"]
    assert error(operator_a.get(f"{URL}/{done['id']}/file"), 409) == "export_failed"
    # a draw out of reach is as absent as one that does not exist
    done = _run(planner_a, _export(planner_a, "draw_sites", draw=999_999_999))
    assert done["status"] == "failed" and "不存在" in done["error"]


def test_scopes_and_owners(db, operator_a):
    key = apikey_issue(name="only-export", scopes=["export:read"], region_code=A_CODE)
    keyed = APIClient()
    keyed.credentials(HTTP_AUTHORIZATION=f"Bearer {key.token}")
    response = keyed.post(URL, {"layer": "event_heatmap"}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "missing_scope"
    staff = client_for(
        user_create(username="exp_staff", password=PASSWORD, roles=["field_staff"], region_code=A_CODE)
    )
    assert staff.post(URL, {"layer": "event_heatmap"}, format="json").status_code == 403  # no export:read
    mine = _export(operator_a, "event_heatmap", size=2000)
    other = client_for(
        user_create(username="exp_operator_a2", password=PASSWORD, roles=["operator"], region_code=A_CODE)
    )
    assert other.get(f"{URL}/{mine['id']}").status_code == 404
    assert other.get(f"{URL}/{mine['id']}/file").status_code == 404
    assert [j["id"] for j in other.get(URL).json()["results"]] == []
    assert [j["id"] for j in operator_a.get(URL).json()["results"]] == [mine["id"]]
    assert operator_a.post(f"{URL}/{mine['id']}/cancel").json()["status"] == "cancelled"
    assert operator_a.delete(f"{URL}/{mine['id']}").status_code == 204
    assert not Job.objects.filter(pk=mine["id"]).exists()


def test_deleting_an_export_removes_its_file(operator_a, settings):
    done = _run(operator_a, _export(operator_a, "event_heatmap", size=2000))
    folder = Path(settings.MEDIA_ROOT) / "jobs" / done["id"]
    assert (folder / "map.html").is_file()
    assert Job.objects.get(pk=done["id"]).status == JobStatus.SUCCEEDED
    operator_a.delete(f"{URL}/{done['id']}")
    assert operator_a.get(f"{URL}/{done['id']}").status_code == 404


def test_the_html_opens_offline_and_shows_the_layer(operator_a, browser):
    """The downloaded page in Chromium with every request refused: Leaflet draws each bin."""
    done = _run(operator_a, _export(operator_a, "event_heatmap", size=400))
    page_html = b"".join(operator_a.get(done["links"]["file"]).streaming_content).decode("utf-8")
    bins = _meta(page_html, "export-meta")["bins"]
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    refused: list[str] = []
    context.route("**/*", lambda route: (refused.append(route.request.url), route.abort()))
    try:
        tab = context.new_page()
        tab.set_content(page_html, wait_until="load")
        tab.wait_for_function("document.querySelectorAll('.leaflet-overlay-pane path').length > 0")
        assert tab.evaluate("typeof L") == "object"
        # the bins plus the district/subdistrict outlines beneath them
        assert tab.locator(".leaflet-overlay-pane path").count() >= bins > 0
        assert tab.locator(".export-box").inner_text().startswith("事件热力图")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / "export-event-heatmap-html.png"))
    finally:
        context.close()
    assert refused == []  # it asked for nothing


def test_an_empty_layer_still_prints(operator_a):
    """A view with nothing in it (no bins, no outlines: the South China Sea) still becomes a PNG."""
    done = _run(operator_a, _export(operator_a, "event_heatmap", "png", size=500, bbox="115,12,115.1,12.1"))
    assert done["status"] == "succeeded", done["error"]
    data = b"".join(operator_a.get(done["links"]["file"]).streaming_content)
    assert Image.open(io.BytesIO(data)).size == (1400, 900)
