"""Assessment-site draws (测评地点随机抽选): draw, confirm (生效), void (作废), replace, verify.

A draw is stratified by site type × district. Each stratum is drawn by the pure samplers of
:mod:`gis_core.sampling` (GRTS by default, BAS, or simple random sampling) on coordinates
projected to the UTM zone of the frame's centre (metres; UTM scale is within 0.1 % of the
ground in its zone), with a seed derived from the draw's seed and the stratum's name, so a
stratum's sites do not depend on which other strata were asked. The base sites come first in
draw order, then the reserves in order of use.

Spatial balance (spsurvey's ``sp_balance``, Pielou's evenness of the Voronoi inclusion sums;
0 is perfectly balanced) is computed per stratum and stored with the draw beside the mean
balance of ``DRAW_SRS_REPLICATES`` simple random samples of the same size from the same
stratum; the draw's figures are the means over strata weighted by their base sizes.

A draw can also be of an area (:mod:`.areas`): points inside polygons or along road centre
lines, one stratum per shape, same seed rules, balance and life.

A confirmed or voided draw cannot change (409), except that an inaccessible site of a confirmed
draw is replaced by the next reserve of its stratum, recorded as an appended
:class:`~civilization.models.DrawReplacement`. The frame snapshot, the seed and the
parameters stored with a draw are enough to run it again: :func:`draw_verify` does, and
compares the sites.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyproj
from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils import timezone

from accounts.scoping import Jurisdiction, scope_queryset
from gis_core.codes import LEVEL_WIDTHS, InvalidCode, pad_code
from gis_core.errors import Conflict, InvalidInput, NotFound
from gis_core.ground import utm_zone
from gis_core.models import Region
from gis_core.sampling import SamplingError
from gis_core.signals import model_values, rows_written

from ..models import (
    AssessmentDraw,
    DrawFrame,
    DrawKind,
    DrawMethod,
    DrawReplacement,
    DrawSite,
    DrawState,
    SiteRole,
)
from .areas import AreaInput, area_frame_build, area_strata, locate_area_points, run_areas
from .frames import FrameSite, ListedSite, frame_build, frame_hash, frame_json
from .sampling import SAMPLERS, balance, sampling_error, srs_balance_mean, stratum_seed

__all__ = [
    "AreaInput",
    "DrawInput",
    "StratumInput",
    "draw_confirm",
    "draw_create",
    "draw_get",
    "draw_replace",
    "draw_verify",
    "draw_void",
]


@dataclass(frozen=True)
class StratumInput:
    type: str
    district: str  # any form of the district's code (510502 / 510502000000)
    n: int
    reserves: int | None = None  # default: the draw's


@dataclass(frozen=True)
class DrawInput:
    title: str
    method: str = DrawMethod.GRTS
    seed: int | None = None  # generated with ``secrets`` when not given
    min_distance_m: float | None = None
    allow_partial: bool = False  # a minimum distance that cannot be met: draw as many as fit
    reserves: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # type → sites per district
    strata: tuple[StratumInput, ...] = ()
    poi_categories: tuple[str, ...] = ()
    unit_types: tuple[str, ...] = ()
    sites: tuple[ListedSite, ...] = ()
    areas: tuple[AreaInput, ...] = ()  # an area draw: points inside polygons or along roads


# ------------------------------------------------------------------ strata and drawing


def _district(code: str) -> str:
    try:
        padded = pad_code(str(code).strip())
    except InvalidCode as exc:
        raise InvalidInput(str(exc), details={"district": code}) from None
    return padded[:6].ljust(12, "0")


def _count(value, what: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInput(
            f"{what}应为不小于 {minimum} 的整数，实际为“{value}”", code="bad_count", details={what: value}
        )
    return value


def _strata(data: DrawInput, frame: Sequence[FrameSite]) -> list[dict]:
    """The strata asked, each with its frame indices; every count checked against its stratum."""
    members: dict[tuple[str, str], list[int]] = {}
    for i, site in enumerate(frame):
        members.setdefault((site.type, site.district_code), []).append(i)
    default_reserves = _count(data.reserves, "备选点数 reserves ", minimum=0)
    asked: dict[tuple[str, str], tuple[int, int]] = {}
    for s in data.strata:
        key = (s.type.strip(), _district(s.district))
        reserves = (
            default_reserves if s.reserves is None else _count(s.reserves, "备选点数 reserves ", minimum=0)
        )
        asked[key] = (_count(s.n, f"层 {key[0]}（{key[1]}）的抽取数 n ", minimum=1), reserves)
    for kind, n in sorted(data.counts.items()):
        n = _count(n, f"类型 {kind} 的抽取数 ", minimum=1)
        districts = sorted(d for t, d in members if t == kind)
        if not districts:
            raise InvalidInput(
                f"抽样框中没有类型为“{kind}”的点位", code="empty_stratum", details={"type": kind}
            )
        for district in districts:
            asked.setdefault((kind, district), (n, default_reserves))
    if not asked:
        raise InvalidInput("请给出各层抽取数：counts（类型 → 每个区县抽取数）或 strata", code="no_strata")
    names = dict(Region.objects.filter(code__in={d for _, d in asked}).values_list("code", "name"))
    strata = []
    for (kind, district), (n, reserves) in sorted(asked.items()):
        index = members.get((kind, district), [])
        label = f"{kind}（{names.get(district, district)}）"
        if not index:
            raise InvalidInput(
                f"层 {label} 在抽样框中没有候选点位",
                code="empty_stratum",
                details={"type": kind, "district": district},
            )
        if n > len(index):
            raise InvalidInput(
                f"层 {label} 只有 {len(index)} 个候选点位，不能抽取 {n} 个",
                code="stratum_too_small",
                details={"type": kind, "district": district, "asked": n, "available": len(index)},
            )
        strata.append(
            {
                "key": f"{kind}|{district}",
                "type": kind,
                "district": district,
                "district_name": names.get(district, ""),
                "frame_size": len(index),
                "n": n,
                "reserves": reserves,
                "n_over": min(reserves, len(index) - n),
                "index": index,
            }
        )
    return strata


def _project(frame: Sequence[FrameSite]) -> np.ndarray:
    lons = np.array([s.lon for s in frame])
    lats = np.array([s.lat for s in frame])
    epsg = utm_zone(float(np.mean(lons)), float(np.mean(lats)))
    transformer = pyproj.Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    x, y = transformer.transform(lons, lats)
    return np.column_stack([x, y])


@dataclass
class StratumDraw:
    spec: dict
    base: list[int]  # frame indices, draw order
    over: list[int]  # reserves, order of use
    probs: dict[int, float]  # frame index → inclusion probability (base design)
    balance: float | None = None
    srs_balance_mean: float | None = None


def run_strata(
    frame: Sequence[FrameSite],
    strata: list[dict],
    *,
    method: str,
    seed: int,
    min_distance_m: float | None,
    allow_partial: bool,
    replicates: int = 0,
) -> list[StratumDraw]:
    """Draw every stratum (pure: frame, strata and seed in, sites out); ``replicates`` SRS draws
    of each for the balance comparison (0: no balance figures, as when verifying)."""
    sampler = SAMPLERS[DrawMethod(method)]
    xy_all = _project(frame)
    weighted = any(s.weight is not None for s in frame)
    out = []
    for spec in strata:
        index = spec["index"]
        xy = xy_all[index]
        weights = np.array([frame[i].weight or 1.0 for i in index]) if weighted else None
        try:
            sample = sampler(
                xy,
                spec["n"],
                seed=stratum_seed(seed, spec["key"]),
                weights=weights,
                n_over=spec["n_over"],
                min_dist=min_distance_m or None,
                allow_fewer=allow_partial,
            )
        except SamplingError as exc:
            label = f"{spec['type']}（{spec['district_name'] or spec['district']}）"
            raise sampling_error(exc, label, spec, min_distance_m) from None
        drawn = StratumDraw(
            spec,
            [index[i] for i in sample.base],
            [index[i] for i in sample.over],
            {index[i]: float(sample.probs[i]) for i in (*sample.base, *sample.over)},
        )
        if replicates:
            drawn.balance = balance(xy, sample.base, sample.probs)
            drawn.srs_balance_mean = srs_balance_mean(
                xy, len(sample.base), seed=seed, key=spec["key"], replicates=replicates
            )
        out.append(drawn)
    return out


def _weighted_mean(pairs: list[tuple[float | None, int]]) -> float | None:
    pairs = [(v, w) for v, w in pairs if v is not None and w > 0]
    total = sum(w for _, w in pairs)
    return round(sum(v * w for v, w in pairs) / total, 6) if total else None


def _common_region(codes: Sequence[str]) -> str:
    """The deepest region holding every code (grid or region codes)."""
    for level in (5, 4, 3, 2, 1):
        width = LEVEL_WIDTHS[level]
        if len({c[:width] for c in codes}) == 1:
            return codes[0][:width].ljust(12, "0")
    return "0" * 12


def _stored_strata(draws: list[StratumDraw]) -> list[dict]:
    return [
        {
            **{k: v for k, v in d.spec.items() if k != "index"},
            "drawn": len(d.base),
            "reserves_drawn": len(d.over),
            "short": len(d.base) < d.spec["n"] or len(d.over) < d.spec["n_over"],
            "balance": None if d.balance is None else round(d.balance, 6),
            "srs_balance_mean": None if d.srs_balance_mean is None else round(d.srs_balance_mean, 6),
        }
        for d in draws
    ]


def _ranked(draws: list) -> Iterator[tuple[Any, str, int, Any]]:
    """(stratum draw, role, rank, site) of every site drawn: base in draw order, then reserves."""
    for d in draws:
        for role, picked in ((SiteRole.BASE, d.base), (SiteRole.RESERVE, d.over)):
            for rank, item in enumerate(picked):
                yield d, role, rank, item


@dataclass
class _Drawn:
    """What a draw stores, whatever its frame: the frame as JSON, the strata, the sites."""

    kind: str
    frame: list[dict]
    draws: list  # StratumDraw / AreaStratumDraw (spec, base, over, balance, srs_balance_mean)
    sites: list[DrawSite]  # not saved, without their draw
    region_code: str


def _point_draw(data: DrawInput, seed: int, jurisdiction: Jurisdiction) -> _Drawn:
    frame = frame_build(
        jurisdiction=jurisdiction,
        poi_categories=data.poi_categories,
        unit_types=data.unit_types,
        sites=data.sites,
        max_size=settings.CIVGRID["DRAW_MAX_FRAME"],
    )
    strata = _strata(data, frame)
    draws = run_strata(
        frame,
        strata,
        method=data.method,
        seed=seed,
        min_distance_m=data.min_distance_m,
        allow_partial=data.allow_partial,
        replicates=settings.CIVGRID["DRAW_SRS_REPLICATES"],
    )
    rows = [
        DrawSite(
            stratum=d.spec["key"],
            site_type=frame[i].type,
            district_code=frame[i].district_code,
            role=role,
            rank=rank,
            frame_index=i,
            key=frame[i].key,
            name=frame[i].name[:200],
            geom=Point(frame[i].lon, frame[i].lat, srid=4326),
            grid_code=frame[i].grid_code,
            region_code=frame[i].region_code,
            inclusion_probability=d.probs.get(i),
            active=role == SiteRole.BASE,
        )
        for d, role, rank, i in _ranked(draws)
    ]
    return _Drawn(
        DrawKind.SITES, frame_json(frame), draws, rows, _common_region([s.grid_code for s in frame])
    )


def _area_site_key(spec: dict, frame_index: int) -> str:
    return f"area:{spec['frame_item'] + 1}:{frame_index}"


def _area_draw(data: DrawInput, seed: int, jurisdiction: Jurisdiction) -> _Drawn:
    if data.counts or data.strata or data.sites or data.poi_categories or data.unit_types:
        raise InvalidInput(
            "区域抽样（areas）不能与候选点位的抽样框（counts、strata、sites、poi_categories、unit_types）同用",
            code="mixed_frames",
        )
    items = area_frame_build(data.areas, jurisdiction=jurisdiction)
    strata = area_strata(
        data.areas,
        items,
        default_reserves=_count(data.reserves, "备选点数 reserves ", minimum=0),
        count=_count,
    )
    draws = run_areas(
        items,
        strata,
        method=data.method,
        seed=seed,
        min_distance_m=data.min_distance_m,
        allow_partial=data.allow_partial,
        replicates=settings.CIVGRID["DRAW_SRS_REPLICATES"],
    )
    ranked = list(_ranked(draws))
    places = locate_area_points(
        [(p, d.spec) for d, _, _, p in ranked], jurisdiction if not jurisdiction.nationwide else None
    )
    rows = [
        DrawSite(
            stratum=d.spec["key"],
            site_type=d.spec["type"],
            role=role,
            rank=rank,
            frame_index=point.frame_index,
            key=_area_site_key(d.spec, point.frame_index),
            name=point.name[:200],
            geom=Point(point.lon, point.lat, srid=4326),
            inclusion_probability=point.probability,
            active=role == SiteRole.BASE,
            **place,
        )
        for (d, role, rank, point), place in zip(ranked, places, strict=True)
    ]
    # a polygon drawn by a nationwide caller: the draw's region from where its points fell
    codes = [
        place["grid_code"] or place["region_code"]
        for (d, *_), place in zip(ranked, places, strict=True)
        if not items[d.spec["frame_item"]]["region_code"]
    ]
    codes += [it["region_code"] for it in items if it["region_code"]]
    return _Drawn(DrawKind.AREA, items, draws, rows, _common_region(codes) if codes else "0" * 12)


def draw_create(*, data: DrawInput, jurisdiction: Jurisdiction, actor: str) -> AssessmentDraw:
    """Build the frame in the caller's jurisdiction (candidate sites, or areas), draw every
    stratum, store it all (drafted)."""
    title = (data.title or "").strip()
    if not title:
        raise InvalidInput("缺少名称 title", details={"title": "required"})
    if data.method not in DrawMethod.values:
        raise InvalidInput(f"method 应为 {'、'.join(DrawMethod.values)}", details={"method": data.method})
    if data.min_distance_m is not None and not (0 < data.min_distance_m <= 100_000):
        raise InvalidInput(
            "最小间距 min_distance_m 应在 (0, 100000] 米之间", details={"min_distance_m": data.min_distance_m}
        )
    seed = secrets.randbits(63) if data.seed is None else data.seed
    if not 0 <= seed < 2**63:
        raise InvalidInput("seed 应为 0 – 2^63-1 的整数", details={"seed": seed})
    drawn = (_area_draw if data.areas else _point_draw)(data, seed, jurisdiction)
    digest = frame_hash(drawn.frame)
    with transaction.atomic():
        stored, _ = DrawFrame.objects.get_or_create(
            sha256=digest, defaults={"sites": drawn.frame, "size": len(drawn.frame)}
        )
        draw = AssessmentDraw(
            title=title[:120],
            region_code=drawn.region_code,
            method=data.method,
            kind=drawn.kind,
            seed=seed,
            min_distance_m=data.min_distance_m,
            allow_partial=data.allow_partial,
            strata=_stored_strata(drawn.draws),
            frame=stored,
            frame_sha256=digest,
            balance=_weighted_mean([(d.balance, len(d.base)) for d in drawn.draws]),
            srs_balance_mean=_weighted_mean([(d.srs_balance_mean, len(d.base)) for d in drawn.draws]),
            srs_replicates=settings.CIVGRID["DRAW_SRS_REPLICATES"],
            created_by=actor[:150],
        )
        draw.full_clean(exclude=["frame"])
        draw.save()
        for site in drawn.sites:
            site.draw = draw
        DrawSite.objects.bulk_create(drawn.sites, batch_size=2000)
        rows_written.send(
            DrawSite, changes=[(s.pk, s.district_code, None, model_values(s)) for s in drawn.sites]
        )
    return draw


# ------------------------------------------------------------------ life


def draw_get(draw_id: int, jurisdiction: Jurisdiction, *, lock: bool = False) -> AssessmentDraw:
    qs = scope_queryset(AssessmentDraw.objects.filter(pk=draw_id), jurisdiction)
    if lock:
        qs = qs.select_for_update()
    draw = qs.select_related("frame").first() if not lock else qs.first()
    if draw is None:
        raise NotFound(f"抽取记录 {draw_id} 不存在")
    return draw


def _drafted(draw: AssessmentDraw, doing: str) -> None:
    if draw.state != DrawState.DRAFTED:
        raise Conflict(
            f"该抽取{draw.get_state_display()}，不能{doing}（只有草稿可以{doing}）",
            code="draw_not_drafted",
            details={"state": draw.state},
        )


def draw_confirm(*, draw_id: int, jurisdiction: Jurisdiction) -> AssessmentDraw:
    """drafted → confirmed (生效). From then on the draw cannot change."""
    with transaction.atomic():
        draw = draw_get(draw_id, jurisdiction, lock=True)
        _drafted(draw, "生效")
        draw.state, draw.confirmed_at = DrawState.CONFIRMED, timezone.now()
        draw.save(update_fields=["state", "confirmed_at"])
    return draw


def draw_void(*, draw_id: int, reason: str, jurisdiction: Jurisdiction) -> AssessmentDraw:
    """drafted → voided (作废), with the reason."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("作废必须说明原因 reason", details={"reason": "required"})
    with transaction.atomic():
        draw = draw_get(draw_id, jurisdiction, lock=True)
        _drafted(draw, "作废")
        draw.state, draw.void_reason, draw.voided_at = DrawState.VOIDED, reason[:300], timezone.now()
        draw.save(update_fields=["state", "void_reason", "voided_at"])
    return draw


