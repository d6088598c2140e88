"""The base map through MapProxy: offline from our own data, online upstreams (a local
stand-in HTTP server plays Tianditu and an Amap-style GCJ-02 source), GCJ-02 alignment,
an upstream that is down or answers garbage, and the renderer's own WMS."""

from __future__ import annotations

import io
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from PIL import Image, ImageDraw

from gis_core.crs import wgs84_to_gcj02
from tiles.basemap.plugins import gcj02_offset
from tiles.tilemath import Tile, lonlat_to_tile, mercator

from .conftest import grid_tile

pytestmark = pytest.mark.django_db

# a point of the demo city (江阳区) whose place the upstream marks, in its own coordinates
MARK_WGS84 = (105.4420, 28.8780)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _pixel(lon: float, lat: float, tile: Tile) -> tuple[float, float]:
    x0, y0, x1, y1 = tile.bounds_3857()
    mx, my = mercator(lon, lat)
    return (mx - x0) / (x1 - x0) * 256, (y1 - my) / (y1 - y0) * 256


class Upstream:
    """A stand-in tile server. ``mode``: ``gcj02`` draws a red mark where MARK_WGS84 lies in
    GCJ-02 coordinates (what Amap does); ``wgs84`` draws it at its WGS84 place; ``garbage``
    answers 200 with text; ``down`` answers 500. Requests are counted."""

    def __init__(self) -> None:
        self.mode = "gcj02"
        self.requests = 0
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                upstream.requests += 1
                url = urlparse(self.path)
                if upstream.mode == "down":
                    self.send_response(500)
                    self.end_headers()
                    return
                if upstream.mode == "garbage":
                    body, kind = b"<html>quota exceeded</html>", "image/png"
                else:
                    if url.path.endswith("/wmts"):  # Tianditu style KVP
                        q = {k.upper(): v[0] for k, v in parse_qs(url.query).items()}
                        z, x, y = int(q["TILEMATRIX"]), int(q["TILECOL"]), int(q["TILEROW"])
                    else:
                        z, x, y = (int(v.split(".")[0]) for v in url.path.strip("/").split("/")[-3:])
                    body, kind = _png(upstream.draw(Tile(z, x, y))), "image/png"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def draw(self, tile: Tile) -> Image.Image:
        image = Image.new("RGB", (256, 256), (255, 255, 255))
        lon, lat = MARK_WGS84
        if self.mode == "gcj02":
            lon, lat = (float(v) for v in wgs84_to_gcj02(lon, lat))
        px, py = _pixel(lon, lat, tile)
        ImageDraw.Draw(image).rectangle((px - 4, py - 4, px + 4, py + 4), fill=(255, 0, 0))
        return image

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream():
    server = Upstream()
    yield server
    server.close()


def _configure(tile_namespace, **values) -> None:
    tile_namespace.update(values)


def _red_centre(content: bytes) -> tuple[float, float] | None:
    a = np.asarray(Image.open(io.BytesIO(content)).convert("RGB")).astype(int)
    mask = (a[:, :, 0] > 200) & (a[:, :, 1] < 80) & (a[:, :, 2] < 80)
    if not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    return float(xs.mean()) + 0.5, float(ys.mean()) + 0.5


def _xyz(layer: str, tile: Tile) -> str:
    return f"/basemap/tiles/{layer}/webmercator/{tile.z}/{tile.x}/{tile.y}.png"


# ------------------------------------------------------------------ offline


