"""Door plates, compounds, buildings and POIs of the synthetic demo city (pure Python, no Django).

Called by :func:`demo.citygen.build_city` with the roads and unit grids it has laid out, in the
same metric CRS (UTM 48N), so the demo can be geocoded down to the door.

* Door plates (门牌) stand along every named road every 40–60 m, ``DOOR_OFFSET_M`` from the
  centre line: odd numbers on the left, even on the right, seen from the road's start, numbers
  increasing along it and restarting per road. About ``GAP_SHARE`` of the numbers are skipped
  (kept in ``door_gaps`` with where they would stand, to test interpolation); a few doors get
  an extra ``-1`` plate just after them. No door within ``CROSSING_M`` of a crossing.
* Compounds (小区) take about a third of the unit grids that have doors: the gate is a door plate
  of the grid, the outline the grid shrunk towards its centre, with 3–12 buildings (栋) inside.
* POIs (schools, hospitals, parks, markets, banks, offices …) about one per three grids; about
  half stand behind a door plate of their grid, the rest somewhere inside it.

Every point is at least ~12 m inside its grid, so its grid is never a tie on an edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np
import shapely
from pyproj import Transformer

__all__ = [
    "DOOR_OFFSET_M",
    "GAP_SHARE",
    "AddressPlan",
    "BuildingSpec",
    "DoorSpec",
    "PlaceSpec",
    "PoiSpec",
    "plan_addresses",
]

DOOR_OFFSET_M = 12.0
DOOR_SPACING_M = (40.0, 60.0)
END_MARGIN_M = 20.0  # no door closer than this to a road's ends
CROSSING_M = 20.0
GAP_SHARE = 0.10
SUFFIX_SHARE = 0.04
COMPOUND_SHARE = 1 / 3
POI_PER_GRID = 1 / 3
BUILDINGS = (3, 12)
NUMBERED_MAX = 30  # 泸州市第一中学 … 第三十中学, then named ones only

COMPOUND_HEADS = (
    "阳光", "金色", "锦绣", "翠湖", "碧水", "世纪", "盛世", "滨江", "江畔", "香榭", "紫荆", "丽景",
    "望江", "御景", "怡和", "康乐", "幸福", "和谐", "书香", "明珠", "天韵", "兰亭", "恒大", "万象",
)  # fmt: skip
COMPOUND_TAILS = ("花园", "家园", "苑", "小区", "新城", "名都", "雅居", "公馆", "华府", "雅苑", "丽都")
BANKS = ("中国工商银行", "中国农业银行", "中国银行", "中国建设银行", "交通银行", "中国邮政储蓄银行")
BANK_SHORT = {"中国工商银行": "工行", "中国农业银行": "农行", "中国银行": "中行", "中国建设银行": "建行"}
# (category, weight, name suffixes drawn with the name stems)
POI_KINDS = (
    ("学校", 4, ("小学", "中学", "幼儿园")),
    ("医院", 2, ("医院", "社区卫生服务中心", "中医院")),
    ("公园", 2, ("公园",)),
    ("市场", 2, ("农贸市场", "综合市场")),
    ("银行", 3, ()),
    ("政府机构", 2, ("派出所", "便民服务中心", "税务所")),
    ("商场", 2, ("购物中心", "商场")),
    ("酒店", 1, ("大酒店", "宾馆")),
    ("加油站", 1, ()),
)
_NUMERALS = "零一二三四五六七八九"
_OUTLINE_U = np.array([0.12, 0.88, 0.88, 0.12])  # a compound's outline: its grid shrunk to the centre
_OUTLINE_V = np.array([0.12, 0.12, 0.88, 0.88])


class NameSource(Protocol):
    """Unique names: ``make`` invents one with a suffix, ``claim`` takes a given one if still free."""

    def make(self, suffix: str) -> str: ...

    def claim(self, name: str) -> bool: ...


@dataclass(frozen=True)
class DoorSpec:
    road: str
    number: int
    suffix: str  # "" or "-1"
    lon: float
    lat: float
    side: str  # "left" (odd numbers) or "right" (even), seen from the road's start
    along_m: float  # distance along the road from its start
    grid_code: str

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.road, self.number, self.suffix)

    @property
    def label(self) -> str:
        return f"{self.road}{self.number}{self.suffix}号"


@dataclass(frozen=True)
class PlaceSpec:
    name: str
    kind: str  # "compound"
    lon: float  # the gate
    lat: float
    door: tuple[str, int, str] | None  # the gate's door plate (road, number, suffix)
    outline: shapely.Polygon
    grid_code: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildingSpec:
    place: str  # compound name
    number: str  # "1", "2" … (1栋, 2栋 …)
    lon: float
    lat: float
    grid_code: str


@dataclass(frozen=True)
class PoiSpec:
    name: str
    category: str
    lon: float
    lat: float
    door: tuple[str, int, str] | None
    grid_code: str
    aliases: tuple[str, ...] = ()


@dataclass
class AddressPlan:
    doors: list[DoorSpec] = field(default_factory=list)
    door_gaps: list[DoorSpec] = field(default_factory=list)
    places: list[PlaceSpec] = field(default_factory=list)
    buildings: list[BuildingSpec] = field(default_factory=list)
    pois: list[PoiSpec] = field(default_factory=list)


def _chinese(n: int) -> str:
    """Chinese numeral for 1–99 (三, 十二, 二十)."""
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else "十" if tens == 1 else _NUMERALS[tens] + "十"
    return head + (_NUMERALS[ones] if ones else "")


def _bilinear(corners: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Points at (u, v) ∈ [0, 1]² of a quadrilateral cell (corners SW, SE, NE, NW)."""
    u, v = np.asarray(u)[..., None], np.asarray(v)[..., None]
    c0, c1, c2, c3 = corners
    return (1 - u) * (1 - v) * c0 + u * (1 - v) * c1 + u * v * c2 + (1 - u) * v * c3


