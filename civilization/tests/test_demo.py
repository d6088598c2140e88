"""Demo units and population (civilization/demo.py), as demo_city_build writes them."""

from __future__ import annotations

from civilization.models import CivilizationUnit, RegionPopulation, UnitType
from gis_core.models import Region

CITY = "5105"


def test_the_demo_city_has_units_of_every_type_in_both_districts(db):
    units = CivilizationUnit.objects.filter(district_code__startswith=CITY)
    assert units.count() >= 40
    assert set(units.values_list("unit_type", flat=True)) >= {t for t in UnitType.values if t != "village"}
    assert {"510502000000", "510504000000"} <= set(units.values_list("district_code", flat=True))
    for unit in units:
        assert unit.grid_code[:12] == unit.region_code and unit.region_code[:6] == unit.district_code[:6]
        if unit.unit_type == UnitType.FAMILY:
            assert unit.public_geom != unit.geom and unit.public_grid_code[:12] == unit.region_code
            assert unit.address and unit.contact
        else:
            assert unit.public_geom == unit.geom and unit.public_grid_code == unit.grid_code


def test_demo_population_adds_up_from_communities_to_the_city(db):
    city = RegionPopulation.objects.get(region_code="510500000000", year=2024).population
    districts = RegionPopulation.objects.filter(
        region_code__in=Region.objects.filter(code__startswith=CITY, level=3).values("code"), year=2024
    )
    assert city > 0 and sum(districts.values_list("population", flat=True)) == city
