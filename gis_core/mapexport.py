"""Self-contained map pages made with folium, and their PNG/PDF prints.

folium links Leaflet, jQuery, Bootstrap and Font Awesome from CDNs by default; an
:func:`offline_map` drops every default link and inlines Leaflet's JS and CSS from the
pinned npm package (``package.json`` / ``package-lock.json``, installed by
``scripts/setup.sh`` into ``node_modules/``), so the page opens on an isolated intranet
or from a mail attachment. There are no base tiles: callers draw region boundaries as
the background (:func:`add_boundaries`) and their layer on top.

PNG and PDF are printed from that page by headless Chromium (Debian's
``/usr/bin/chromium`` driven by Playwright) with every network request refused, so
a print shows exactly what the HTML shows.

This module knows nothing of events or civilization units (the layers live in
``webmap.export_layers``; ``civilization.mapexport`` builds its draw page with it): it sits in
gis_core so that feature apps and the web pages can both use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import math
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import folium
import shapely
from django.conf import settings
from shapely.geometry import mapping

from gis_core.errors import ApplicationError

__all__ = [
    "PALETTE",
    "RAMP",
    "AssetsMissing",
    "PrintFailed",
    "add_boundaries",
    "add_box",
    "add_meta",
    "boundary_features",
    "leaflet_assets",
    "legend_ramp",
    "offline_map",
    "print_page",
    "ramp",
    "render",
]

PALETTE = ["#d7263d", "#1b998b", "#2e86ab", "#f46036", "#8e44ad", "#c5a000", "#3d5a80", "#e07a5f"]
# sequential yellow → red (ColorBrewer YlOrRd, 6 classes) for counts and densities
RAMP = ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"]
BOX_STYLE = (
    "position:fixed;top:10px;right:10px;z-index:9999;background:#fff;padding:8px 10px;"
    "border:1px solid #999;font:13px sans-serif;max-width:280px"
)
# CSS pixels of the page: a PNG as is, a PDF laid out at A4 landscape (297 × 210 mm at 96 dpi)
PRINT_SIZE = {"png": {"width": 1400, "height": 900}, "pdf": {"width": 1123, "height": 794}}
PRINT_READY_JS = (
    "() => document.querySelectorAll('.leaflet-overlay-pane path, .leaflet-marker-pane *').length > 0"
)


class AssetsMissing(ApplicationError):
    status = 503
    code = "assets_missing"


class PrintFailed(ApplicationError):
    status = 503
    code = "print_failed"


@cache
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def leaflet_assets() -> tuple[str, str]:
    """(JS, CSS) of the pinned Leaflet from node_modules."""
    root = Path(settings.BASE_DIR) / "node_modules" / "leaflet" / "dist"
    try:
        return _read(root / "leaflet.js"), _read(root / "leaflet.css")
    except OSError:
        raise AssetsMissing(
            "服务器缺少 Leaflet 前端资源（node_modules/leaflet），请运行 scripts/setup.sh（npm ci）"
        ) from None


def offline_map(*, title: str, location: Sequence[float] = (0.0, 0.0), zoom_start: int = 12) -> folium.Map:
    """An empty folium map with Leaflet inlined, no CDN link and no base tiles."""
    js, css = leaflet_assets()
    fmap = folium.Map(location=list(location), tiles=None, zoom_start=zoom_start)
    fmap.default_js, fmap.default_css = [], []  # no CDN: Leaflet is inlined below
    root = fmap.get_root()
    root.header.add_child(folium.Element(f"<style>{css}</style>"), name="leaflet_css")
    root.header.add_child(folium.Element(f"<script>{js}</script>"), name="leaflet_js")
    root.header.add_child(folium.Element(f"<title>{html.escape(title)}</title>"), name="title")
    return fmap


def boundary_features(rows: Iterable[tuple[str, str, Any]], *, weight: float) -> list[dict]:
    """GeoJSON features of (code, name, geometry) rows, simplified (~5 m) for the page."""
    features = []
    for code, name, geom in rows:
        shape = shapely.from_wkb(bytes(geom.wkb)).simplify(0.00005, preserve_topology=True)
        features.append(
            {
                "type": "Feature",
                "geometry": mapping(shape),
                "properties": {"code": code, "name": name, "weight": weight},
            }
        )
    return features


def add_boundaries(fmap: folium.Map, features: list[dict], *, name: str = "区划边界") -> None:
    """Region outlines as the background (each feature's ``weight`` property is its line width)."""
    if not features:
        return
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name=name,
        style_function=lambda f: {
            "color": "#555",
            "weight": f["properties"]["weight"],
            "fill": True,
            "fillColor": "#f2efe9",
            "fillOpacity": 0.4,
        },
        tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
    ).add_to(fmap)