class _Door(NamedTuple):
    road: str
    side: str
    number: int
    suffix: str
    along: float
    x: float  # metric
    y: float
    normal: tuple[float, float]  # unit vector from the centre line to the plate
    skipped: bool  # a gap in the numbering: not in the gazetteer


def _road_doors(
    rng: np.random.Generator, name: str, coords: np.ndarray, crossings: list[float]
) -> list[_Door]:
    """The door plates (and gaps) of one road, left side first."""
    seg = np.diff(coords, axis=0)
    seg_len = np.hypot(seg[:, 0], seg[:, 1])
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    total = float(cum[-1])
    out = []
    for side, sign, first in (("left", 1.0, 1), ("right", -1.0, 2)):
        number = first
        s = END_MARGIN_M + rng.uniform(0, DOOR_SPACING_M[1] - DOOR_SPACING_M[0])
        while s <= total - END_MARGIN_M:
            if any(abs(s - c) < CROSSING_M for c in crossings):
                s += rng.uniform(*DOOR_SPACING_M)
                continue
            skipped = rng.uniform() < GAP_SHARE
            extra = not skipped and rng.uniform() < SUFFIX_SHARE
            for suffix, at in (("", s), ("-1", s + 8.0))[: 2 if extra else 1]:
                k = min(int(np.searchsorted(cum, at, side="right")) - 1, len(seg) - 1)
                d = seg[k] / seg_len[k]
                normal = sign * np.array([-d[1], d[0]])  # left of the direction of travel
                x, y = (coords[k] + d * (at - cum[k]) + DOOR_OFFSET_M * normal).tolist()
                out.append(_Door(name, side, number, suffix, at, x, y, tuple(normal.tolist()), skipped))
            number += 2
            s += rng.uniform(*DOOR_SPACING_M)
    return out


def _poi_name(
    rng: np.random.Generator, names: NameSource, city: str, counters: dict[str, int]
) -> tuple[str, str, tuple[str, ...]]:
    kinds = [k for k, _, _ in POI_KINDS]
    weights = np.array([w for _, w, _ in POI_KINDS], dtype=float)
    category = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
    suffixes = {k: s for k, _, s in POI_KINDS}[category]
    if category == "学校" and rng.uniform() < 0.3 and counters["中学"] < NUMBERED_MAX:
        counters["中学"] += 1
        n = _chinese(counters["中学"])
        return f"{city}市第{n}中学", category, (f"{city}{n}中",)
    if category == "医院" and rng.uniform() < 0.3 and counters["医院"] < NUMBERED_MAX:
        counters["医院"] += 1
        n = _chinese(counters["医院"])
        return f"{city}市第{n}人民医院", category, (f"市{n}医院",)
    if category == "银行":
        bank = BANKS[int(rng.integers(len(BANKS)))]
        stem = names.make(f"{bank}支行").removesuffix(f"{bank}支行")
        name = f"{bank}{city}{stem}支行"
        short = BANK_SHORT.get(bank)
        return name, category, ((f"{short}{stem}支行",) if short else ())
    if category == "加油站":
        stem = names.make("加油站").removesuffix("加油站")
        return f"中国石化{stem}加油站", category, (f"{stem}加油站",)
    return names.make(suffixes[int(rng.integers(len(suffixes)))]), category, ()


def _compound_name(rng: np.random.Generator, names: NameSource) -> str:
    if rng.uniform() < 0.5:
        head = COMPOUND_HEADS[int(rng.integers(len(COMPOUND_HEADS)))]
        name = head + COMPOUND_TAILS[int(rng.integers(len(COMPOUND_TAILS)))]
        if names.claim(name):
            return name
    return names.make(COMPOUND_TAILS[int(rng.integers(len(COMPOUND_TAILS)))])


