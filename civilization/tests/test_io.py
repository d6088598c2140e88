"""Imports (files with points, address lists through the geocoder), the population loader."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from civilization.models import CivilizationUnit, RegionPopulation

from .conftest import A_CODE

URL = "/api/v1/civilization/units/import"


def _geojson(points, names) -> SimpleUploadedFile:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
            "properties": {"名称": name, "类型": "文明单位", "荣誉级别": "市级", "授予年份": 2021, "届次": 2},
        }
        for p, name in zip(points, names, strict=True)
    ]
    data = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()
    return SimpleUploadedFile("units.geojson", data, content_type="application/geo+json")


def test_a_file_with_points_is_a_dry_run_unless_committed(planner_a, points_a):
    names = ["导入一", "导入二"]
    dry = planner_a.post(URL, {"file": _geojson(points_a[:2], names)})
    assert dry.status_code == 200 and dry.json()["valid"] == 2 and not dry.json()["committed"]
    assert not CivilizationUnit.objects.filter(name__in=names).exists()
    done = planner_a.post(URL, {"file": _geojson(points_a[:2], names), "commit": "true"}).json()
    assert done["committed"] and done["created"] == 2
    assert CivilizationUnit.objects.get(name="导入一").grid_code == points_a[0].grid_code


def test_rows_outside_the_jurisdiction_fail_the_whole_file(planner_a, points_a, points_b):
    response = planner_a.post(
        URL, {"file": _geojson([points_a[0], points_b[0]], ["甲", "乙"]), "commit": "true"}
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_rows"
    errors = response.json()["error"]["details"]["errors"]
    assert [e["row"] for e in errors] == [2] and "管辖范围" in errors[0]["message"]
    assert not CivilizationUnit.objects.filter(name__in=["甲", "乙"]).exists()


def test_an_address_list_geocodes_and_reports_every_row_that_does_not(planner_a, db):
    from geocoding.models import Poi

    pois = list(Poi.objects.filter(district_code=A_CODE).order_by("pk")[:2])
    lines = ["名称,类型,级别,授予年份,地址"]
    lines += [f"{p.name},文明单位,区级,2020,泸州市江阳区{p.name}" for p in pois]
    lines.append("无名单位,文明单位,区级,2020,火星市不存在路999号")
    lines.append("坏年份,文明单位,区级,十九,泸州市江阳区")
    upload = SimpleUploadedFile("list.csv", "\n".join(lines).encode("gbk"), content_type="text/csv")
    response = planner_a.post(URL, {"file": upload, "commit": "true"})
    assert response.status_code == 400, response.content
    errors = response.json()["error"]["details"]["errors"]
    assert [e["row"] for e in errors] == [3, 4]
    assert not CivilizationUnit.objects.filter(name__in=[p.name for p in pois]).exists()
    good = "\n".join(lines[:3]).encode("utf-8")
    done = planner_a.post(URL, {"file": SimpleUploadedFile("list.csv", good), "commit": "true"})
    assert done.status_code == 200, done.content
    assert done.json()["created"] == 2
    assert CivilizationUnit.objects.get(name=pois[0].name).grid_code == pois[0].grid_code


def test_export_reimports_unchanged(planner_a, points_a):
    from civilization.tests.conftest import make_unit

    make_unit("往返单位", "campus", points_a[0], level="national", review_year=2026)
    csv_bytes = planner_a.get("/api/v1/civilization/units/export", {"format": "csv", "q": "往返"}).content
    CivilizationUnit.objects.filter(name="往返单位").delete()
    upload = SimpleUploadedFile("back.csv", csv_bytes, content_type="text/csv")
    done = planner_a.post(URL, {"file": upload, "commit": "true"})
    assert done.status_code == 200, done.content
    unit = CivilizationUnit.objects.get(name="往返单位")
    assert (unit.unit_type, unit.level, unit.review_year, unit.grid_code) == (
        "campus",
        "national",
        2026,
        points_a[0].grid_code,
    )


def test_population_loader_is_a_dry_run_unless_committed(tmp_path, db):
    path = tmp_path / "pop.csv"
    path.write_text("区划代码,年份,常住人口\n510502,2030,123456\n", encoding="utf-8")
    call_command("region_population_load", str(path))
    assert not RegionPopulation.objects.filter(year=2030).exists()
    call_command("region_population_load", str(path), "--commit")
    assert RegionPopulation.objects.get(region_code=A_CODE, year=2030).population == 123456
