"""Vector tiles, TileJSON, the base map (MapProxy) and the base-map renderer's WMS.

Not under /api/v1/, but the same authentication (session or API key), scopes,
jurisdiction and JSON errors as the API: the views are DRF views.
"""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from gis_core.api.errors import error_body
from gis_core.errors import InvalidInput, NotFound

from . import api_schema as doc
from . import cache as tile_cache
from .fastpath import remember, seen_by_lean_path
from .registry import TileLayer, get_layer, layers
from .selectors.mvt import layer_queryset, moves_with_clock, rows_key
from .selectors.tilejson import tilejson
from .tilemath import MAX_ZOOM, Tile

__all__ = [
    "BaseMapView", "RenderWmsView", "TileJsonView", "TileLayersView", "TileView", "etags_of", "tile_response",
    "tiles_not_found",
]  # fmt: skip

MVT_TYPE = "application/vnd.mapbox-vector-tile"


class AnyAccept(DefaultContentNegotiation):
    """Tiles and images are asked for with any Accept header; errors still answer JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def parse_tile(z: str, x: str, y: str) -> Tile:
    try:
        zi, xi, yi = int(z), int(x), int(y)
    except ValueError:
        raise InvalidInput(
            f"切片坐标应为整数：{z}/{x}/{y}", code="bad_tile", details={"z": z, "x": x, "y": y}
        ) from None
    if not 0 <= zi <= MAX_ZOOM:
        raise InvalidInput(f"缩放级别 {zi} 超出范围 0–{MAX_ZOOM}", code="bad_tile", details={"z": zi})
    n = 1 << zi
    if not (0 <= xi < n and 0 <= yi < n):
        raise InvalidInput(
            f"切片 {xi}/{yi} 超出第 {zi} 级的范围 0–{n - 1}",
            code="bad_tile",
            details={"z": zi, "x": xi, "y": yi},
        )
    return Tile(zi, xi, yi)


class LayerView(APIView):
    """Looks the layer up before the permission check, which needs the layer's scope."""

    content_negotiation_class = AnyAccept
    layer: TileLayer | None = None

    @property
    def required_scopes(self) -> dict[str, str]:
        # an unknown layer still needs a signed-in caller with a map scope before it is a 404
        return {"GET": self.layer.scope if self.layer else "regions:read"}

    def initial(self, request, *args, **kwargs):
        try:
            self.layer = get_layer(kwargs["layer"])
        except NotFound:
            self.layer = None
        super().initial(request, *args, **kwargs)

    def the_layer(self) -> TileLayer:
        return self.layer or get_layer(self.kwargs["layer"])

    def the_layer_for_caller(self) -> TileLayer:
        """The layer as this caller may see it (families' exact points only with personal:read)."""
        from accounts.permissions import principal_of

        return self.the_layer().for_scopes(principal_of(self.request).scopes)

    def filter_params(self) -> dict[str, str]:
        return {k: self.request.query_params.get(k) for k in self.request.query_params}


class TileView(LayerView):
    """一个矢量切片（MVT），按调用者的管辖范围裁剪。"""

    @extend_schema(
        operation_id="tiles_tile_retrieve",
        summary="矢量切片（MVT）",
        description=(
            "图层的一个 XYZ 矢量切片，只含调用者管辖范围内、符合筛选参数的要素；点图层在聚合级别以下"
            "每格一个要素（count）。带 If-None-Match 重新验证，未变时答 304。"
        ),
        parameters=doc.TILE_PARAMETERS,
        responses=doc.TILE_RESPONSES,
    )
    def get(self, request, layer: str, z: str, x: str, y: str):
        _remember(request)
        the_layer = self.the_layer_for_caller()
        tile = parse_tile(z, x, y)
        params = self.filter_params()
        volatile = the_layer.live or any(params.get(p) not in (None, "") for p in the_layer.volatile_params)
        # the checked queryset and compiled statement of this layer, jurisdiction and filters serve
        # the caller's next tiles (reused a few seconds, here and by the lean path); not one that
        # moves with the clock
        memo = None if volatile else rows_key(the_layer, params, request.jurisdiction)
        qs = layer_queryset(the_layer, params, request.jurisdiction, memo)  # bad filters: 400 before anything
        key = tile_cache.tile_key(the_layer, tile, params, request.jurisdiction)
        sent = etags_of(request.headers.get("If-None-Match", ""))
        seen = seen_by_lean_path(request._request, key)  # it found nothing servable in the cache
        entry = None if volatile or seen else tile_cache.cache_entry(key)
        data, state = None, "hit"
        if not volatile and (sent or entry is not None):  # something to check against the stamp
            stamp, now = seen if seen and seen[0] is not None else tile_cache.tile_stamp(the_layer, tile)
            held = tile_cache.servable(entry, stamp, now)
            if held is not None:
                data, expires = held
                etag = tile_cache.etag_of(key, stamp, expires)
            elif not moves_with_clock(the_layer, tile):  # no next turn: the stamp alone is the ETag
                etag = tile_cache.etag_of(key, stamp, None)
            else:  # its next turn is known only to a cached entry: build it
                etag = None
            if etag in sent:
                return tile_response(b"", etag, the_layer, volatile, status=304)
        if data is None:
            rendered, etag = tile_cache.tile_build(the_layer, tile, qs, key, volatile=volatile, memo=memo)
            data, state = rendered.data, "miss"
        response = tile_response(data, etag, the_layer, volatile)
        response["X-Tile-Cache"] = state
        return response