def test_offline_base_map_is_served_as_xyz_tms_wmts_and_wms(a_api):
    _, tile = grid_tile("510502", 15)
    xyz = a_api.get(_xyz("basemap", tile))
    assert xyz.status_code == 200 and xyz["Content-Type"] == "image/png"
    assert xyz["X-Basemap-Status"] == "ok"
    image = Image.open(io.BytesIO(xyz.content)).convert("RGB")
    assert image.size == (256, 256)
    assert len(np.unique(np.asarray(image).reshape(-1, 3), axis=0)) > 20  # a drawn map, not blank
    tms_y = (1 << tile.z) - 1 - tile.y
    tms = a_api.get(f"/basemap/tiles/1.0.0/basemap/webmercator/{tile.z}/{tile.x}/{tms_y}.png?origin=sw")
    wmts = a_api.get(f"/basemap/wmts/basemap/webmercator/{tile.z}/{tile.x}/{tile.y}.png")
    assert tms.status_code == wmts.status_code == 200
    assert tms.content == wmts.content == xyz.content  # one cache behind every protocol
    x0, y0, x1, y1 = tile.bounds_3857()
    wms = a_api.get(
        "/basemap/service",
        {"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetMap", "LAYERS": "basemap", "STYLES": "",
         "SRS": "EPSG:3857", "BBOX": f"{x0},{y0},{x1},{y1}", "WIDTH": 256, "HEIGHT": 256,
         "FORMAT": "image/png"},
    )  # fmt: skip
    assert wms.status_code == 200 and wms["Content-Type"] == "image/png"
    caps = a_api.get("/basemap/wmts/1.0.0/WMTSCapabilities.xml")
    assert caps.status_code == 200 and b">basemap</ows:Identifier>" in caps.content


def test_base_map_draws_roads_with_chinese_names(db):
    """The renderer itself: a road's name needs CJK glyphs, drawn as dark text pixels."""
    from geocoding.models import Street
    from tiles.basemap.wms import render_png

    street = Street.objects.order_by("-length_m").first()
    mid = street.geom.point_on_surface
    x, y = mercator(mid.x, mid.y)
    half = 300.0
    png = render_png((x - half, y - half, x + half, y + half), (512, 512))
    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    dark = (a.sum(axis=2) < 300).sum()  # label text
    road = ((a[:, :, 0] > 240) & (a[:, :, 1] > 200) & (a[:, :, 2] < 180)).sum() + (a.min(axis=2) == 255).sum()
    assert dark > 50 and road > 500


def test_renderer_wms_answers_and_refuses_bad_requests(a_api, anon_api):
    _, tile = grid_tile("510502", 14)
    x0, y0, x1, y1 = tile.bounds_3857()
    params = {"REQUEST": "GetMap", "LAYERS": "basemap", "SRS": "EPSG:3857",
              "BBOX": f"{x0},{y0},{x1},{y1}", "WIDTH": 256, "HEIGHT": 256}  # fmt: skip
    ok = a_api.get("/tiles/render/wms", params)
    assert ok.status_code == 200 and ok.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert a_api.get("/tiles/render/wms", {"REQUEST": "GetCapabilities"}).status_code == 200
    for bad in ({"SRS": "EPSG:4326"}, {"WIDTH": 99999}, {"BBOX": "1,2,3"}, {"REQUEST": "GetFeatureInfo"}):
        response = a_api.get("/tiles/render/wms", {**params, **bad})
        assert response.status_code == 400 and "error" in response.json()
    assert anon_api.get("/tiles/render/wms", params).status_code == 401
    assert anon_api.get(_xyz("basemap", tile)).status_code == 401


# ------------------------------------------------------------------ online upstreams


