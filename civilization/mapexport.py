"""A self-contained HTML map page of a draw (folium), that works offline.

The page is built with the shared offline folium helpers of ``gis_core.mapexport`` (Leaflet
inlined from the pinned npm package, no CDN, no base tiles): the district and community
boundaries of the draw are drawn as the background, the sites on top (base sites filled,
unused reserves hollow, replaced sites grey).
"""

from __future__ import annotations

import html

import folium
from django.db.models import Q

from gis_core.mapexport import (
    PALETTE,
    AssetsMissing,
    add_boundaries,
    add_box,
    add_meta,
    boundary_features,
    leaflet_assets,
    offline_map,
    render,
)
from gis_core.models import Region

from .models import AssessmentDraw, DrawSite, SiteRole

__all__ = ["AssetsMissing", "draw_map_html", "leaflet_assets"]


def _boundaries(draw: AssessmentDraw, districts: set[str]) -> list[dict]:
    """Districts of the draw and their communities, simplified (~5 m) for the page."""
    within = Q(pk__in=[])
    for district in districts:
        within |= Q(code__startswith=district[:6])
    features = []
    for level, weight in ((3, 2.5), (5, 0.7)):
        qs = Region.objects.filter(within, level=level, geom__isnull=False)
        features += boundary_features(qs.order_by("code").values_list("code", "name", "geom"), weight=weight)
    return features


def _popup(site: DrawSite) -> str:
    role = "正选" if site.role == SiteRole.BASE else "备选"
    state = "（已替换：" + site.replaced_reason + "）" if site.replaced_at else ""
    return html.escape(f"{site.name} · {site.site_type} · {role}第 {site.rank + 1} 位{state}")


def draw_map_html(draw: AssessmentDraw) -> str:
    """The page as a string: no http(s) script or stylesheet reference in it."""
    sites = list(draw.sites.order_by("stratum", "role", "rank"))
    districts = {s.district_code for s in sites} or {draw.region_code}
    lats = [s.geom.y for s in sites] or [0.0]
    lons = [s.geom.x for s in sites] or [0.0]
    title = f"{draw.title}（{draw.get_state_display()}，{draw.get_method_display()}，种子 {draw.seed}）"
    fmap = offline_map(title=title, location=(sum(lats) / len(lats), sum(lons) / len(lons)), zoom_start=12)
    title = html.escape(title)
    add_boundaries(fmap, _boundaries(draw, districts))
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
    add_box(
        fmap,
        f"<b>{title}</b><div>空间均衡度 {balance}（简单随机抽样均值 {srs_mean}，越小越均衡）</div>"
        f"<div>抽样框摘要 {draw.frame_sha256[:16]}…</div>{legend}"
        "<div style='color:#888'>空心：未启用的备选点位；灰色：已替换</div>",
    )
    if sites:
        fmap.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], padding=(20, 20))
    add_meta(fmap, "draw-meta", {"draw": draw.pk, "frame_sha256": draw.frame_sha256})
    return render(fmap)