def draw_replace(
    *, draw_id: int, site_id: int, reason: str, jurisdiction: Jurisdiction, actor: str
) -> DrawReplacement:
    """Replace an inaccessible site by the next unused reserve of its stratum.

    Allowed while drafted and after confirmation (inspectors find a site closed during the
    assessment); refused on a voided draw. The sites, seed, frame and design do not change:
    the replacement is an appended :class:`DrawReplacement` (reason, actor, time) and the
    list's ``active`` flags move from the site to the reserve."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("替换点位必须说明原因 reason", details={"reason": "required"})
    with transaction.atomic():
        draw = draw_get(draw_id, jurisdiction, lock=True)
        if draw.state == DrawState.VOIDED:
            raise Conflict("该抽取已作废，不能替换点位", code="draw_voided", details={"state": draw.state})
        site = DrawSite.objects.select_for_update().filter(draw=draw, pk=site_id).first()
        if site is None:
            raise NotFound(f"该抽取中没有点位 {site_id}")
        if not site.active:
            raise Conflict(
                "该点位不在当前名单中（未启用或已被替换）", code="site_not_active", details={"site": site_id}
            )
        reserve = (
            DrawSite.objects.select_for_update()
            .filter(
                draw=draw, stratum=site.stratum, role=SiteRole.RESERVE, active=False, replaced_at__isnull=True
            )
            .order_by("rank")
            .first()
        )
        if reserve is None:
            raise Conflict(
                f"层 {site.stratum} 的备选点位已用完，无法替换",
                code="no_reserve_left",
                details={"stratum": site.stratum},
            )
        reserve.active = True
        reserve.save(update_fields=["active"])
        site.active, site.replaced_reason, site.replaced_at = False, reason[:300], timezone.now()
        site.replaced_by = reserve
        site.save(update_fields=["active", "replaced_reason", "replaced_at", "replaced_by"])
        record = DrawReplacement(
            draw=draw,
            site=site,
            replacement=reserve,
            reason=reason[:300],
            actor=actor[:150],
            region_code=site.district_code,
        )
        record.full_clean()
        record.save()
    return record


def _rerun_keys(draw: AssessmentDraw, frame_items: list[dict]) -> set[tuple[str, str, int, str]]:
    """(stratum, role, rank, site key) of the draw run again from its stored frame and seed."""
    common = {
        "method": draw.method,
        "seed": draw.seed,
        "min_distance_m": draw.min_distance_m,
        "allow_partial": draw.allow_partial,
    }
    if draw.kind == DrawKind.AREA:
        return {
            (d.spec["key"], role, rank, _area_site_key(d.spec, p.frame_index))
            for d, role, rank, p in _ranked(run_areas(frame_items, list(draw.strata), **common))
        }
    frame = [FrameSite(**s) for s in frame_items]
    members: dict[tuple[str, str], list[int]] = {}
    for i, site in enumerate(frame):
        members.setdefault((site.type, site.district_code), []).append(i)
    strata = [{**spec, "index": members.get((spec["type"], spec["district"]), [])} for spec in draw.strata]
    return {
        (d.spec["key"], role, rank, frame[i].key)
        for d, role, rank, i in _ranked(run_strata(frame, strata, **common))
    }


def draw_verify(*, draw_id: int, jurisdiction: Jurisdiction) -> dict:
    """Run the draw again from its stored frame, seed and parameters; compare with the stored sites."""
    draw = draw_get(draw_id, jurisdiction)
    sites_json = draw.frame.sites
    digest = frame_hash(sites_json)
    expected = _rerun_keys(draw, sites_json)
    stored = set(draw.sites.values_list("stratum", "role", "rank", "key"))
    differences = sorted(expected ^ stored)
    return {
        "draw": draw.pk,
        "verified": digest == draw.frame_sha256 and not differences,
        "frame_sha256": digest,
        "frame_matches": digest == draw.frame_sha256,
        "seed": str(draw.seed),
        "sites": len(stored),
        "differences": [
            {
                "stratum": s,
                "role": r,
                "rank": k,
                "key": key,
                "in": "rerun" if (s, r, k, key) in expected else "stored",
            }
            for s, r, k, key in differences[:50]
        ],
    }