def test_gcj02_upstream_lines_up_with_wgs84_data(a_api, upstream, tile_namespace):
    _configure(
        tile_namespace,
        BASEMAP_UPSTREAMS=[
            {
                "name": "amap",
                "title": "高德（GCJ-02）",
                "url": upstream.url + "/amap/{z}/{x}/{y}",
                "crs": "gcj02",
            },
            {
                "name": "amap_raw",
                "title": "不纠偏",
                "url": upstream.url + "/amap/{z}/{x}/{y}",
                "crs": "wgs84",
            },
        ],
    )
    lon, lat = MARK_WGS84
    tile = lonlat_to_tile(lon, lat, 16)
    want = _pixel(lon, lat, tile)
    got = _red_centre(a_api.get(_xyz("amap", tile)).content)
    assert got is not None
    assert math.dist(got, want) < 1.5  # where our WGS84 data draws the point
    # the control: the same upstream taken as WGS84 puts the mark ~0.5 km (≈200 px at z16) away
    raw = _red_centre(a_api.get(_xyz("amap_raw", lonlat_to_tile(*wgs84_to_gcj02(lon, lat), 16))).content)
    gx, gy = (float(v) for v in wgs84_to_gcj02(lon, lat))
    assert math.dist(_pixel(gx, gy, lonlat_to_tile(gx, gy, 16)), raw) < 1.5
    assert math.dist(mercator(lon, lat), mercator(gx, gy)) > 300


def test_gcj02_offset_is_the_conversion_at_the_centre():
    from mapproxy.srs import SRS

    lon, lat = MARK_WGS84
    x, y = mercator(lon, lat)
    dx, dy = gcj02_offset((x - 100, y - 100, x + 100, y + 100), SRS(3857))
    gx, gy = mercator(*(float(v) for v in wgs84_to_gcj02(lon, lat)))
    assert abs(dx - (gx - x)) < 0.01 and abs(dy - (gy - y)) < 0.01
    assert max(map(abs, gcj02_offset((0, 0, 10, 10), SRS(3857)))) < 1e-6  # outside China: none


def test_tianditu_with_a_key(a_api, upstream, tile_namespace):
    upstream.mode = "wgs84"
    _configure(tile_namespace, TIANDITU_KEY="test-key", TIANDITU_URL=upstream.url)
    lon, lat = MARK_WGS84
    tile = lonlat_to_tile(lon, lat, 15)
    response = a_api.get(_xyz("tianditu_vec", tile))
    assert response.status_code == 200
    # the base layer and the label overlay are both fetched; the mark is where the data is
    assert math.dist(_red_centre(response.content), _pixel(lon, lat, tile)) < 1.5


def test_upstream_down_or_garbage_serves_the_cache_and_says_so(a_api, upstream, tile_namespace):
    upstream.mode = "wgs84"
    _configure(tile_namespace, BASEMAP_UPSTREAMS=[{"name": "xyz", "url": upstream.url + "/{z}/{x}/{y}.png"}])
    lon, lat = MARK_WGS84
    cached = lonlat_to_tile(lon, lat, 14)
    assert a_api.get(_xyz("xyz", cached)).status_code == 200
    far = Tile(14, cached.x + 40, cached.y + 40)  # another meta tile, never fetched
    for mode in ("down", "garbage"):
        upstream.mode = mode
        again = a_api.get(_xyz("xyz", cached))
        assert again.status_code == 200 and _red_centre(again.content) is not None
        missing = a_api.get(_xyz("xyz", far))
        assert missing.status_code == 503
        assert missing["X-Basemap-Status"] == "upstream-unavailable"
        assert missing.json()["error"]["code"] == "basemap_upstream_unavailable"
    upstream.mode = "wgs84"  # back up: the tile is drawn, nothing bad was cached
    assert a_api.get(_xyz("xyz", far)).status_code == 200


def test_web_processes_starting_together_all_write_the_mapproxy_configuration(tmp_path):
    """Several gunicorn workers build MapProxy's configuration at the same moment: each writes
    it under a name of its own and renames it, so none fails (a shared temporary name made
    all but one raise on the rename: a 500 on the first base-map tile)."""
    import multiprocessing

    from tiles.basemap.service import _write_atomically

    target = tmp_path / "mapproxy-abc.yaml"
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(6) as pool:
        pool.starmap(_write_atomically, [(target, f"layers: []  # {i}\n" * 2000) for i in range(60)])
    assert target.read_text("utf-8").startswith("layers: []")
    assert [p.name for p in tmp_path.iterdir()] == ["mapproxy-abc.yaml"]  # no temporary left
