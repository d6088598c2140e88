"""/tiles/… (vector tiles, TileJSON, the renderer's WMS) and /basemap/… (MapProxy)."""

from django.urls import path, re_path

from .views import BaseMapView, RenderWmsView, TileJsonView, TileLayersView, TileView, tiles_not_found

urlpatterns = [
    path("tiles/", TileLayersView.as_view(), name="tile-layers"),
    path("tiles/render/wms", RenderWmsView.as_view(), name="basemap-render-wms"),
    path("tiles/<str:layer>/<str:z>/<str:x>/<str:y>.mvt", TileView.as_view(), name="tile"),
    path("tiles/<str:layer>.json", TileJsonView.as_view(), name="tilejson"),
    re_path(r"^tiles/.*$", tiles_not_found),  # any other /tiles/ path: a JSON 404, like the API's
    re_path(r"^basemap/(?P<rest>.*)$", BaseMapView.as_view(), name="basemap"),
]
