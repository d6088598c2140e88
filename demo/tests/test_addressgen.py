"""Tests for the demo city's addresses (demo.addressgen through build_city; no database):
door-plate numbering, sides and offsets, compounds with their buildings, POIs, determinism."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from demo.addressgen import DOOR_OFFSET_M, POI_KINDS
from demo.citygen import CityPlan, build_city

_TO_METRIC = Transformer.from_crs(4326, 32648, always_xy=True)


def _metric(lon, lat) -> np.ndarray:
    return np.column_stack(_TO_METRIC.transform(np.asarray(lon), np.asarray(lat)))


def _addresses(plan: CityPlan) -> tuple:
    return (plan.doors, plan.door_gaps, plan.places, plan.buildings, plan.pois)


def _sequence(plan: CityPlan) -> dict[tuple[str, str], list]:
    """Plain (suffix-less) doors and gaps of each road side, in order along the road."""
    out = defaultdict(list)
    for d in sorted(plan.doors + plan.door_gaps, key=lambda d: d.along_m):
        if not d.suffix:
            out[(d.road, d.side)].append(d)
    return out


def test_deterministic(plans, luzhou):
    again = build_city(city=luzhou, seed=1, scale="small")
    first = _addresses(plans["small"])
    assert _addresses(again)[:2] == first[:2]
    assert [(p.name, p.door, p.outline.wkb) for p in again.places] == [
        (p.name, p.door, p.outline.wkb) for p in first[2]
    ]
    assert _addresses(again)[3:] == first[3:]
    other = build_city(city=luzhou, seed=2, scale="small")
    assert other.doors != first[0] and [p.name for p in other.places] != [p.name for p in first[2]]


def test_every_road_has_doors_on_both_sides(plan):
    sides = {(d.road, d.side) for d in plan.doors}
    assert sides == {(r.name, side) for r in plan.roads for side in ("left", "right")}


def test_numbering_parity_order_and_gaps(plan):
    for (_road, side), doors in _sequence(plan).items():
        numbers = [d.number for d in doors]
        first = 1 if side == "left" else 2
        # odd on the left, even on the right, increasing along the road with nothing missing
        assert numbers == list(range(first, first + 2 * len(doors), 2))
        along = np.array([d.along_m for d in doors])
        assert np.diff(along).min() >= 40 - 0.1
    steps = np.concatenate([np.diff([d.along_m for d in s]) for s in _sequence(plan).values()])
    assert np.mean(steps <= 60.1) > 0.9  # longer only where a crossing was skipped
    plain = sum(not d.suffix for d in plan.doors)
    assert 0.06 <= len(plan.door_gaps) / (plain + len(plan.door_gaps)) <= 0.14
    keys = {d.key for d in plan.doors}
    assert len(keys) == len(plan.doors)
    assert not {d.key for d in plan.door_gaps} & keys
    suffixed = [d for d in plan.doors if d.suffix]
    assert suffixed and all(d.suffix == "-1" and (d.road, d.number, "") in keys for d in suffixed)


def test_doors_offset_to_their_side(plan):
    roads = {r.name: shapely.LineString(_metric(*np.array(r.geom.coords).T)) for r in plan.roads}
    for road, doors in defaultdict(list, _group(plan.doors + plan.door_gaps)).items():
        line = roads[road]
        xy = _metric([d.lon for d in doors], [d.lat for d in doors])
        points = shapely.points(xy)
        dist = shapely.distance(line, points)
        assert dist.max() <= DOOR_OFFSET_M + 0.05 and np.median(dist) == pytest.approx(
            DOOR_OFFSET_M, abs=0.05
        )
        # left of the direction of travel: positive cross product with the local direction
        along = shapely.line_locate_point(line, points)
        ahead = shapely.get_coordinates(shapely.line_interpolate_point(line, along + 1.0))
        here = shapely.get_coordinates(shapely.line_interpolate_point(line, along))
        cross = (ahead - here)[:, 0] * (xy - here)[:, 1] - (ahead - here)[:, 1] * (xy - here)[:, 0]
        sides = np.array([d.side for d in doors])
        assert (cross[sides == "left"] > 0).all() and (cross[sides == "right"] < 0).all()
        # the plate stands abreast its distance along the road (off by a little near bends)
        off = np.abs(along - [d.along_m for d in doors])
        assert np.median(off) < 0.1 and np.mean(off < 0.2) > 0.9 and off.max() < DOOR_OFFSET_M


def _group(doors) -> dict[str, list]:
    out = defaultdict(list)
    for d in doors:
        out[d.road].append(d)
    return out


def test_every_door_in_its_grid(plan):
    grids = {g.code: g.geom for g in plan.grids}
    for d in plan.doors + plan.door_gaps:
        assert d.grid_code and grids[d.grid_code].contains(shapely.Point(d.lon, d.lat)), d


def test_compounds_with_gates_and_buildings(plan):
    grids = {g.code: g.geom for g in plan.grids}
    doors = {d.key: d for d in plan.doors}
    names = [p.name for p in plan.places]
    assert len(set(names)) == len(names)
    assert abs(len(plan.places) - len(plan.grids) / 3) <= 1
    assert len({p.grid_code for p in plan.places}) == len(plan.places)  # one per grid
    assert any(p.name.endswith(("花园", "家园", "苑", "小区")) for p in plan.places)
    per_place = Counter(b.place for b in plan.buildings)
    assert set(per_place) == set(names)
    assert min(per_place.values()) >= 3 and max(per_place.values()) <= 12
    buildings = defaultdict(list)
    for b in plan.buildings:
        buildings[b.place].append(b)
    for place in plan.places:
        gate = doors[place.door]
        assert (gate.lon, gate.lat) == (place.lon, place.lat) and gate.grid_code == place.grid_code
        assert place.outline.is_valid and grids[place.grid_code].contains(place.outline)
        numbers = [b.number for b in buildings[place.name]]
        assert numbers == [str(i + 1) for i in range(len(numbers))]
        for b in buildings[place.name]:
            assert place.outline.contains(shapely.Point(b.lon, b.lat)) and b.grid_code == place.grid_code


def test_pois(plan):
    grids = {g.code: g.geom for g in plan.grids}
    doors = {d.key: d for d in plan.doors}
    names = [p.name for p in plan.pois]
    assert len(set(names)) == len(names) and not set(names) & {p.name for p in plan.places}
    assert abs(len(plan.pois) - len(plan.grids) / 3) <= 1
    assert {p.category for p in plan.pois} <= {k for k, _, _ in POI_KINDS}
    assert len({p.category for p in plan.pois}) >= 6
    on_doors = [p for p in plan.pois if p.door]
    assert 0.2 <= len(on_doors) / len(plan.pois) <= 0.7
    assert len({p.door for p in on_doors}) == len(on_doors)
    assert not {p.door for p in on_doors} & {p.door for p in plan.places}
    for poi in plan.pois:
        assert grids[poi.grid_code].contains(shapely.Point(poi.lon, poi.lat))
        if poi.door:
            door = doors[poi.door]
            gap = np.hypot(*np.diff(_metric([poi.lon, door.lon], [poi.lat, door.lat]), axis=0)[0])
            assert gap == pytest.approx(8.0, abs=0.1) or gap < 1e-6  # just behind its plate, or on it
    numbered = [p for p in plan.pois if p.name.startswith("泸州市第")]
    assert all(p.aliases and p.aliases[0].startswith(("泸州", "市")) for p in numbered)
