"""Spatially balanced sampling of a continuous area (polygons) or linear network (road centre
lines): random points, not frame indices, as spsurvey 5 does for ``sf`` polygon and line frames.

spsurvey turns a polygon or line frame into a dense point frame (``sf::st_sample``, hexagonal
for polygons, regular for lines; ``pt_density``) and draws from it with the finite-point
design. We do the same:

* *Polygons*: a hexagonal lattice with a uniformly random translation (one lattice cell) and a
  random rotation, spacing chosen so that about ``density × (n_base + n_over)`` lattice points
  fall inside the polygons. Because the translation is uniform over a cell, every location in
  the plane is equally likely to be a lattice point, so the expected number of frame points in
  any part of the polygons is exactly proportional to its area; a sampled site's position is
  then uniform over the area up to the lattice spacing. The approximation: a site can only be
  at a lattice point of this draw (spacing ``s``), so with the default density 50 the sites are
  on a lattice about 1/7 of the mean spacing between sites, and parts thinner than ``s``
  (slivers, narrow corridors) are hit with probability proportional to their area, but may
  hold no lattice point in a given draw.
* *Lines*: points every ``s = length / (density × n_total)`` metres along the concatenated
  lines, starting at a uniformly random offset in ``[0, s)``: each location along the network
  is equally likely, so sites are spread by length (a road twice as long gets on average
  twice the sites).

The sites are then drawn from that frame by :func:`~gis_core.sampling.grts` (or ``bas`` /
``srs``) with equal probabilities, with the same reserve order and minimum distance rules.
Coordinates are projected metres. Same shapes, sizes and ``seed``, same points on any machine.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import shapely
import shapely.affinity
from numpy.random import PCG64, Generator, SeedSequence
from shapely.geometry.base import BaseGeometry

from gis_core.sampling.design import Design, Sample
from gis_core.sampling.errors import SamplingError, both
from gis_core.sampling.grts import grts

__all__ = ["DEFAULT_DENSITY", "AreaSample", "area_frame", "area_sample", "grts_area", "grts_lines"]

#: frame points per site asked (base + reserve); spsurvey's default ``pt_density`` is 10
DEFAULT_DENSITY = 50
#: the densest frame made, whatever is asked (memory and time stay below ~0.5 s per stratum)
MAX_FRAME = 200_000
#: lattice refinements tried when a thin or tiny area holds too few lattice points
MAX_REFINEMENTS = 8

_AREA_KINDS = {"Polygon", "MultiPolygon"}
_LINE_KINDS = {"LineString", "MultiLineString", "LinearRing"}


@dataclass(frozen=True)
class AreaSample:
    """A draw of points from a continuous frame. ``base`` (n_base, 2) in draw order and
    ``over`` (reserves in order of use) are coordinates; ``frame`` is the realized point frame
    they were drawn from and ``sample`` the finite draw on it (``sample.base`` indexes
    ``frame``), kept for the balance statistic and for verification. ``spacing``: metres
    between neighbouring frame points; ``kind``: ``"area"`` or ``"line"``; ``measure``: the
    total area (m²) or length (m) of the shapes."""

    base: np.ndarray
    over: np.ndarray
    frame: np.ndarray
    sample: Sample
    spacing: float
    kind: str
    measure: float


def _shapes(shapes: BaseGeometry | Iterable[BaseGeometry]) -> tuple[str, BaseGeometry]:
    """The shapes as one geometry of one kind ("area" or "line")."""
    parts = [shapes] if isinstance(shapes, BaseGeometry) else list(shapes)
    kinds: set[str] = set()
    flat: list[BaseGeometry] = []
    for part in parts:
        if not isinstance(part, BaseGeometry):
            raise SamplingError(
                both("the frame must be shapely polygons or lines", "抽样范围须为面或线几何"), code="frame"
            )
        for g in shapely.get_parts(part):
            if g.is_empty:
                continue
            if g.geom_type in _AREA_KINDS:
                kinds.add("area")
            elif g.geom_type in _LINE_KINDS:
                kinds.add("line")
            else:
                raise SamplingError(
                    both(
                        f"the frame must be polygons or lines, not {g.geom_type}",
                        f"抽样范围须为面或线几何，不能是 {g.geom_type}",
                    ),
                    code="frame",
                )
            flat.append(g)
    if len(kinds) != 1:
        raise SamplingError(
            both(
                "the frame must be non-empty polygons or non-empty lines, not both",
                "抽样范围须为非空的面或非空的线（不能混合）",
            ),
            code="frame",
        )
    kind = kinds.pop()
    if kind == "area":
        geom = shapely.union_all([shapely.make_valid(g) for g in flat])
        geom = shapely.union_all([g for g in shapely.get_parts(geom) if g.geom_type in _AREA_KINDS])
        if geom.is_empty or geom.area <= 0:
            raise SamplingError(both("the polygons have no area", "抽样范围的面积为 0"), code="frame")
    else:
        geom = shapely.MultiLineString([g for g in flat if g.length > 0])
        if geom.is_empty or geom.length <= 0:
            raise SamplingError(both("the lines have no length", "抽样线路的长度为 0"), code="frame")
    if not np.isfinite(shapely.bounds(geom)).all():
        raise SamplingError(both("the shapes have invalid coordinates", "几何坐标无效"), code="frame")
    return kind, geom


def _hex_lattice(geom: BaseGeometry, spacing: float, rng: Generator) -> np.ndarray:
    """Points of a randomly translated and rotated hexagonal lattice inside ``geom``.

    The lattice is laid over the bounding box of ``geom`` turned into the lattice's axes,
    a block of rows at a time (memory stays below ~50 MB for any shape)."""
    minx, miny, maxx, maxy = geom.bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    row = spacing * math.sqrt(3) / 2
    shift = rng.random(2)  # the random translation, in lattice units
    angle = rng.random() * math.pi / 3  # a hexagonal lattice repeats every 60°
    turned = shapely.affinity.rotate(geom, -angle, origin=(cx, cy), use_radians=True)
    shapely.prepare(turned)
    bx0, by0, bx1, by1 = turned.bounds
    k0, k1 = math.floor((by0 - cy) / row - shift[1]) - 1, math.ceil((by1 - cy) / row - shift[1]) + 1
    j0, j1 = math.floor((bx0 - cx) / spacing - shift[0]) - 1, math.ceil((bx1 - cx) / spacing - shift[0]) + 1
    if (k1 - k0 + 1) * (j1 - j0 + 1) > 400 * MAX_FRAME:
        raise SamplingError(
            both(
                "the shape is too thin for its extent to lay a point frame over it",
                "抽样范围相对其外包范围过于狭长，无法生成抽样框",
            ),
            code="frame",
        )
    js = np.arange(j0, j1 + 1, dtype=float)
    block = max(1, 1_000_000 // js.size)
    out = []
    for start in range(k0, k1 + 1, block):
        ks = np.arange(start, min(start + block, k1 + 1), dtype=float)
        j, k = np.meshgrid(js, ks)
        u = (j + shift[0] + 0.5 * (k % 2)) * spacing
        v = (k + shift[1]) * row
        inside = shapely.contains_xy(turned, cx + u, cy + v)
        out.append(np.column_stack([u[inside], v[inside]]))
    uv = np.vstack(out)
    c, s = math.cos(angle), math.sin(angle)
    return np.column_stack([cx + c * uv[:, 0] - s * uv[:, 1], cy + s * uv[:, 0] + c * uv[:, 1]])


def _line_points(geom: BaseGeometry, spacing: float, rng: Generator) -> np.ndarray:
    """Points every ``spacing`` along the concatenated lines from a random start in [0, spacing)."""
    lines = list(shapely.get_parts(geom))
    lengths = np.array([g.length for g in lines])
    ends = np.cumsum(lengths)
    at = rng.random() * spacing + spacing * np.arange(int(ends[-1] / spacing) + 1)
    at = at[at < ends[-1]]
    which = np.searchsorted(ends, at, side="right")
    which = np.minimum(which, len(lines) - 1)
    along = at - (ends[which] - lengths[which])
    points = shapely.line_interpolate_point(np.asarray(lines, dtype=object)[which], along)
    return shapely.get_coordinates(points)


def area_frame(
    shapes: BaseGeometry | Iterable[BaseGeometry], size: int, rng: Generator
) -> tuple[np.ndarray, float, str, float]:
    """A point frame of about ``size`` points over the polygons or along the lines (at least
    ``size`` when the shape allows): (points, spacing, kind, area or length)."""
    kind, geom = _shapes(shapes)
    measure = geom.area if kind == "area" else geom.length
    if kind == "area":
        spacing = math.sqrt(2 * measure / (math.sqrt(3) * size))
        for _ in range(MAX_REFINEMENTS):
            points = _hex_lattice(geom, spacing, rng)
            if points.shape[0] >= size:
                break
            spacing /= math.sqrt(2 * max(size / max(points.shape[0], 1), 1.0))
        return points, spacing, kind, measure
    spacing = measure / size
    return _line_points(geom, spacing, rng), spacing, kind, measure


def area_sample(
    shapes: BaseGeometry | Iterable[BaseGeometry],
    n_base: int,
    *,
    seed: int,
    design: Design = grts,
    n_over: int = 0,
    min_dist: float | None = None,
    density: int = DEFAULT_DENSITY,
    max_tries: int = 10,
    allow_fewer: bool = False,
) -> AreaSample:
    """``n_base`` points (and ``n_over`` reserve points) inside the polygons or on the lines
    ``shapes`` (projected metres), drawn by ``design`` from a frame of about ``density ×
    (n_base + n_over)`` points (at most :data:`MAX_FRAME`); see the module docstring for the
    size of the approximation. Errors as the finite designs (:class:`SamplingError`)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SamplingError(
            both(f"seed must be an integer >= 0, got {seed!r}", "seed 须为非负整数"), code="seed"
        )
    if isinstance(density, bool) or not isinstance(density, int) or density < 1:
        raise SamplingError(
            both(f"density must be an integer >= 1, got {density!r}", "抽样框密度须为正整数"), code="size"
        )
    n_total = (n_base if isinstance(n_base, int) else 0) + (n_over if isinstance(n_over, int) else 0)
    frame_seed, design_seed = SeedSequence(seed).generate_state(2, dtype=np.uint64)
    rng = Generator(PCG64(int(frame_seed)))
    size = int(min(max(density * max(n_total, 1), n_total), MAX_FRAME))
    frame, spacing, kind, measure = area_frame(shapes, size, rng)
    if frame.shape[0] == 0:
        raise SamplingError(
            both("the shapes are too small to hold a sample point", "抽样范围过小，无法放置点位"),
            code="frame",
        )
    sample = design(
        frame,
        n_base,
        seed=int(design_seed) >> 1,
        n_over=n_over,
        min_dist=min_dist,
        max_tries=max_tries,
        allow_fewer=allow_fewer,
    )
    return AreaSample(
        base=frame[list(sample.base)].reshape(-1, 2),
        over=frame[list(sample.over)].reshape(-1, 2),
        frame=frame,
        sample=sample,
        spacing=spacing,
        kind=kind,
        measure=measure,
    )


