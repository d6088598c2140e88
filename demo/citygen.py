"""Deterministic synthetic demo city (网格化管理) on the real 泸州市 (Luzhou, city code 5105).

Pure Python (numpy, shapely 2, pyproj), no Django: a management command feeds the real district and
street/town names from the national gazetteer into :func:`build_city` and writes the resulting
:class:`CityPlan` into PostGIS.

Construction: a lattice of shared vertices (spacing ~200 m, interior vertices jittered) is laid out in
UTM 48N (EPSG:32648) around 105.44E 28.87N.  The vertex array is transformed to WGS84 exactly once and
every polygon and road is built from vertex indices, so neighbouring cells share bit-identical
vertices and every level of the hierarchy is an exact partition (no gaps, no overlaps).  Cells whose
centroid falls inside a seeded irregular blob form the city (one 4-connected piece, holes filled);
each cell is one unit grid (单元网格).  Districts, streets and communities are nearest-seed
partitions of the cells, roads run along every ``ROAD_EVERY``-th lattice row and column.
Door plates along the roads, compounds with their buildings, and POIs come from
:mod:`demo.addressgen`, drawn from a generator of their own (seed, 1), so adding them left the
rest of the plan as it was.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import shapely
from pyproj import Transformer

from .addressgen import BuildingSpec, DoorSpec, PlaceSpec, PoiSpec, plan_addresses

__all__ = [
    "CELL_SIZE_M",
    "CENTER_LONLAT",
    "SCALES",
    "BuildingSpec",
    "CityPlan",
    "DivisionInput",
    "DoorSpec",
    "GridSpec",
    "PlaceSpec",
    "PoiSpec",
    "RegionSpec",
    "RoadSpec",
    "ScaleSpec",
    "build_city",
]

CENTER_LONLAT = (105.44, 28.87)
METRIC_EPSG = 32648  # WGS 84 / UTM zone 48N
CELL_SIZE_M = 200.0
JITTER = 0.22  # fraction of the spacing; keeps every cell between ~112 m and ~288 m across
ROAD_EVERY = 4
MIN_ROAD_M = 300.0
KEY_SHARE = 0.10

AVENUE_POOL = ("酒城大道", "蓝田大道", "龙马大道")
# Place-named roads (重庆路 …) are interleaved early so that they exist at every scale.
ROAD_POOL = (
    "江阳中路", "重庆路", "江阳西路", "成都路", "江阳南路", "宜宾路", "大山坪路", "陕西路", "春雨路",
    "康城路", "滨江路", "忠山路", "钟鼓楼路", "迎晖路", "学士山路", "沱江路", "长江路", "国窖广场路",
    "白招牌路", "回龙湾路", "凤凰路", "佳乐路", "星光路", "澄溪路", "丹霞路",
)  # fmt: skip
STREET_POOL = ("大河街", "三牌坊街", "百子图街", "水井沟街")
LANE_POOL = ("白塔巷", "北门巷", "会津巷")
_HEAD = "金银龙凤桂兰梅竹松柏青白红黄石玉新安福康宁和平兴华丰永长明光东西南北高云水田花双"
_TAIL = "山水湖湾坪坝坡桥井塘溪河江岭林园苑庄院门台亭城阁岗岩沟池洲寺堰滩口冲坎店场垭嘴"
_SUFFIX_KIND = (("大道", "avenue"), ("路", "road"), ("街", "street"), ("巷", "lane"))


@dataclass(frozen=True)
class DivisionInput:
    """One gazetteer division: 12-digit statistics code, name, and its child divisions."""

    code: str
    name: str
    children: tuple[DivisionInput, ...] = ()


@dataclass
class RegionSpec:
    code: str  # 12 digits
    name: str
    level: int  # 2 city, 3 district/county, 4 street/town, 5 community/village
    parent_code: str | None
    geom: shapely.MultiPolygon  # WGS84 lon/lat


@dataclass
class GridSpec:
    code: str  # 15 digits: community code + 3-digit serial (CJ/T 213)
    name: str
    community_code: str
    kind: str  # "general" | "key"
    geom: shapely.MultiPolygon
    households: int
    population: int


@dataclass
class RoadSpec:
    name: str
    kind: str  # "avenue" | "road" | "street" | "lane"
    geom: shapely.LineString


@dataclass
class CityPlan:
    city: RegionSpec
    regions: list[RegionSpec]  # districts, then streets, then communities
    grids: list[GridSpec]
    roads: list[RoadSpec]
    # the address gazetteer (demo.addressgen): door plates by road, then side, then number
    doors: list[DoorSpec] = field(default_factory=list)
    door_gaps: list[DoorSpec] = field(default_factory=list)  # numbers left out, where they would stand
    places: list[PlaceSpec] = field(default_factory=list)  # compounds (小区)
    buildings: list[BuildingSpec] = field(default_factory=list)
    pois: list[PoiSpec] = field(default_factory=list)


@dataclass(frozen=True)
class ScaleSpec:
    target_cells: int  # number of unit grids aimed at
    max_streets: int  # streets/towns used per district
    cells_per_community: float
    max_communities: int  # per street


SCALES = {
    "small": ScaleSpec(200, 2, 1.0, 2),
    "medium": ScaleSpec(1500, 4, 14.0, 4),
    "large": ScaleSpec(10_000, 10, 27.0, 60),
}


def _multi(geom) -> shapely.MultiPolygon:
    if isinstance(geom, shapely.MultiPolygon):
        return geom
    if isinstance(geom, shapely.Polygon):
        return shapely.MultiPolygon([geom])
    raise TypeError(f"expected polygonal geometry, got {geom.geom_type}")


def _label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected component labels of a boolean 2-D mask (-1 outside)."""
    ny, nx = mask.shape
    cells = mask.tolist()
    lab = [[-1] * nx for _ in range(ny)]
    count = 0
    for i0 in range(ny):
        for j0 in range(nx):
            if not cells[i0][j0] or lab[i0][j0] >= 0:
                continue
            lab[i0][j0] = count
            queue = deque([(i0, j0)])
            while queue:
                i, j = queue.popleft()
                for ii, jj in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)):
                    if 0 <= ii < ny and 0 <= jj < nx and cells[ii][jj] and lab[ii][jj] < 0:
                        lab[ii][jj] = count
                        queue.append((ii, jj))
            count += 1
    return np.array(lab, dtype=np.int64), count