def _remember(request) -> None:
    """Let the lean path (:mod:`tiles.fastpath`) serve this caller's cached tiles for a while."""
    from accounts.models import ApiKey
    from accounts.permissions import principal_of

    key = request.auth if isinstance(request.auth, ApiKey) else None
    remember(request, principal_of(request), key.rate_limit_per_minute if key else None)


def etags_of(header: str) -> set[str]:
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}


def tile_response(
    data: bytes, etag: str, layer: TileLayer, volatile: bool, status: int = 200
) -> HttpResponse:
    response = HttpResponse(data, content_type=MVT_TYPE, status=status)
    response["ETag"] = etag
    # per jurisdiction: private; revalidated (ETag → 304) after max_age
    response["Cache-Control"] = f"private, max-age={0 if volatile else layer.max_age}"
    response["Vary"] = "Authorization, Cookie"
    return response


class TileJsonView(LayerView):
    """图层的 TileJSON 描述（切片地址、级别、字段、范围）。"""

    @extend_schema(
        operation_id="tiles_tilejson_retrieve",
        summary="图层的 TileJSON",
        parameters=doc.TILEJSON_PARAMETERS,
        responses=doc.TILEJSON_RESPONSES,
    )
    def get(self, request, layer: str):
        the_layer = self.the_layer_for_caller()
        params = self.filter_params()
        layer_queryset(the_layer, params, request.jurisdiction)  # the same 400s as the tiles
        return Response(tilejson(request, the_layer, params, request.jurisdiction))


class TileLayersView(APIView):
    """可用的矢量切片图层。"""

    required_scopes = {"GET": "regions:read"}

    @extend_schema(
        operation_id="tiles_layers_list", summary="矢量切片图层列表", responses=doc.TILE_LAYERS_RESPONSES
    )
    def get(self, request):
        from accounts.permissions import principal_of

        from .selectors.tilejson import layer_summary

        scopes = principal_of(request).scopes
        return Response({"layers": [layer_summary(request, x) for x in layers() if x.scope in scopes]})


class BaseMapView(APIView):
    """底图服务（MapProxy：WMTS、TMS/XYZ、WMS）。"""

    required_scopes = {"GET": "regions:read"}
    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="basemap_retrieve",
        summary="底图服务（MapProxy）",
        parameters=doc.BASEMAP_PARAMETERS,
        responses=doc.BASEMAP_RESPONSES,
    )
    def get(self, request, rest: str = ""):
        from .basemap.service import basemap_call

        return basemap_call(request, rest)


class RenderWmsView(APIView):
    """本地数据渲染的底图 WMS（MapProxy 的离线数据源）。"""

    required_scopes = {"GET": "regions:read"}
    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="tiles_render_wms_retrieve",
        summary="本地数据渲染的底图 WMS",
        parameters=doc.WMS_PARAMETERS,
        responses=doc.WMS_RESPONSES,
    )
    def get(self, request):
        from .basemap.wms import wms_response

        return wms_response(request)


def tiles_not_found(request) -> JsonResponse:
    message = f"没有这个切片地址：{request.path}（应为 /tiles/{{图层}}/{{z}}/{{x}}/{{y}}.mvt）"
    return JsonResponse(error_body("not_found", message), status=404)
