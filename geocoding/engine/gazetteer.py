"""The in-memory gazetteer the address parser matches against. Pure Python.

Built from plain records (the Django selector reads them from PostGIS), so the
parser and its tests need no database. Every name is normalized with the same
:func:`normalize` as the queries, and indexed under each of its forms: full
name, short form (江阳区 → 江阳), aliases and former names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

import shapely
from shapely.geometry.base import BaseGeometry

from .normalize import normalize

__all__ = ["Building", "Door", "Entity", "Gazetteer", "Kind", "prefix_of"]


class Kind:
    REGION = "region"
    ROAD = "road"
    PLACE = "place"  # 地片/小区
    POI = "poi"


SUB_LEVEL = 6  # roads, places and POIs sit below every region level
# weight of a name form: a match on an alias or short form is slightly less sure than on the full name
FULL, SHORT, ALIAS = 1.0, 0.92, 0.9
_LEVEL_DIGITS = {1: 2, 2: 4, 3: 6, 4: 9, 5: 12}


def prefix_of(code: str) -> str:
    """The significant prefix of a 12-digit region code (510502000000 → 510502)."""
    for level in (1, 2, 3, 4):
        n = _LEVEL_DIGITS[level]
        if code[n:].strip("0") == "":
            return code[:n]
    return code


@dataclass(eq=False, slots=True)
class Entity:
    """Something with a name an address can mention: a region, road, place or POI."""

    kind: str
    id: int | str  # region code, or the row id
    name: str
    level: int  # 1..5 for regions, SUB_LEVEL for the rest
    code: str  # region code (regions) or district code (the rest)
    prefix: str  # prefix_of(code); for places/POIs, of their deepest region
    district: str  # district prefix (6 digits) or "" above district level
    point: tuple[float, float] | None = None  # representative point, lon/lat
    grid_code: str = ""
    region_code: str = ""  # deepest region containing the point (places, POIs)
    category: str = ""  # POI category, place kind, road kind
    line: BaseGeometry | None = None  # road centre line
    extra: dict = field(default_factory=dict)
    forms: list[tuple[str, float]] = field(default_factory=list)  # normalized name forms and weights


@dataclass(slots=True)
class Door:
    id: int
    road_id: int
    number: int
    suffix: str
    point: tuple[float, float]
    grid_code: str
    region_code: str

    @property
    def label(self) -> str:
        return f"{self.number}{self.suffix}号"


@dataclass(slots=True)
class Building:
    id: int
    place_id: int | None
    door_id: int | None
    number: str
    point: tuple[float, float]
    grid_code: str
    region_code: str


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class Gazetteer:
    """Names → entities, the region tree, door plates by road, buildings by place/door."""

    def __init__(self) -> None:
        self.names: dict[str, list[tuple[Entity, float]]] = defaultdict(list)
        self.regions: dict[str, Entity] = {}  # code → region
        self.by_prefix: dict[str, Entity] = {}  # prefix → region
        self.children: dict[str, list[Entity]] = defaultdict(list)  # parent code → child regions
        self.subs_in: dict[str, list[Entity]] = defaultdict(list)  # district prefix → roads/places/POIs
        self.roads: dict[int, Entity] = {}
        self.places: dict[int, Entity] = {}
        self.pois: dict[int, Entity] = {}
        self.road_rows: dict[tuple[str, str], list[Entity]] = defaultdict(list)  # (city prefix, name) → rows
        self.doors: dict[int, list[Door]] = defaultdict(list)  # road id → doors sorted by number
        self.doors_by_id: dict[int, Door] = {}
        self.buildings: dict[tuple[str, int], dict[str, Building]] = defaultdict(dict)
        self._global_fuzzy = FuzzyIndex()  # province, city and district names, for text with no context
        self._fuzzy: dict[tuple, FuzzyIndex] = {}
        self.max_len = 0
        self.revision: object = None  # set by whoever loads it

    # ------------------------------------------------------------------ building
    def _index_name(self, entity: Entity, names: Iterable[tuple[str, float]]) -> None:
        seen: dict[str, float] = {}
        for raw, weight in names:
            name = normalize(raw)
            if len(name) < 2 or seen.get(name, 0) >= weight:
                continue
            seen[name] = weight
        for name, weight in seen.items():
            self.names[name].append((entity, weight))
            self.max_len = max(self.max_len, len(name))
        entity.forms = list(seen.items())

    def add_region(
        self,
        code: str,
        name: str,
        level: int,
        parent_code: str | None,
        short_name: str = "",
        aliases: Iterable[str] = (),
        point: tuple[float, float] | None = None,
    ) -> Entity:
        prefix = prefix_of(code)
        entity = Entity(Kind.REGION, code, name, level, code, prefix, prefix[:6] if level >= 3 else "", point)
        self.regions[code] = entity
        self.by_prefix[prefix] = entity
        if parent_code:
            self.children[parent_code].append(entity)
        forms = [(name, FULL)] + [(a, ALIAS) for a in aliases]
        if short_name and short_name != name:
            forms.append((short_name, SHORT))
        self._index_name(entity, forms)
        if level <= 3 and name != "市辖区":
            for form, weight in entity.forms:
                self._global_fuzzy.add(form, entity, weight)
        return entity

    def _add_sub(self, entity: Entity, aliases: Iterable[str], short: str = "") -> None:
        forms = [(entity.name, FULL)] + [(a, ALIAS) for a in aliases]
        if short and short != entity.name:
            forms.append((short, SHORT))
        self._index_name(entity, forms)
        self.subs_in[entity.district].append(entity)

    def add_road(
        self, id: int, name: str, district_code: str, line: BaseGeometry, kind: str = "", aliases=()
    ) -> Entity:
        point = line.interpolate(0.5, normalized=True) if not line.is_empty else None
        # a multi-part centre line: the point on its longest part
        if line.geom_type == "MultiLineString" and len(line.geoms) > 1:
            longest = max(line.geoms, key=lambda g: g.length)
            point = longest.interpolate(0.5, normalized=True)
        entity = Entity(
            Kind.ROAD,
            id,
            name,
            SUB_LEVEL,
            district_code,
            prefix_of(district_code),
            district_code[:6],
            (point.x, point.y) if point is not None else None,
            category=kind,
            line=line,
        )
        self.roads[id] = entity
        self.road_rows[(district_code[:4], normalize(name))].append(entity)
        self._add_sub(entity, aliases)
        return entity

    def _point_entity(
        self, kind: str, id: int, name: str, district_code: str, point, category: str, aliases,
        grid_code: str, region_code: str, door_id: int | None, short: str = "",
    ) -> Entity:  # fmt: skip
        entity = Entity(
            kind, id, name, SUB_LEVEL, district_code, prefix_of(region_code or district_code),
            district_code[:6], point, grid_code, region_code, category, extra={"door_id": door_id},
        )  # fmt: skip
        (self.places if kind == Kind.PLACE else self.pois)[id] = entity
        self._add_sub(entity, aliases, short)
        return entity

    def add_place(
        self, id: int, name: str, district_code: str, point: tuple[float, float], *, kind: str = "compound",
        aliases=(), grid_code: str = "", region_code: str = "", door_id: int | None = None,
    ) -> Entity:  # fmt: skip
        """A 地片/区片 or 小区 (``kind`` area/compound); 阳光花园小区 is also found as 阳光花园."""
        return self._point_entity(
            Kind.PLACE, id, name, district_code, point, kind, aliases, grid_code, region_code, door_id,
            _short_place(name),
        )  # fmt: skip

    def add_poi(
        self, id: int, name: str, district_code: str, point: tuple[float, float], *, category: str = "",
        aliases=(), grid_code: str = "", region_code: str = "", door_id: int | None = None,
    ) -> Entity:  # fmt: skip
        return self._point_entity(
            Kind.POI, id, name, district_code, point, category, aliases, grid_code, region_code, door_id
        )

    def add_door(self, door: Door) -> None:
        self.doors[door.road_id].append(door)
        self.doors_by_id[door.id] = door

    def add_building(self, building: Building) -> None:
        if building.place_id is not None:
            self.buildings[("place", building.place_id)][normalize(building.number)] = building
        if building.door_id is not None:
            self.buildings[("door", building.door_id)][normalize(building.number)] = building

    def finish(self) -> Gazetteer:
        for doors in self.doors.values():
            doors.sort(key=lambda d: (d.number, d.suffix))
        for entities in self.children.values():
            entities.sort(key=lambda e: e.code)
        return self

    # ------------------------------------------------------------------ lookups
    def chain(self, code: str) -> list[Entity]:
        """The region and its ancestors, province first."""
        p = prefix_of(code)
        return [e for n in (2, 4, 6, 9, 12) if n <= len(p) and (e := self.by_prefix.get(p[:n])) is not None]

    @cached_property
    def sorted_names(self) -> list[str]:
        """Every name form, sorted (prefix search for suggestions); built on first use, after loading."""
        return sorted(self.names)

    def chain_name(self, code: str) -> str:
        """The names of a region's chain run together (四川省泸州市江阳区), without 市辖区."""
        return "".join(e.name for e in self.chain(code) if e.name != "市辖区") if code else ""

    def road_doors(self, road: Entity) -> list[Door]:
        """Doors on every row of the road's name in its city (a road crossing districts has a row in each)."""
        rows = self.road_rows.get((road.code[:4], normalize(road.name)), [road])
        if len(rows) == 1:
            return self.doors.get(rows[0].id, [])
        return sorted((d for r in rows for d in self.doors.get(r.id, [])), key=lambda d: (d.number, d.suffix))

    def road_line(self, road: Entity) -> BaseGeometry:
        rows = self.road_rows.get((road.code[:4], normalize(road.name)), [road])
        if len(rows) == 1:
            return road.line
        return shapely.line_merge(shapely.union_all([r.line for r in rows]))

    def fuzzy_index(self, ctx: Entity | None, stage: int, pool) -> FuzzyIndex:
        """The deletion index of the names a context allows typos in (built once per context)."""
        key = (id(ctx), stage)
        index = self._fuzzy.get(key)
        if index is None:
            if ctx is None:
                index = self._global_fuzzy
            else:
                index = FuzzyIndex()
                for e in pool():
                    for form, weight in e.forms:
                        index.add(form, e, weight)
            self._fuzzy[key] = index
        return index


class FuzzyIndex:
    """SymSpell-style index: every name under itself and each one-character deletion of it.

    Two strings within one edit share a key (the string, or one of its deletions), so
    candidates come from a few dict lookups; they are then verified with a real distance.
    """

    __slots__ = ("keys", "max_len")

    def __init__(self) -> None:
        self.keys: dict[str, list[tuple[str, Entity, float]]] = defaultdict(list)
        self.max_len = 0

    def add(self, form: str, entity: Entity, weight: float) -> None:
        if len(form) < 3:
            return
        for key in {form} | _deletions(form):
            self.keys[key].append((form, entity, weight))
        self.max_len = max(self.max_len, len(form))

    def candidates(self, text: str) -> list[tuple[str, Entity, float]]:
        out: list[tuple[str, Entity, float]] = []
        for key in {text} | _deletions(text):
            out.extend(self.keys.get(key, ()))
        return out


def _short_place(name: str) -> str:
    """小区 names are often written without 小区 (阳光小区 → 阳光)."""
    for suffix in ("小区", "住宅小区", "花园小区"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return ""