def plan_addresses(
    *,
    rng: np.random.Generator,
    names: NameSource,
    city_name: str,
    roads: list[tuple[str, np.ndarray, np.ndarray]],
    grid_codes: list[str],
    grid_corners: np.ndarray,
    grid_geoms: list[shapely.MultiPolygon],
    to_wgs: Transformer,
) -> AddressPlan:
    """Door plates, compounds, buildings and POIs for the roads and grids of a city plan.

    ``roads``: (name, vertex ids, metric coordinates (k, 2)); ``grid_corners``: metric corners
    (n, 4, 2) of each grid's cell (SW, SE, NE, NW), in the order of ``grid_codes`` and
    ``grid_geoms`` (WGS84, the polygons point location uses).
    """
    city = city_name.removesuffix("市")
    plan = AddressPlan()
    vertex_roads: dict[int, int] = {}
    for ids in (r[1] for r in roads):
        for v in set(ids.tolist()):
            vertex_roads[v] = vertex_roads.get(v, 0) + 1

    # door plates along every road
    rows: list[_Door] = []
    for name, ids, coords in roads:
        cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(coords, axis=0).T))])
        crossings = [float(cum[i]) for i, v in enumerate(ids.tolist()) if vertex_roads[v] > 1]
        rows += _road_doors(rng, name, coords, crossings)
    lon, lat = to_wgs.transform(np.array([r.x for r in rows]), np.array([r.y for r in rows]))
    inside, which = shapely.STRtree(grid_geoms).query(shapely.points(lon, lat), predicate="within")
    door_grid = np.full(len(rows), -1)
    door_grid[inside] = which
    spec_of: dict[int, DoorSpec] = {}  # row index → placed door
    grid_doors: dict[int, list[int]] = {}  # grid index → rows of its plain (suffix-less) doors
    for i, r in enumerate(rows):
        g = int(door_grid[i])
        code = grid_codes[g] if g >= 0 else ""
        spec = DoorSpec(
            r.road, r.number, r.suffix, float(lon[i]), float(lat[i]), r.side, round(r.along, 1), code
        )
        if r.skipped:
            plan.door_gaps.append(spec)
            continue
        plan.doors.append(spec)
        spec_of[i] = spec
        if not r.suffix and g >= 0:
            grid_doors.setdefault(g, []).append(i)

    def to_lonlat(points: np.ndarray) -> np.ndarray:
        x, y = to_wgs.transform(points[..., 0], points[..., 1])
        return np.stack([x, y], axis=-1)

    # compounds: a third of the grids that have a door, the gate on the door nearest the centre
    candidates = sorted(grid_doors)
    n_compounds = min(len(candidates), round(COMPOUND_SHARE * len(grid_codes)))
    chosen = sorted(rng.choice(candidates, size=n_compounds, replace=False).tolist()) if n_compounds else []
    taken: set[int] = set()
    for g in chosen:
        centre = grid_corners[g].mean(0)
        gate = min(grid_doors[g], key=lambda i: (np.hypot(rows[i].x - centre[0], rows[i].y - centre[1]), i))
        taken.add(gate)
        door = spec_of[gate]
        name = _compound_name(rng, names)
        aliases = (names.make("新村"),) if rng.uniform() < 0.15 else ()
        ring = to_lonlat(_bilinear(grid_corners[g], _OUTLINE_U, _OUTLINE_V))
        outline = shapely.Polygon(ring)
        plan.places.append(
            PlaceSpec(name, "compound", door.lon, door.lat, door.key, outline, grid_codes[g], aliases)
        )
        count = int(rng.integers(BUILDINGS[0], BUILDINGS[1] + 1))
        cols = int(np.ceil(np.sqrt(count)))
        k = np.arange(count)
        u = 0.22 + 0.56 * (k % cols + 0.5) / cols + rng.uniform(-0.03, 0.03, count)
        v = 0.22 + 0.56 * (k // cols + 0.5) / int(np.ceil(count / cols)) + rng.uniform(-0.03, 0.03, count)
        for j, (blon, blat) in enumerate(to_lonlat(_bilinear(grid_corners[g], u, v)).tolist()):
            plan.buildings.append(BuildingSpec(name, str(j + 1), blon, blat, grid_codes[g]))

    # POIs: about one per three grids, half of them behind a free door plate of their grid
    n_pois = round(POI_PER_GRID * len(grid_codes))
    counters = {"中学": 0, "医院": 0}
    for g in sorted(rng.choice(len(grid_codes), size=n_pois, replace=False).tolist()):
        name, category, aliases = _poi_name(rng, names, city, counters)
        free = [i for i in grid_doors.get(g, []) if i not in taken]
        if free and rng.uniform() < 0.5:
            i = free[int(rng.integers(len(free)))]
            taken.add(i)
            r = rows[i]
            # 8 m behind the plate, unless that crosses into the next grid (near a corner)
            at = np.array([[r.x + 8.0 * r.normal[0], r.y + 8.0 * r.normal[1]]])
            if not grid_geoms[g].contains(shapely.Point(to_lonlat(at)[0])):
                at = np.array([[r.x, r.y]])
            door_key: tuple[str, int, str] | None = spec_of[i].key
        else:
            at = _bilinear(grid_corners[g], rng.uniform(0.25, 0.75, 1), rng.uniform(0.25, 0.75, 1))
            door_key = None
        plon, plat = to_lonlat(at)[0].tolist()
        plan.pois.append(PoiSpec(name, category, plon, plat, door_key, grid_codes[g], aliases))
    return plan
