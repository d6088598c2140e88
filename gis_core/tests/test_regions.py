"""Tests for gis_core.services.regions: the national gazetteer and versioned boundaries.

The conftest loaded the gazetteer and the demo city (泸州) once; each test runs
in a rolled-back transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
import shapely
from django.contrib.gis.geos import Point
from django.db.models import Count

from gis_core.codes import ancestor_codes, level_of, pad_code, parent_code
from gis_core.errors import Conflict, InvalidInput
from gis_core.geometry import GeometryProblem, geodesic_area_m2
from gis_core.models import LocatorLayer, LocatorPart, Region, RegionBoundary, RegionLevel
from gis_core.selectors.locate import locate_point
from gis_core.services.regions import (
    GAZETTEER_DIR,
    RegionInput,
    gazetteer_load,
    region_clear_boundary,
    region_set_boundary,
    regions_upsert,
)

from .factories import FAR_POINT, FAR_STREET_CODE, CommunityFactory, locator_revision, square, to_shapely

D1 = dt.date(2024, 1, 1)
D2 = dt.date(2025, 7, 1)
LON, LAT = FAR_POINT

pytestmark = pytest.mark.django_db


def _csv_rows(filename: str) -> list[dict[str, str]]:
    with (GAZETTEER_DIR / filename).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


GAZETTEER_FILES = {1: "provinces.csv", 2: "cities.csv", 3: "areas.csv", 4: "streets.csv"}


@pytest.fixture(scope="module")
def csv_rows() -> dict[int, list[tuple[str, str]]]:
    """Level → [(12-digit code, name)], straight from data/divisions/*.csv."""
    return {
        level: [(pad_code(r["code"]), r["name"]) for r in _csv_rows(name)]
        for level, name in GAZETTEER_FILES.items()
    }


@pytest.fixture(scope="module")
def gazetteer_csv(csv_rows) -> dict[int, dict[str, str]]:
    """Level → {code: name} of the regions the tables define.

    A few rows repeat their parent: the cities without counties (东莞 441900,
    中山 442000, 儋州 460400) appear again in areas.csv, and 金门县 (350527)
    again in streets.csv as ``350527000``; they pad to the same 12-digit code,
    so they are one region, at the level of the code.
    """
    seen: set[str] = set()
    result: dict[int, dict[str, str]] = {}
    for level in sorted(csv_rows):
        result[level] = {code: name for code, name in csv_rows[level] if code not in seen}
        seen |= set(result[level])
    return result


def _chain_codes(loc) -> list[str]:
    return [r["code"] for r in loc.regions]


def _region_parts(code: str):
    return LocatorPart.objects.filter(layer=LocatorLayer.REGION, code=code)


def _parts_union(code: str):
    return shapely.union_all([to_shapely(p.geom) for p in _region_parts(code)])


# --------------------------------------------------------------------------- gazetteer


def test_gazetteer_counts_by_level_match_the_csv(csv_rows, gazetteer_csv):
    assert len(csv_rows[1]) == 31
    assert len(csv_rows[2]) == 342
    assert Region.objects.filter(level=RegionLevel.PROVINCE).count() == 31
    assert Region.objects.filter(level=RegionLevel.CITY).count() == 342
    repeated = {lv: len(csv_rows[lv]) - len(gazetteer_csv[lv]) for lv in csv_rows}
    assert repeated == {1: 0, 2: 0, 3: 3, 4: 1}
    for level, rows in gazetteer_csv.items():
        assert Region.objects.filter(level=level).count() == len(rows), GAZETTEER_FILES[level]


def test_gazetteer_codes_and_names_match_the_csv(gazetteer_csv):
    for level, rows in gazetteer_csv.items():
        stored = dict(Region.objects.filter(level=level).values_list("code", "name"))
        assert stored == rows, GAZETTEER_FILES[level]


def test_every_region_has_the_level_its_code_names():
    wrong = [(c, lv) for c, lv in Region.objects.values_list("code", "level") if lv != level_of(c)]
    assert wrong == []


def test_cities_without_counties_stay_cities():
    for code, name in (("441900000000", "东莞市"), ("442000000000", "中山市"), ("460400000000", "儋州市")):
        city = Region.objects.get(code=code)
        assert (city.name, city.level, city.parent.code) == (name, RegionLevel.CITY, code[:2] + "0" * 10)
    jinmen = Region.objects.get(code="350527000000")
    assert (jinmen.name, jinmen.short_name, jinmen.level) == ("金门县", "金门", RegionLevel.DISTRICT)
    assert jinmen.parent.name == "泉州市"


def test_every_region_points_to_the_parent_its_code_names():
    rows = Region.objects.filter(level__gte=RegionLevel.CITY).values_list("code", "parent__code")
    wrong = [(code, parent) for code, parent in rows if parent != parent_code(code)]
    assert wrong == []
    assert not Region.objects.filter(level=RegionLevel.PROVINCE, parent__isnull=False).exists()


def test_parent_links_of_nancheng_street():
    street = Region.objects.get(code="510502001000")
    assert (street.name, street.short_name, street.level) == ("南城街道", "南城", RegionLevel.STREET)
    district = street.parent
    assert (district.code, district.name) == ("510502000000", "江阳区")
    city = district.parent
    assert (city.code, city.name) == ("510500000000", "泸州市")
    province = city.parent
    assert (province.code, province.name, province.short_name) == ("510000000000", "四川省", "四川")
    assert province.parent is None
    assert [r.name for r in Region.objects.chain_of(street.code)] == [
        "四川省",
        "泸州市",
        "江阳区",
        "南城街道",
    ]


def test_gulou_district_exists_under_several_cities(gazetteer_csv):
    expected = {code for code, name in gazetteer_csv[3].items() if name == "鼓楼区"}
    assert len(expected) >= 4
    gulou = Region.objects.filter(name="鼓楼区", level=RegionLevel.DISTRICT)
    assert set(gulou.values_list("code", flat=True)) == expected
    cities = set(gulou.values_list("parent__name", flat=True))
    assert {"南京市", "徐州市", "福州市", "开封市"} <= cities
    assert len(set(gulou.values_list("parent_id", flat=True))) == len(expected)


def test_dongguan_towns_sit_directly_under_the_city(gazetteer_csv):
    expected = {code for code in gazetteer_csv[4] if code.startswith("441900")}
    assert len(expected) > 20
    towns = Region.objects.filter(code__startswith="441900", level=RegionLevel.STREET)
    assert set(towns.values_list("code", flat=True)) == expected
    assert set(towns.values_list("parent__code", flat=True)) == {"441900000000"}
    assert Region.objects.get(code="441900000000").name == "东莞市"
    assert not Region.objects.filter(code__startswith="4419", level=RegionLevel.DISTRICT).exists()
    town = towns.order_by("code").first()
    assert [r.code for r in Region.objects.chain_of(town.code)] == ["440000000000", "441900000000", town.code]


def test_gazetteer_load_again_is_idempotent(csv_rows, gazetteer_csv):
    before_ids = dict(Region.objects.values_list("code", "id"))
    city = Region.objects.get(code="510500000000")
    assert city.geom is not None
    communities_before = Counter(
        Region.objects.filter(level=RegionLevel.COMMUNITY).values_list("parent__code", flat=True)
    )
    assert communities_before  # the demo city's communities
    # a renamed street comes back; aliases and boundaries stay
    Region.objects.filter(code="510502001000").update(name="改名街道", short_name="改名")
    Region.objects.filter(code="510502000000").update(aliases=["江阳"])

    counts = gazetteer_load()

    former = counts.pop("former_names")
    assert counts == {
        GAZETTEER_FILES[lv].removesuffix(".csv"): len(rows) for lv, rows in gazetteer_csv.items()
    }
    assert counts == {"provinces": 31, "cities": 342, "areas": 2975, "streets": 41351}
    assert former >= 50
    assert dict(Region.objects.values_list("code", "id")) == before_ids  # same rows, none added
    assert not Region.objects.values("code").annotate(n=Count("id")).filter(n__gt=1).exists()
    street = Region.objects.get(code="510502001000")
    assert (street.name, street.short_name) == ("南城街道", "南城")
    # the alias set by hand stays; the former name (市中区, renamed 1995) is added once
    assert Region.objects.get(code="510502000000").aliases == ["市中区", "江阳"]
    gazetteer_load()
    assert Region.objects.get(code="510502000000").aliases == ["市中区", "江阳"]
    assert "崇文区" in Region.objects.get(code="110101000000").aliases
    city.refresh_from_db()
    assert city.geom is not None
    assert city.area_m2 == pytest.approx(geodesic_area_m2(to_shapely(city.geom)))
    assert city.parent.code == "510000000000"
    assert (
        Counter(Region.objects.filter(level=RegionLevel.COMMUNITY).values_list("parent__code", flat=True))
        == communities_before
    )


def test_gazetteer_load_from_another_directory(tmp_path: Path):
    """A refreshed edition of the tables renames in place and adds new codes."""
    (tmp_path / "provinces.csv").write_text('code,name\n51,"四川省"\n', encoding="utf-8")
    (tmp_path / "cities.csv").write_text('code,name,provinceCode\n5105,"泸州市",51\n', encoding="utf-8")
    (tmp_path / "areas.csv").write_text(
        'code,name,cityCode,provinceCode\n510502,"江阳区",5105,51\n510599,"测试新区",5105,51\n',
        encoding="utf-8",
    )
    (tmp_path / "streets.csv").write_text(
        "code,name,areaCode,provinceCode,cityCode\n"
        '510502001,"南城街道办事处",510502,51,5105\n510599001,"新城街道",510599,51,5105\n',
        encoding="utf-8",
    )
    total = Region.objects.count()
    assert gazetteer_load(directory=tmp_path) == {"provinces": 1, "cities": 1, "areas": 2, "streets": 2}
    assert Region.objects.count() == total + 2
    new_street = Region.objects.get(code="510599001000")
    assert new_street.parent.code == "510599000000"
    assert new_street.parent.parent.code == "510500000000"
    renamed = Region.objects.get(code="510502001000")
    assert (renamed.name, renamed.short_name) == ("南城街道办事处", "南城")


# --------------------------------------------------------------------------- regions_upsert


def test_regions_upsert_creates_community_with_geometry():
    revision = locator_revision()
    geom = square(LON, LAT, 0.002)
    code = f"{FAR_STREET_CODE[:9]}901"

    created, updated = regions_upsert(
        items=[RegionInput(code=code, name="测试社区", geom=to_shapely(geom), aliases=["测试居委会"])],
        valid_from=D1,
        source="test",
    )

    assert (created, updated) == (1, 0)
    region = Region.objects.get(code=code)
    assert (region.name, region.short_name, region.level) == ("测试社区", "测试", RegionLevel.COMMUNITY)
    assert region.parent.code == FAR_STREET_CODE
    assert region.aliases == ["测试居委会"]
    assert region.geom.geom_type == "MultiPolygon"
    assert region.geom.srid == 4326
    assert region.geom.equals(geom)
    # ~ 0.004° × 0.004° at 40°N: 444 m × 341 m
    assert region.area_m2 == pytest.approx(geodesic_area_m2(to_shapely(geom)))
    assert 140_000 < region.area_m2 < 160_000

    boundary = region.boundaries.get()
    assert (boundary.valid_from, boundary.valid_to, boundary.source) == (D1, None, "test")
    assert boundary.geom.equals(geom)

    parts = list(_region_parts(code))
    assert parts
    assert {(p.name, p.level, p.region_code) for p in parts} == {("测试社区", 5, code)}
    assert _parts_union(code).symmetric_difference(to_shapely(geom)).area < 1e-12
    assert locator_revision() > revision

    loc = locate_point(LON, LAT)
    assert _chain_codes(loc) == ancestor_codes(code)
    assert [r["name"] for r in loc.regions][:1] == ["北京市"]
    assert loc.grid is None


def test_regions_upsert_same_boundary_again_keeps_one_version():
    region = CommunityFactory(valid_from=D1)
    created, updated = regions_upsert(
        items=[
            RegionInput(code=region.code, name="新名社区", geom=to_shapely(region.geom), aliases=["别名"])
        ],
        valid_from=D2,
    )
    assert (created, updated) == (0, 1)
    region.refresh_from_db()
    assert (region.name, region.short_name, region.aliases) == ("新名社区", "新名", ["别名"])
    assert region.boundaries.get().valid_from == D1


def test_regions_upsert_without_geometry_keeps_the_boundary():
    region = CommunityFactory(valid_from=D1)
    regions_upsert(items=[RegionInput(code=region.code, name=region.name)], valid_from=D2)
    region.refresh_from_db()
    assert region.geom is not None
    assert region.boundaries.get().valid_to is None
    assert _region_parts(region.code).exists()


def test_regions_upsert_parent_earlier_in_the_same_batch():
    street = f"{FAR_STREET_CODE[:6]}901000"
    community = f"{street[:9]}001"
    created, _ = regions_upsert(
        items=[
            RegionInput(code=community, name="新社区", geom=to_shapely(square(LON, LAT))),
            RegionInput(code=street[:9], name="新街道"),
        ]
    )
    assert created == 2
    assert Region.objects.get(code=community).parent == Region.objects.get(code=street)
    assert Region.objects.get(code=street).level == RegionLevel.STREET


def test_regions_upsert_missing_parent_raises_and_writes_nothing():
    good = f"{FAR_STREET_CODE[:9]}901"
    orphan = f"{FAR_STREET_CODE[:6]}999001"  # street 110101999 does not exist
    revision = locator_revision()
    with pytest.raises(InvalidInput, match=f"上级区划 {orphan[:9]}000 不存在"):
        regions_upsert(
            items=[
                RegionInput(code=good, name="好社区", geom=to_shapely(square(LON, LAT))),
                RegionInput(code=orphan, name="孤儿社区"),
            ]
        )
    assert not Region.objects.filter(code__in=[good, orphan]).exists()
    assert not LocatorPart.objects.filter(code=good).exists()
    assert locator_revision() == revision


# --------------------------------------------------------------------------- boundaries


def test_redrawing_a_boundary_keeps_history_and_replaces_locator_parts():
    old = square(LON, LAT, 0.002)
    new = square(LON + 0.003, LAT, 0.003)  # overlaps the old one on its east side, and larger
    region = CommunityFactory(geom=old, valid_from=D1)
    old_part_ids = set(_region_parts(region.code).values_list("id", flat=True))
    assert old_part_ids
    old_area = region.area_m2
    revision = locator_revision()
    only_old = (LON - 0.0015, LAT)
    only_new = (LON + 0.005, LAT)
    both = (LON + 0.0015, LAT)
    assert locate_point(*only_old).regions[-1]["code"] == region.code
    assert locate_point(*only_new).regions == ()

    returned = region_set_boundary(region=region, geom=to_shapely(new), valid_from=D2, source="redraw")

    assert returned.pk == region.pk
    region.refresh_from_db()
    assert region.geom.equals(new)
    assert region.area_m2 == pytest.approx(geodesic_area_m2(to_shapely(new)))
    assert region.area_m2 == pytest.approx(old_area * 9 / 4, rel=0.01)

    first, second = RegionBoundary.objects.filter(region=region).order_by("valid_from")
    assert (first.valid_from, first.valid_to, first.source) == (D1, D2, "test")
    assert first.geom.equals(old)
    assert (second.valid_from, second.valid_to, second.source) == (D2, None, "redraw")
    assert second.geom.equals(new)

    parts = _region_parts(region.code)
    assert not parts.filter(id__in=old_part_ids).exists()
    assert _parts_union(region.code).symmetric_difference(to_shapely(new)).area < 1e-12
    assert not parts.filter(geom__intersects=Point(*only_old, srid=4326)).exists()
    assert locator_revision() > revision

    assert locate_point(*only_new).regions[-1]["code"] == region.code
    assert locate_point(*both).regions[-1]["code"] == region.code
    assert region.code not in _chain_codes(locate_point(*only_old))


def test_redrawing_twice_on_the_same_day_replaces_that_version():
    region = CommunityFactory(valid_from=D1)
    region_set_boundary(region=region, geom=to_shapely(square(LON, LAT, 0.003)), valid_from=D2)
    final = square(LON, LAT, 0.004)
    region_set_boundary(region=region, geom=to_shapely(final), valid_from=D2)
    versions = list(region.boundaries.order_by("valid_from").values_list("valid_from", "valid_to"))
    assert versions == [(D1, D2), (D2, None)]
    assert region.boundaries.get(valid_to=None).geom.equals(final)


def test_boundary_starting_before_the_current_one_is_refused():
    region = CommunityFactory(valid_from=D2)
    revision = locator_revision()
    with pytest.raises(Conflict, match="早于现行边界的生效日期"):
        region_set_boundary(region=region, geom=to_shapely(square(LON, LAT, 0.003)), valid_from=D1)
    assert list(region.boundaries.values_list("valid_from", "valid_to")) == [(D2, None)]
    region.refresh_from_db()
    assert region.geom.equals(square(LON, LAT))
    assert locator_revision() == revision


def test_set_boundary_accepts_geos_and_polygons():
    region = CommunityFactory(valid_from=D1)
    geos_polygon = square(LON, LAT, 0.001)[0]  # a GEOS Polygon, SRID 4326
    region_set_boundary(region=region, geom=geos_polygon, valid_from=D2)
    region.refresh_from_db()
    assert region.geom.geom_type == "MultiPolygon"
    assert region.geom.equals(square(LON, LAT, 0.001))


def test_set_boundary_rejects_invalid_geometry_unless_repaired():
    region = CommunityFactory(valid_from=D1)
    revision = locator_revision()
    bowtie = shapely.Polygon([(LON, LAT), (LON + 0.01, LAT + 0.01), (LON + 0.01, LAT), (LON, LAT + 0.01)])
    with pytest.raises(GeometryProblem, match="Self-intersection"):
        region_set_boundary(region=region, geom=bowtie, valid_from=D2)
    assert region.boundaries.count() == 1
    assert locator_revision() == revision

    region_set_boundary(region=region, geom=bowtie, valid_from=D2, repair=True)
    region.refresh_from_db()
    assert region.geom.valid
    assert len(region.geom) == 2
    assert region.boundaries.count() == 2
    for x, y in ((LON + 0.002, LAT + 0.005), (LON + 0.008, LAT + 0.005)):  # one in each triangle
        assert locate_point(x, y).regions[-1]["code"] == region.code
    assert locate_point(LON + 0.005, LAT + 0.002).regions == ()  # between them


def test_set_boundary_rejects_swapped_axes():
    region = CommunityFactory(valid_from=D1)
    with pytest.raises(GeometryProblem, match="经纬度是否颠倒"):
        region_set_boundary(region=region, geom=shapely.box(LAT, LON, LAT + 0.01, LON + 0.01))


def test_set_boundary_on_a_demo_region_moves_point_location():
    """A real demo district: its locator parts follow the new boundary."""
    district = Region.objects.get(code="510502000000")
    inside = to_shapely(district.geom).representative_point()
    assert locate_point(inside.x, inside.y).regions[2]["code"] == district.code
    current = district.boundaries.get(valid_to=None)
    later = current.valid_from + dt.timedelta(days=30)
    new = square(LON, LAT, 0.01)
    region_set_boundary(region=district, geom=to_shapely(new), valid_from=later)
    assert district.boundaries.get(pk=current.pk).valid_to == later
    assert _region_parts(district.code).filter(geom__intersects=Point(LON, LAT, srid=4326)).exists()
    assert (
        not _region_parts(district.code)
        .filter(geom__intersects=Point(inside.x, inside.y, srid=4326))
        .exists()
    )
    assert locate_point(LON, LAT).regions[-1]["code"] == district.code
    # the demo grid still locates the old point, with the chain its codes name
    assert locate_point(inside.x, inside.y).grid is not None


def test_clear_boundary_closes_the_version_and_removes_parts():
    region = CommunityFactory(valid_from=D1)
    revision = locator_revision()
    region_clear_boundary(region=region, valid_to=D2)
    region.refresh_from_db()
    assert region.geom is None
    assert region.area_m2 is None
    assert list(region.boundaries.values_list("valid_from", "valid_to")) == [(D1, D2)]
    assert not _region_parts(region.code).exists()
    assert locator_revision() > revision
    assert locate_point(LON, LAT).regions == ()