def add_box(fmap: folium.Map, inner_html: str) -> None:
    """A fixed box in the top right corner (title, figures, legend); ``inner_html`` is trusted."""
    fmap.get_root().html.add_child(
        folium.Element(f'<div class="export-box" style="{BOX_STYLE}">{inner_html}</div>')
    )


def add_meta(fmap: folium.Map, element_id: str, data: dict) -> None:
    """Machine-readable facts about the page, as ``<script type="application/json" id=…>``."""
    text = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    fmap.get_root().html.add_child(
        folium.Element(f'<script type="application/json" id="{element_id}">{text}</script>')
    )


def ramp(value: float, top: float) -> str:
    """The colour of ``value`` on :data:`RAMP` for values 0…``top`` (equal intervals)."""
    if top <= 0:
        return RAMP[0]
    k = min(int(len(RAMP) * value / top), len(RAMP) - 1)
    return RAMP[max(k, 0)]


def legend_ramp(top: float, *, unit: str, integer: bool = False) -> str:
    """Legend rows of :data:`RAMP` for 0…``top`` (``integer``: counts, classes of whole numbers)."""
    n = len(RAMP)
    rows = []
    for k, colour in enumerate(RAMP):
        lo, hi = top * k / n, top * (k + 1) / n
        if integer:  # the whole numbers v with ramp(v, top) == colour
            first, last = math.ceil(lo), (int(top) if k == n - 1 else math.ceil(hi) - 1)
            if first > last:
                continue
            text = f"{first}" if first == last else f"{first}–{last}"
        else:
            text = f"{lo:.3g}–{hi:.3g}"
        rows.append(
            f'<div><span style="display:inline-block;width:14px;height:10px;background:{colour};'
            f'margin-right:6px;border:1px solid #999"></span>{text} {html.escape(unit)}</div>'
        )
    return "".join(rows)


def render(fmap: folium.Map) -> str:
    """The page as a string: no http(s) script or stylesheet reference in it."""
    return fmap.get_root().render()


def print_page(page: str, fmt: str) -> bytes:
    """PNG (1400×900 CSS px) or PDF (A4 landscape) of a self-contained page, by headless Chromium.

    Every request the page would make is aborted (it needs none), so a print can never
    reach another host. Playwright's sync API refuses to run in a thread with a running
    asyncio loop (an ASGI server, a test driving a browser): there it runs in a thread of
    its own.
    """
    if fmt not in ("png", "pdf"):
        raise ValueError(fmt)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _print(page, fmt)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_print, page, fmt).result()


def _print(page: str, fmt: str) -> bytes:
    """The print itself; waits until Leaflet has drawn something (at most 5 s after the page is up)."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=settings.CIVGRID["CHROMIUM_PATH"],
                args=["--no-sandbox", "--disable-gpu", "--font-render-hinting=none"],
            )
            try:
                context = browser.new_context(viewport=PRINT_SIZE[fmt], device_scale_factor=1)
                context.route("**/*", lambda route: route.abort())
                tab = context.new_page()
                tab.set_content(page, wait_until="load", timeout=30_000)
                tab.wait_for_selector(".leaflet-container", state="attached", timeout=15_000)
                # nothing drawn after 5 s: an empty layer, the empty map with its box is printed
                with contextlib.suppress(PlaywrightTimeout):
                    tab.wait_for_function(PRINT_READY_JS, timeout=5_000)
                tab.wait_for_timeout(200)  # let Leaflet finish its zoom animation frame
                if fmt == "png":
                    return tab.screenshot(type="png", full_page=False)
                tab.emulate_media(media="screen")
                return tab.pdf(
                    format="A4",
                    landscape=True,
                    print_background=True,
                    margin=dict.fromkeys(("top", "bottom", "left", "right"), "0"),
                )
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise PrintFailed(f"无头浏览器生成 {fmt.upper()} 失败：{exc.message[:200]}") from exc
