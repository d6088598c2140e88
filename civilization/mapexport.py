"""A self-contained HTML map page of a draw (folium), that works offline.

folium links Leaflet, jQuery, Bootstrap and Font Awesome from CDNs by default; here every
default link is dropped and Leaflet's JS and CSS are inlined from the pinned npm package
(``package.json`` / ``package-lock.json``, installed by ``scripts/setup.sh`` into
``node_modules/``). There are no base tiles: the district and community boundaries of the
draw are drawn as the background, the sites on top (base sites filled, unused reserves
hollow, replaced sites grey).
"""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path

import folium
import shapely
from django.conf import settings
from django.db.models import Q
from shapely.geometry import mapping

from gis_core.errors import ApplicationError
from gis_core.models import Region

from .models import AssessmentDraw, DrawSite, SiteRole

__all__ = ["AssetsMissing", "draw_map_html", "leaflet_assets"]

PALETTE = ["#d7263d", "#1b998b", "#2e86ab", "#f46036", "#8e44ad", "#c5a000", "#3d5a80", "#e07a5f"]


class AssetsMissing(ApplicationError):
    status = 503
    code = "assets_missing"


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


def _boundaries(draw: AssessmentDraw, districts: set[str]) -> list[dict]:
    """Districts of the draw and their communities, simplified (~5 m) for the page."""
    within = Q(pk__in=[])
    for district in districts:
        within |= Q(code__startswith=district[:6])
    features = []
    for level, weight in ((3, 2.5), (5, 0.7)):
        qs = Region.objects.filter(within, level=level, geom__isnull=False)
        for code, name, geom in qs.order_by("code").values_list("code", "name", "geom"):
            shape = shapely.from_wkb(bytes(geom.wkb)).simplify(0.00005, preserve_topology=True)
            features.append(
                {
                    "type": "Feature",
                    "geometry": mapping(shape),
                    "properties": {"code": code, "name": name, "weight": weight},
                }
            )
    return features


def _popup(site: DrawSite) -> str:
    role = "正选" if site.role == SiteRole.BASE else "备选"
    state = "（已替换：" + site.replaced_reason + "）" if site.replaced_at else ""
    return html.escape(f"{site.name} · {site.site_type} · {role}第 {site.rank + 1} 位{state}")


def draw_map_html(draw: AssessmentDraw) -> str:
    """The page as a string: no http(s) script or stylesheet reference in it."""
    js, css = leaflet_assets()
    sites = list(draw.sites.order_by("stratum", "role", "rank"))
    districts = {s.district_code for s in sites} or {draw.region_code}
    lats = [s.geom.y for s in sites] or [0.0]
    lons = [s.geom.x for s in sites] or [0.0]
    fmap = folium.Map(location=[sum(lats) / len(lats), sum(lons) / len(lons)], tiles=None, zoom_start=12)
    fmap.default_js, fmap.default_css = [], []  # no CDN: Leaflet is inlined below
    root = fmap.get_root()
    root.header.add_child(folium.Element(f"<style>{css}</style>"), name="leaflet_css")
    root.header.add_child(folium.Element(f"<script>{js}</script>"), name="leaflet_js")
    title = html.escape(
        f"{draw.title}（{draw.get_state_display()}，{draw.get_method_display()}，种子 {draw.seed}）"
    )
    root.header.add_child(folium.Element(f"<title>{title}</title>"), name="title")
    folium.GeoJson(
        {"type": "FeatureCollection", "features": _boundaries(draw, districts)},
        name="区划边界",
        style_function=lambda f: {
            "color": "#555",
            "weight": f["properties"]["weight"],
            "fill": True,
            "fillColor": "#f2efe9",
            "fillOpacity": 0.4,
        },
        tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
    ).add_to(fmap)
    types = sorted({s.site_type for s in sites})
    colours = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(types)}
    for site in sites:
        used = site.active or site.replaced_at is not None
        colour = "#888" if site.replaced_at else colours[site.site_type]
        folium.CircleMarker(
            [site.geom.y, site.geom.x],
            radius=7 if site.role == SiteRole.BASE else 5,
            color=colour,
            weight=2,
            fill=used and not site.replaced_at,
            fill_color=colour,
            fill_opacity=0.9,
            tooltip=html.escape(site.name),
            popup=_popup(site),
        ).add_to(fmap)
    legend = "".join(
        f'<div><span style="display:inline-block;width:10px;height:10px;border-radius:5px;'
        f'background:{colours[t]};margin-right:6px"></span>{html.escape(t)}</div>'
        for t in types
    )
    balance = "—" if draw.balance is None else f"{draw.balance:.4f}"
    srs_mean = "—" if draw.srs_balance_mean is None else f"{draw.srs_balance_mean:.4f}"
    box = (
        '<div style="position:fixed;top:10px;right:10px;z-index:9999;background:#fff;padding:8px 10px;'
        'border:1px solid #999;font:13px sans-serif;max-width:280px">'
        f"<b>{title}</b><div>空间均衡度 {balance}（简单随机抽样均值 {srs_mean}，越小越均衡）</div>"
        f"<div>抽样框摘要 {draw.frame_sha256[:16]}…</div>{legend}"
        "<div style='color:#888'>空心：未启用的备选点位；灰色：已替换</div></div>"
    )
    root.html.add_child(folium.Element(box))
    if sites:
        fmap.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], padding=(20, 20))
    data = json.dumps({"draw": draw.pk, "frame_sha256": draw.frame_sha256}, ensure_ascii=False)
    root.html.add_child(folium.Element(f'<script type="application/json" id="draw-meta">{data}</script>'))
    return root.render()
