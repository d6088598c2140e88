"""Bulk writes of the point gazetteer: 地片/小区, door plates (门牌), building plates (楼牌), POIs.

Each ``*_upsert`` takes frozen inputs, checks every row, and writes all of them in one
transaction or none: any problem raises ``InvalidInput`` naming the first bad row, with every
problem listed in ``details["rows"]``. ``*_check`` returns the same problems without writing
(the import layers report them per row).

Every point gets the unit grid, the deepest region (community) and the district containing it
from gis_core point location, stored on the row; a point outside every district is an error.
Names are resolved where the point lies: a door plate's street in the point's district; the
street of a referenced door plate and a building's compound in the point's district first, then
elsewhere in the same city (a road on a district boundary has a row on each side).

Upsert keys: (district, name) for places and POIs, (street, number, suffix) for door plates,
(compound, door plate, number) for buildings.
"""

from .inputs import (
    BuildingInput,
    DoorInput,
    DoorRef,
    PlaceInput,
    PoiInput,
    PointWhere,
    RowProblem,
    clean_aliases,
    door_suffix,
    raise_problems,
)
from .resolve import point_where, points_locate
from .upsert import (
    buildings_check,
    buildings_upsert,
    doors_check,
    doors_upsert,
    places_check,
    places_upsert,
    pois_check,
    pois_upsert,
    row_locate,
)

__all__ = [
    "BuildingInput",
    "DoorInput",
    "DoorRef",
    "PlaceInput",
    "PoiInput",
    "PointWhere",
    "RowProblem",
    "buildings_check",
    "buildings_upsert",
    "clean_aliases",
    "door_suffix",
    "doors_check",
    "doors_upsert",
    "places_check",
    "places_upsert",
    "point_where",
    "points_locate",
    "pois_check",
    "pois_upsert",
    "raise_problems",
    "row_locate",
]