def _of_kind(kind: str, shapes, n_base: int, **kwargs) -> AreaSample:
    if _shapes(shapes)[0] != kind:
        raise SamplingError(
            both(f"this sampler needs {'polygons' if kind == 'area' else 'lines'}",
                 f"该抽样需要{'面' if kind == 'area' else '线'}几何"),
            code="frame",
        )  # fmt: skip
    return area_sample(shapes, n_base, **kwargs)


def grts_area(
    polygons: BaseGeometry | Iterable[BaseGeometry],
    n_base: int,
    *,
    seed: int,
    n_over: int = 0,
    min_dist: float | None = None,
    density: int = DEFAULT_DENSITY,
    allow_fewer: bool = False,
) -> AreaSample:
    """A GRTS sample of points inside ``polygons`` (projected metres); see :func:`area_sample`."""
    return _of_kind(
        "area", polygons, n_base, seed=seed, n_over=n_over, min_dist=min_dist, density=density,
        allow_fewer=allow_fewer,
    )  # fmt: skip


def grts_lines(
    lines: BaseGeometry | Iterable[BaseGeometry],
    n_base: int,
    *,
    seed: int,
    n_over: int = 0,
    min_dist: float | None = None,
    density: int = DEFAULT_DENSITY,
    allow_fewer: bool = False,
) -> AreaSample:
    """A GRTS sample of points along ``lines`` (road centre lines, projected metres), spread by
    length; see :func:`area_sample`."""
    return _of_kind(
        "line", lines, n_base, seed=seed, n_over=n_over, min_dist=min_dist, density=density,
        allow_fewer=allow_fewer,
    )  # fmt: skip
