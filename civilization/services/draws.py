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

A confirmed or voided draw cannot change (409). The frame snapshot, the seed and the
parameters stored with a draw are enough to run it again: :func:`draw_verify` does, and
compares the sites.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

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
from gis_core.sampling import SamplingError, bas, grts, sp_balance, srs
from gis_core.signals import model_values, rows_written

from ..models import AssessmentDraw, DrawFrame, DrawMethod, DrawSite, DrawState, SiteRole
from .frames import FrameSite, ListedSite, frame_build, frame_hash, frame_json

__all__ = [
    "DrawInput",
    "StratumInput",
    "draw_confirm",
    "draw_create",
    "draw_get",
    "draw_replace",
    "draw_verify",
    "draw_void",
]

SAMPLERS = {DrawMethod.GRTS: grts, DrawMethod.BAS: bas, DrawMethod.SRS: srs}


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


# ------------------------------------------------------------------ strata and drawing


def stratum_seed(seed: int, key: str) -> int:
    """The seed of one stratum: the draw's seed and the stratum's name through SHA-256 (63 bits)."""
    digest = hashlib.sha256(f"{seed}|{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


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


def _balance(xy: np.ndarray, idx: Sequence[int], probs: np.ndarray | None) -> float | None:
    """sp_balance, or None where it is not defined (a stratum drawn whole, or too small)."""
    if len(idx) < 1 or len(idx) >= len(xy):
        return None
    try:
        return float(sp_balance(xy, list(idx), probs=probs))
    except (SamplingError, ValueError):
        return None


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
            if exc.code == "min_dist":
                raise InvalidInput(
                    f"层 {label} 无法满足最小间距 {min_distance_m:g} 米：最多能抽 {exc.placed} 个"
                    "（可减小间距或抽取数，或设 allow_partial=true 尽量多抽）",
                    code="min_distance_unmet",
                    details={
                        "stratum": spec["key"],
                        "placed": exc.placed,
                        "asked": spec["n"] + spec["n_over"],
                    },
                ) from None
            raise InvalidInput(f"层 {label}：{exc.message}", code=f"sampling_{exc.code}") from None
        drawn = StratumDraw(
            spec,
            [index[i] for i in sample.base],
            [index[i] for i in sample.over],
            {index[i]: float(sample.probs[i]) for i in (*sample.base, *sample.over)},
        )
        if replicates:
            drawn.balance = _balance(xy, sample.base, sample.probs)
            n = len(sample.base)
            values = (
                [
                    _balance(xy, srs(xy, n, seed=stratum_seed(seed, f"{spec['key']}|srs|{r}")).base, None)
                    for r in range(replicates)
                ]
                if n < len(index)
                else []
            )
            values = [v for v in values if v is not None]
            drawn.srs_balance_mean = float(np.mean(values)) if values else None
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


def draw_create(*, data: DrawInput, jurisdiction: Jurisdiction, actor: str) -> AssessmentDraw:
    """Build the frame in the caller's jurisdiction, draw every stratum, store it all (drafted)."""
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
    sites_json = frame_json(frame)
    digest = frame_hash(sites_json)
    with transaction.atomic():
        stored, _ = DrawFrame.objects.get_or_create(
            sha256=digest, defaults={"sites": sites_json, "size": len(frame)}
        )
        draw = AssessmentDraw(
            title=title[:120],
            region_code=_common_region([s.grid_code for s in frame]),
            method=data.method,
            seed=seed,
            min_distance_m=data.min_distance_m,
            allow_partial=data.allow_partial,
            strata=_stored_strata(draws),
            frame=stored,
            frame_sha256=digest,
            balance=_weighted_mean([(d.balance, len(d.base)) for d in draws]),
            srs_balance_mean=_weighted_mean([(d.srs_balance_mean, len(d.base)) for d in draws]),
            srs_replicates=settings.CIVGRID["DRAW_SRS_REPLICATES"],
            created_by=actor[:150],
        )
        draw.full_clean(exclude=["frame"])
        draw.save()
        rows = []
        for d in draws:
            for role, picked in ((SiteRole.BASE, d.base), (SiteRole.RESERVE, d.over)):
                for rank, i in enumerate(picked):
                    site = frame[i]
                    rows.append(
                        DrawSite(
                            draw=draw,
                            stratum=d.spec["key"],
                            site_type=site.type,
                            district_code=site.district_code,
                            role=role,
                            rank=rank,
                            frame_index=i,
                            key=site.key,
                            name=site.name[:200],
                            geom=Point(site.lon, site.lat, srid=4326),
                            grid_code=site.grid_code,
                            region_code=site.region_code,
                            inclusion_probability=d.probs.get(i),
                            active=role == SiteRole.BASE,
                        )
                    )
        DrawSite.objects.bulk_create(rows, batch_size=2000)
        rows_written.send(DrawSite, changes=[(s.pk, s.district_code, None, model_values(s)) for s in rows])
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


def draw_replace(*, draw_id: int, site_id: int, reason: str, jurisdiction: Jurisdiction) -> DrawSite:
    """Replace an inaccessible site by the next unused reserve of its stratum; returns the reserve."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("替换点位必须说明原因 reason", details={"reason": "required"})
    with transaction.atomic():
        draw = draw_get(draw_id, jurisdiction, lock=True)
        _drafted(draw, "替换点位")
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
    return reserve


def draw_verify(*, draw_id: int, jurisdiction: Jurisdiction) -> dict:
    """Run the draw again from its stored frame, seed and parameters; compare with the stored sites."""
    draw = draw_get(draw_id, jurisdiction)
    sites_json = draw.frame.sites
    digest = frame_hash(sites_json)
    frame = [FrameSite(**s) for s in sites_json]
    strata = []
    members: dict[tuple[str, str], list[int]] = {}
    for i, site in enumerate(frame):
        members.setdefault((site.type, site.district_code), []).append(i)
    for spec in draw.strata:
        strata.append({**spec, "index": members.get((spec["type"], spec["district"]), [])})
    rerun = run_strata(
        frame,
        strata,
        method=draw.method,
        seed=draw.seed,
        min_distance_m=draw.min_distance_m,
        allow_partial=draw.allow_partial,
    )
    expected = {
        (d.spec["key"], role, rank, frame[i].key)
        for d in rerun
        for role, picked in ((SiteRole.BASE, d.base), (SiteRole.RESERVE, d.over))
        for rank, i in enumerate(picked)
    }
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
