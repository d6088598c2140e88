"""Three MapProxy source types of our own, registered before the configuration loads.

``civgrid_render``
    The offline base map drawn from the project's tables (:mod:`tiles.basemap.wms`,
    the renderer behind ``/tiles/render/wms``), called in-process: no HTTP request
    back into our own server (which a single sync worker could never answer).

``civgrid_gcj02``
    A GCJ-02 upstream (Amap/高德 style XYZ tiles, drawn in GCJ-02 coordinates on a
    web-mercator grid) made to line up with our WGS84 data. For a request of a
    WGS84 mercator box, the box is moved by the GCJ-02 offset at its centre and
    asked of the upstream's (unstored) cache, which stitches and crops its tiles:
    the image of the shifted box shows, pixel for pixel, what lies in the WGS84
    box. The offset is a translation per request; the true offset varies by
    < 1e-4 of the distance across China's smooth offset field (< 0.05 m across a
    z18 tile, < 0.1 pixel at every zoom across one 4×4 meta tile), so the
    non-linearity is invisible.

``civgrid_checked``
    An upstream tile source whose answers must decode as images (see :class:`CheckedSource`).
"""

from __future__ import annotations

import threading

from mapproxy.config.configuration.source import SourceConfiguration, register_source_configuration
from mapproxy.extent import DefaultMapExtent
from mapproxy.image import ImageResult
from mapproxy.layer.map_layer import MapLayer
from mapproxy.query import MapQuery
from mapproxy.srs import SRS
from mapproxy.util.ext.dictspec.spec import required

from gis_core.crs import wgs84_to_gcj02

__all__ = ["CheckedSource", "Gcj02ShiftSource", "RenderSource", "gcj02_offset", "register_plugins"]

_lock = threading.Lock()
_registered = False


class RenderSource(MapLayer):
    supports_meta_tiles = True

    def __init__(self, image_opts=None) -> None:
        super().__init__(image_opts=image_opts)
        self.extent = DefaultMapExtent()

    def get_map(self, query: MapQuery):
        import io

        from PIL import Image

        from .wms import render_png

        bbox = query.bbox
        if query.srs.srs_code not in ("EPSG:3857", "EPSG:900913"):
            bbox = query.srs.transform_bbox_to(SRS(3857), bbox)
        png = render_png(tuple(bbox), tuple(query.size))
        return ImageResult(Image.open(io.BytesIO(png)), image_opts=self.image_opts)


def gcj02_offset(bbox, srs: SRS) -> tuple[float, float]:
    """GCJ-02 minus WGS84 at the centre of ``bbox``, in the units of ``srs``."""
    cx, cy = (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2
    lonlat = SRS(4326)
    lon, lat = srs.transform_to(lonlat, (cx, cy))
    glon, glat = wgs84_to_gcj02(lon, lat)
    gx, gy = lonlat.transform_to(srs, (float(glon), float(glat)))
    return gx - cx, gy - cy


class Gcj02ShiftSource(MapLayer):
    supports_meta_tiles = True

    def __init__(self, inner: MapLayer, image_opts=None) -> None:
        super().__init__(image_opts=image_opts)
        self.inner = inner
        self.extent = DefaultMapExtent()

    def get_map(self, query: MapQuery):
        dx, dy = gcj02_offset(query.bbox, query.srs)
        x0, y0, x1, y1 = query.bbox
        shifted = MapQuery(
            (x0 + dx, y0 + dy, x1 + dx, y1 + dy), query.size, query.srs, query.format,
            transparent=query.transparent, dimensions=query.dimensions,
        )  # fmt: skip
        return self.inner.get_map(shifted)


class CheckedSource:
    """An upstream tile source whose answers must decode as images: garbage (an HTML error page
    sent as 200, a truncated body) becomes a source error — a 503 — and is never cached."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def get_map(self, query: MapQuery):
        from mapproxy.source import SourceError

        result = self.inner.get_map(query)
        try:
            result.as_image().load()
        except Exception as exc:
            raise SourceError(f"upstream answered something that is not an image: {exc}") from None
        return result


class RenderSourceConfiguration(SourceConfiguration):
    source_type = ("civgrid_render",)
    required_keys = {"type"}

    def source(self, params=None):
        return RenderSource(image_opts=self.image_opts(format="png"))


class Gcj02SourceConfiguration(SourceConfiguration):
    source_type = ("civgrid_gcj02",)
    required_keys = {"type", "cache"}

    def source(self, params=None):
        inner = self.context.caches[self.conf["cache"]].map_layer()
        return Gcj02ShiftSource(inner, image_opts=self.image_opts(format="png"))


class CheckedSourceConfiguration(SourceConfiguration):
    source_type = ("civgrid_checked",)
    required_keys = {"type", "source"}

    def source(self, params=None):
        return CheckedSource(self.context.sources[self.conf["source"]].source(params))


def register_plugins() -> None:
    """Make the two source types known to MapProxy (once per process)."""
    global _registered
    with _lock:
        if _registered:
            return
        register_source_configuration("civgrid_render", RenderSourceConfiguration, "civgrid_render", {})
        register_source_configuration(
            "civgrid_gcj02", Gcj02SourceConfiguration, "civgrid_gcj02", {required("cache"): ""}
        )
        register_source_configuration(
            "civgrid_checked", CheckedSourceConfiguration, "civgrid_checked", {required("source"): ""}
        )
        _registered = True