def _nearest(pts: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    return ((pts[:, None, :] - seeds[None, :, :]) ** 2).sum(-1).argmin(axis=1)


def _partition(pts: np.ndarray, k: int, start_xy: np.ndarray, iters: int = 4) -> np.ndarray:
    """Split points into k non-empty compact groups: farthest-point seeds + Lloyd steps on cells.

    Seeds are always distinct points and each seed lies in its own group (distance 0), so no group is
    empty.  Group 0 starts at the point nearest ``start_xy``.
    """
    seeds = [int(((pts - start_xy) ** 2).sum(1).argmin())]
    dist = ((pts - pts[seeds[0]]) ** 2).sum(1)
    for _ in range(1, k):
        seeds.append(int(dist.argmax()))
        dist = np.minimum(dist, ((pts - pts[seeds[-1]]) ** 2).sum(1))
    seed_idx = np.array(seeds)
    for _ in range(iters):
        lab = _nearest(pts, pts[seed_idx])
        for c in range(k):
            members = np.flatnonzero(lab == c)
            mean = pts[members].mean(0)
            seed_idx[c] = members[((pts[members] - mean) ** 2).sum(1).argmin()]
    return _nearest(pts, pts[seed_idx])


class _Names:
    """Unique plausible two-syllable names drawn from the seeded generator."""

    def __init__(self, rng: np.random.Generator, taken: tuple[str, ...] = ()):
        self.rng, self.used = rng, set(taken)

    def make(self, suffix: str, stem_unique: bool = False) -> str:
        for attempt in range(10_000):
            stem = _HEAD[self.rng.integers(len(_HEAD))] + _TAIL[self.rng.integers(len(_TAIL))]
            if attempt > 500:
                stem += "新" * (attempt // 500)
            key = stem if stem_unique else stem + suffix
            if stem[0] != stem[1] and key not in self.used:
                self.used.add(key)
                return stem + suffix
        raise RuntimeError("name space exhausted")

    def claim(self, name: str) -> bool:
        """Take a given name if no one has it yet."""
        if name in self.used:
            return False
        self.used.add(name)
        return True


def _check_code(code: str) -> None:
    if len(code) != 12 or not code.isdigit():
        raise ValueError(f"division code must have 12 digits: {code!r}")


def _lattice(rng: np.random.Generator, half: float, x0: float, y0: float):
    n = int(np.ceil(2 * half / CELL_SIZE_M))
    axis = np.arange(n + 1) * CELL_SIZE_M - n * CELL_SIZE_M / 2
    gx, gy = np.meshgrid(x0 + axis, y0 + axis)  # [row i (south->north), column j (west->east)]
    jit = rng.uniform(-JITTER, JITTER, size=(2, n + 1, n + 1)) * CELL_SIZE_M
    jit[:, [0, -1], :] = 0
    jit[:, :, [0, -1]] = 0
    return n, gx + jit[0], gy + jit[1]


def _city_mask(rng, n, cx, cy, x0, y0, target, r0):
    """Cells whose centroid lies in a sine-modulated blob, sized to ~target; largest component, no holes."""
    amp = rng.uniform(0.06, 0.12, size=3)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    ang = np.arctan2(cy - y0, cx - x0)
    shape = 1 + sum(a * np.sin(k * ang + p) for a, k, p in zip(amp, (2, 3, 5), phase, strict=True))
    rad = np.hypot(cx - x0, cy - y0) / shape
    r0 = r0 / np.sqrt(1 + 0.5 * float((amp**2).sum()))
    for _ in range(6):
        r0 *= np.sqrt(target / max(int((rad < r0).sum()), 1))
    lab, count = _label(rad < r0)
    sizes = np.bincount(lab[lab >= 0], minlength=count)
    mask = lab == int(sizes.argmax())
    out, _ = _label(~mask)  # fill holes: outside components not touching the lattice border
    border = set(out[[0, -1], :].ravel().tolist()) | set(out[:, [0, -1]].ravel().tolist())
    return mask | ~np.isin(out, sorted(border)), r0


def _district_targets(n_dist: int, r0: float, rng) -> np.ndarray:
    """First three districts urban (centre, south-west, north), the rest on an outer ring."""
    urban = [(0.0, 0.0), (-0.22, -0.22), (0.0, 0.32)]
    pts = [urban[i] for i in range(min(n_dist, 3))]
    rest = n_dist - len(pts)
    for i in range(rest):
        bearing = np.deg2rad(360.0 * i / rest + rng.uniform(-10, 10))
        pts.append((0.75 * np.sin(bearing), 0.75 * np.cos(bearing)))
    return np.array(pts).reshape(-1, 2) * r0


def _roads(mask, n, gx, gy, offset):
    """Runs of interior lattice edges along every ROAD_EVERY-th row/column: (vertex ids, length, cells)."""
    pieces = []
    for axis in (0, 1):  # 0: east-west rows, 1: north-south columns
        for line in range(1, n):
            if line % ROAD_EVERY != offset:
                continue
            inside = mask[line - 1, :] & mask[line, :] if axis == 0 else mask[:, line - 1] & mask[:, line]
            pos = 0
            while pos < n:
                if not inside[pos]:
                    pos += 1
                    continue
                end = pos
                while end < n and inside[end]:
                    end += 1
                steps = np.arange(pos, end + 1)
                if axis == 0:
                    rows, cols = np.full_like(steps, line), steps
                    cells = [(line - 1, s) for s in range(pos, end)] + [(line, s) for s in range(pos, end)]
                else:
                    rows, cols = steps, np.full_like(steps, line)
                    cells = [(s, line - 1) for s in range(pos, end)] + [(s, line) for s in range(pos, end)]
                length = float(np.hypot(np.diff(gx[rows, cols]), np.diff(gy[rows, cols])).sum())
                if length >= MIN_ROAD_M:
                    pieces.append((rows * (n + 1) + cols, length, cells, (axis, line, pos)))
                pos = end
    pieces.sort(key=lambda p: (-p[1], p[3]))
    return pieces


def _name_roads(pieces, rng) -> list[tuple[str, str]]:
    names = _Names(rng, AVENUE_POOL + ROAD_POOL + STREET_POOL + LANE_POOL)
    n_avenue = max(1, round(0.12 * len(pieces)))
    pools = {"大道": list(AVENUE_POOL), "路": list(ROAD_POOL), "街": list(STREET_POOL), "巷": list(LANE_POOL)}
    out = []
    for rank, (_, length, _, _) in enumerate(pieces):
        if rank < n_avenue and length >= 1500:
            suffix = "大道"
        else:
            suffix = "路" if length >= 900 else "街" if length >= 500 else "巷"
        pool = pools[suffix]
        name = pool.pop(0) if pool else names.make(suffix)
        out.append((name, dict(_SUFFIX_KIND)[suffix]))
    return out


def build_city(*, city: DivisionInput, seed: int, scale: str) -> CityPlan:
    """Build the synthetic city for ``city`` (districts with their streets/towns as children)."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {sorted(SCALES)}")
    spec = SCALES[scale]
    _check_code(city.code)
    if not city.children:
        raise ValueError("city needs at least one district")
    for dist in city.children:
        _check_code(dist.code)
        if not dist.children:
            raise ValueError(f"district {dist.name} has no streets/towns")
        for street in dist.children:
            _check_code(street.code)

    rng = np.random.default_rng(seed)
    to_metric = Transformer.from_crs(4326, METRIC_EPSG, always_xy=True)
    to_wgs = Transformer.from_crs(METRIC_EPSG, 4326, always_xy=True)
    x0, y0 = to_metric.transform(*CENTER_LONLAT)
    r_est = CELL_SIZE_M * np.sqrt(spec.target_cells / np.pi)
    n, gx, gy = _lattice(rng, 1.6 * r_est + 2 * CELL_SIZE_M, x0, y0)

    # cell corners (counter-clockwise) as vertex indices into the flattened (n+1)x(n+1) vertex array
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    v00 = ii * (n + 1) + jj
    corners = np.stack([v00, v00 + 1, v00 + n + 2, v00 + n + 1], axis=-1)  # (n, n, 4)
    vx, vy = gx.ravel(), gy.ravel()
    cx, cy = vx[corners].mean(-1), vy[corners].mean(-1)
    mask, r0 = _city_mask(rng, n, cx, cy, x0, y0, spec.target_cells, r_est)

    cell_rc = np.argwhere(mask)  # row-major: deterministic
    cells = cell_rc[:, 0] * n + cell_rc[:, 1]
    pts = np.column_stack([cx.ravel()[cells], cy.ravel()[cells]])
    n_cells = len(cells)
    if n_cells < len(city.children):
        raise ValueError("scale too small for the number of districts")

    lon, lat = to_wgs.transform(vx, vy)
    lonlat = np.column_stack([lon, lat])
    ring = corners.reshape(-1, 4)[cells]
    ring = np.concatenate([ring, ring[:, :1]], axis=1)
    polys = shapely.polygons(lonlat[ring])

    # districts: nearest of fixed seed points, each snapped to its own distinct cell
    targets = _district_targets(len(city.children), r0, rng) + np.array([x0, y0])
    seed_cells: list[int] = []
    for t in targets:
        d2 = ((pts - t) ** 2).sum(1)
        d2[seed_cells] = np.inf
        seed_cells.append(int(d2.argmin()))
    dist_of = _nearest(pts, pts[seed_cells])

    center = np.array([x0, y0])
    comm_of = np.full(n_cells, -1, dtype=np.int64)
    communities: list[tuple[str, str, str]] = []  # (code, name, street code)
    streets: list[tuple[str, str, str, list[int]]] = []  # (code, name, district code, community ids)
    districts: list[tuple[DivisionInput, list[int]]] = []  # (input, street ids)
    names = _Names(rng)
    for d_idx, dist in enumerate(city.children):
        d_cells = np.flatnonzero(dist_of == d_idx)
        k_streets = min(spec.max_streets, len(dist.children), len(d_cells))
        street_of = _partition(pts[d_cells], k_streets, center)
        street_ids = []
        for s_idx, street in enumerate(dist.children[:k_streets]):
            s_cells = d_cells[street_of == s_idx]
            want = round(len(s_cells) / spec.cells_per_community)
            k_comm = max(1, min(spec.max_communities, len(s_cells), want))
            comm_lab = _partition(pts[s_cells], k_comm, center)
            suffix = "社区" if street.name.endswith("街道") else "村"
            comm_ids = []
            for c_idx in range(k_comm):
                comm_of[s_cells[comm_lab == c_idx]] = len(communities)
                comm_ids.append(len(communities))
                code = f"{street.code[:9]}{c_idx + 1:03d}"
                communities.append((code, names.make(suffix, stem_unique=True), street.code))
            street_ids.append(len(streets))
            streets.append((street.code, street.name, dist.code, comm_ids))
        districts.append((dist, street_ids))

    # roads along every ROAD_EVERY-th lattice line, the one through the centre included
    pieces = _roads(mask, n, gx, gy, (n // 2) % ROAD_EVERY)
    road_names = _name_roads(pieces, rng)
    roads = [
        RoadSpec(name, kind, shapely.LineString(lonlat[p[0]]))
        for p, (name, kind) in zip(pieces, road_names, strict=True)
    ]
    weight = {"avenue": 1.0, "road": 0.5}
    road_score = np.zeros((n, n))
    for p, (_, kind) in zip(pieces, road_names, strict=True):
        for r, c in p[2]:
            road_score[r, c] = max(road_score[r, c], weight.get(kind, 0.2))

    # grid attributes: key grids near main roads / centre, denser population in the centre
    closeness = 1 - np.clip(np.hypot(*(pts - center).T) / (1.4 * r0), 0, 1)
    score = road_score[cell_rc[:, 0], cell_rc[:, 1]] + 0.8 * closeness + 0.6 * rng.uniform(size=n_cells)
    is_key = np.zeros(n_cells, dtype=bool)
    is_key[np.argsort(-score, kind="stable")[: round(KEY_SHARE * n_cells)]] = True
    households = np.rint(80 + 520 * (0.55 * closeness + 0.45 * rng.uniform(size=n_cells))).astype(int)
    population = np.rint(households * rng.uniform(2.2, 3.2, size=n_cells)).astype(int)
    grid_geoms = shapely.multipolygons(polys, indices=np.arange(n_cells))

    # spatial order within a community: rows north to south, then west to east
    order = np.lexsort((cell_rc[:, 1], -cell_rc[:, 0], comm_of))
    grids: list[GridSpec] = []
    comm_cells: list[list[int]] = [[] for _ in communities]
    for cell in order.tolist():
        c_code, c_name, _ = communities[comm_of[cell]]
        serial = len(comm_cells[comm_of[cell]]) + 1
        if serial > 999:
            raise ValueError(f"community {c_name} has more than 999 grids")
        comm_cells[comm_of[cell]].append(cell)
        grids.append(
            GridSpec(
                code=f"{c_code}{serial:03d}",
                name=f"{c_name}第{serial}网格",
                community_code=c_code,
                kind="key" if is_key[cell] else "general",
                geom=grid_geoms[cell],
                households=int(households[cell]),
                population=int(population[cell]),
            )
        )

    comm_geoms = [_multi(shapely.union_all(polys[ids])) for ids in comm_cells]
    street_geoms = [_multi(shapely.union_all([comm_geoms[c] for c in s[3]])) for s in streets]
    dist_geoms = [_multi(shapely.union_all([street_geoms[s] for s in ids])) for _, ids in districts]
    city_spec = RegionSpec(city.code, city.name, 2, None, _multi(shapely.union_all(dist_geoms)))
    regions = [
        RegionSpec(d.code, d.name, 3, city.code, g) for (d, _), g in zip(districts, dist_geoms, strict=True)
    ]
    regions += [RegionSpec(s[0], s[1], 4, s[2], g) for s, g in zip(streets, street_geoms, strict=True)]
    regions += [RegionSpec(c[0], c[1], 5, c[2], g) for c, g in zip(communities, comm_geoms, strict=True)]

    # addresses draw from their own generator: the layout above is the same with or without them
    addr_rng = np.random.default_rng([seed, 1])
    cell_vertices = corners.reshape(-1, 4)[cells[order]]  # (grid, corner) vertex ids, in grid order
    addresses = plan_addresses(
        rng=addr_rng,
        names=_Names(addr_rng, tuple(r.name for r in roads)),
        city_name=city.name,
        roads=[
            (r.name, p[0], np.column_stack([vx[p[0]], vy[p[0]]])) for r, p in zip(roads, pieces, strict=True)
        ],
        grid_codes=[g.code for g in grids],
        grid_corners=np.stack([vx[cell_vertices], vy[cell_vertices]], axis=-1),
        grid_geoms=[g.geom for g in grids],
        to_wgs=to_wgs,
    )
    return CityPlan(
        city=city_spec,
        regions=regions,
        grids=grids,
        roads=roads,
        doors=addresses.doors,
        door_gaps=addresses.door_gaps,
        places=addresses.places,
        buildings=addresses.buildings,
        pois=addresses.pois,
    )
