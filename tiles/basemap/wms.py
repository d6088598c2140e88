"""The base-map renderer as a small WMS 1.1.1/1.3.0 (GetCapabilities, GetMap; EPSG:3857).

MapProxy reads the same renderer in-process (:mod:`tiles.basemap.plugins`);
this endpoint serves it to GIS clients (QGIS) and to a MapProxy run on its own.
"""

from __future__ import annotations

import io
import math

from django.conf import settings
from django.http import HttpResponse

from gis_core.errors import InvalidInput

from ..tilemath import EARTH_R
from .data import basemap_data
from .render import render_image

__all__ = ["MAX_PIXELS", "render_png", "wms_response", "zoom_of"]

MAX_PIXELS = 4096
LAYER = "basemap"
SRS_3857 = ("EPSG:3857", "EPSG:900913", "EPSG:102100")


def zoom_of(px_m: float) -> float:
    """Web-map zoom level of a resolution in mercator metres per pixel (256-pixel tiles)."""
    return math.log2(2 * math.pi * EARTH_R / 256 / px_m)


def render_png(bbox: tuple[float, float, float, float], size: tuple[int, int]) -> bytes:
    """The base map of ``bbox`` (EPSG:3857) at ``size`` pixels, as PNG."""
    px_m = (bbox[2] - bbox[0]) / size[0]
    zoom = zoom_of(px_m)
    data = basemap_data(bbox, px_m, zoom)
    image = render_image(data, bbox, size, zoom, settings.CIVGRID["BASEMAP_FONT"])
    out = io.BytesIO()
    image.convert("RGB").save(out, "PNG", optimize=False, compress_level=6)
    return out.getvalue()


def _capabilities(request) -> HttpResponse:
    url = request.build_absolute_uri(request.path)
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<WMT_MS_Capabilities version="1.1.1"><Service><Name>OGC:WMS</Name><Title>civgrid 本地底图</Title>
<OnlineResource xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="{url}"/></Service>
<Capability><Request><GetCapabilities><Format>application/vnd.ogc.wms_xml</Format></GetCapabilities>
<GetMap><Format>image/png</Format><DCPType><HTTP><Get><OnlineResource xmlns:xlink="http://www.w3.org/1999/xlink"
xlink:href="{url}?"/></Get></HTTP></DCPType></GetMap></Request>
<Layer><Title>civgrid</Title><SRS>EPSG:3857</SRS>
<Layer queryable="0"><Name>{LAYER}</Name><Title>本地底图（区划、道路、地标）</Title>
<SRS>EPSG:3857</SRS></Layer>
</Layer></Capability></WMT_MS_Capabilities>"""
    return HttpResponse(xml, content_type="application/vnd.ogc.wms_xml; charset=utf-8")


def wms_response(request) -> HttpResponse:
    params = {k.upper(): v for k, v in request.query_params.items()}
    operation = (params.get("REQUEST") or "").lower()
    if operation == "getcapabilities":
        return _capabilities(request)
    if operation != "getmap":
        raise InvalidInput("REQUEST 应为 GetMap 或 GetCapabilities", code="bad_wms_request")
    if params.get("LAYERS", LAYER) != LAYER:
        raise InvalidInput(f"未知图层 {params.get('LAYERS')}（只有 {LAYER}）", code="unknown_layer")
    srs = (params.get("SRS") or params.get("CRS") or "").upper()
    if srs not in SRS_3857:
        raise InvalidInput(f"只支持 EPSG:3857，实际为 {srs or '（未给出）'}", code="bad_srs")
    try:
        bbox = tuple(float(v) for v in params.get("BBOX", "").split(","))
        width, height = int(params.get("WIDTH", "")), int(params.get("HEIGHT", ""))
    except ValueError:
        raise InvalidInput("BBOX、WIDTH、HEIGHT 应为数字", code="bad_wms_request") from None
    if len(bbox) != 4 or not all(math.isfinite(v) for v in bbox) or bbox[0] >= bbox[2] or bbox[1] >= bbox[3]:
        raise InvalidInput("BBOX 应为 minx,miny,maxx,maxy 且最小值小于最大值", code="bad_wms_request")
    if not (0 < width <= MAX_PIXELS and 0 < height <= MAX_PIXELS):
        raise InvalidInput(f"WIDTH/HEIGHT 应在 1–{MAX_PIXELS} 之间", code="bad_wms_request")
    return HttpResponse(render_png(bbox, (width, height)), content_type="image/png")
