"""Import and export of the gazetteer layers (geocoding.io) through gis_core's import service:
dry run by default, all-or-nothing, every bad row reported, Chinese and pinyin column names,
GBK CSV, zipped shapefiles, and exports that import again unchanged. Real files, real PostGIS
(the small demo city with its door plates, compounds and POIs)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point

from geocoding.models import Building, DoorPlate, Place, Poi, Street
from gis_core.imports.registry import layer_names
from gis_core.imports.service import EXPORT_FORMATS, export_layer, import_file
from gis_core.tests.test_imports import write_shapezip, write_vector

JIANGYANG = "510502000000"  # 江阳区
LONGMATAN = "510504000000"  # 龙马潭区
AT_SEA = (124.0, 25.0)


@pytest.fixture
def door(db) -> DoorPlate:
    return DoorPlate.objects.select_related("street").filter(district_code=JIANGYANG, suffix="").first()


@pytest.fixture
def compound(db) -> Place:
    return Place.objects.filter(district_code=JIANGYANG).select_related("door__street").first()


def _csv(path: Path, rows: list[dict], encoding: str = "utf-8") -> Path:
    pd.DataFrame(rows).to_csv(path, index=False, encoding=encoding)
    return path


def _rows(report) -> list[tuple]:
    return [(e["row"], e["field"]) for e in report.errors]


def test_layers_registered():
    assert {"streets", "places", "doors", "buildings", "pois"} <= set(layer_names())


# --------------------------------------------------------------------------- door plates


def test_doors_csv_dry_run_then_commit(door, tmp_path):
    x, y = door.geom.x, door.geom.y
    path = _csv(
        tmp_path / "doors.csv",
        [
            {"道路名称": door.street.name, "门牌号": "8001号", "经度": x, "纬度": y},
            {"道路名称": door.street.name, "门牌号": "8002-1", "经度": x, "纬度": y},
            {"道路名称": door.street.name, "门牌号": "８００３", "附号": "之2", "经度": x, "纬度": y},
        ],
    )
    before = DoorPlate.objects.count()
    dry = import_file(layer="doors", path=path)
    assert (dry.rows, dry.valid, dry.committed, dry.dry_run, dry.errors) == (3, 3, False, True, [])
    assert DoorPlate.objects.count() == before

    report = import_file(layer="doors", path=path, commit=True)
    assert (report.committed, report.created, report.updated) == (True, 3, 0)
    labels = sorted(d.label for d in DoorPlate.objects.filter(street=door.street, number__gte=8001))
    assert labels == ["8001号", "8002-1号", "8003-2号"]
    assert set(DoorPlate.objects.filter(number__gte=8001).values_list("grid_code", flat=True)) == {
        door.grid_code
    }


def test_doors_bad_rows_all_reported_nothing_written(door, tmp_path):
    x, y = door.geom.x, door.geom.y
    name = door.street.name
    path = _csv(
        tmp_path / "doors.csv",
        [
            {"dlmc": name, "mph": "8101", "lon": x, "lat": y},
            {"dlmc": "没有这条路", "mph": "1", "lon": x, "lat": y},
            {"dlmc": name, "mph": "十二号", "lon": x, "lat": y},
            {"dlmc": name, "mph": "8102", "lon": AT_SEA[0], "lat": AT_SEA[1]},
            {"dlmc": name, "mph": "", "lon": x, "lat": y},
            {"dlmc": name, "mph": "8103", "lon": "东经", "lat": y},
            {"dlmc": name, "mph": "8101", "lon": x, "lat": y},
        ],
    )
    before = DoorPlate.objects.count()
    report = import_file(layer="doors", path=path, commit=True)
    assert not report.committed and report.valid == 1
    assert _rows(report) == [
        (2, "street"),
        (3, "number"),
        (4, "geometry"),
        (5, "number"),
        (6, "geometry"),
        (7, "number"),
    ]
    assert "没有道路“没有这条路”" in report.errors[0]["message"]
    assert "与第 1 行重复" in report.errors[-1]["message"]
    assert DoorPlate.objects.count() == before


def test_doors_gbk_csv_with_pinyin_columns(door, tmp_path):
    path = _csv(
        tmp_path / "doors_gbk.csv",
        [{"DLMC": door.street.name, "MPH": "8201", "FH": "1", "x": door.geom.x, "y": door.geom.y}],
        encoding="gbk",
    )
    with pytest.raises(UnicodeDecodeError):
        path.read_text(encoding="utf-8")
    report = import_file(layer="doors", path=path, commit=True)
    assert report.errors == [] and report.created == 1
    assert DoorPlate.objects.get(street=door.street, number=8201).suffix == "-1"


def test_doors_outside_jurisdiction_refused(door, tmp_path):
    other = DoorPlate.objects.select_related("street").filter(district_code=LONGMATAN).first()
    path = _csv(
        tmp_path / "doors.csv",
        [
            {"道路名称": d.street.name, "门牌号": 8300 + i, "lon": d.geom.x, "lat": d.geom.y}
            for i, d in enumerate((door, other))
        ],
    )
    report = import_file(layer="doors", path=path, commit=True, allowed=lambda c: c.startswith("510502"))
    assert _rows(report) == [(2, "code")] and "管辖范围" in report.errors[0]["message"]
    assert not DoorPlate.objects.filter(number__gte=8300).exists()


@pytest.mark.parametrize("fmt", list(EXPORT_FORMATS))
def test_doors_export_round_trip(db, tmp_path, fmt):
    doors = DoorPlate.objects.filter(district_code=JIANGYANG)
    result = export_layer(layer="doors", fmt=fmt, region="510502")
    path = tmp_path / result.filename
    path.write_bytes(result.content)
    frame = gpd.read_file(path) if fmt != "csv" else pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(frame) == doors.count() > 0
    assert set(frame["code"]) == set(doors.values_list("grid_code", flat=True))
    before = {d.pk: (d.geom.wkt, d.grid_code) for d in doors}
    report = import_file(layer="doors", path=path, commit=True)
    assert report.errors == [] and (report.created, report.updated) == (0, doors.count())
    assert {d.pk: (d.geom.wkt, d.grid_code) for d in doors} == before


# --------------------------------------------------------------------------- places, buildings, POIs


def test_places_geojson_with_aliases_and_gate(door, tmp_path):
    frame = gpd.GeoDataFrame(
        {
            "小区名称": ["导入花园", "导入地片"],
            "类型": ["小区", "地片"],
            "别名": ["甲苑；乙苑;丙苑，丁苑、戊苑|己苑", ""],
            "道路名称": [door.street.name, None],
            "门牌号": [f"{door.number}号", None],
        },
        geometry=[Point(door.geom.x, door.geom.y)] * 2,
        crs=4326,
    )
    path = write_vector(frame, tmp_path / "places.geojson")
    report = import_file(layer="places", path=path, commit=True)
    assert report.errors == [] and report.created == 2
    place = Place.objects.get(name="导入花园")
    assert place.aliases == ["甲苑", "乙苑", "丙苑", "丁苑", "戊苑", "己苑"]
    assert place.door == door and place.kind == "compound"
    assert Place.objects.get(name="导入地片").kind == "area"


def test_places_export_round_trip_keeps_outline_and_gate(compound, tmp_path):
    result = export_layer(layer="places", fmt="csv", region=compound.grid_code[:12])
    path = tmp_path / result.filename
    path.write_bytes(result.content)
    before = Place.objects.filter(region_code=compound.region_code)
    snapshot = {p.pk: (p.outline.wkt, p.door_id, p.geom.wkt) for p in before}
    report = import_file(layer="places", path=path, commit=True)
    assert report.errors == [] and report.updated == len(snapshot) > 0
    assert {p.pk: (p.outline.wkt, p.door_id, p.geom.wkt) for p in before} == snapshot


def test_buildings_csv_numbers_and_parents(compound, tmp_path):
    gate = compound.door
    x, y = compound.geom.x, compound.geom.y
    path = _csv(
        tmp_path / "buildings.csv",
        [
            {"小区名称": compound.name, "楼号": "31栋", "lon": x, "lat": y},
            {"小区名称": compound.name, "楼号": "32号楼", "lon": x, "lat": y},
            {"小区名称": compound.name, "楼号": "３３幢", "lon": x, "lat": y},
            {"道路名称": gate.street.name, "门牌号": gate.number, "楼号": "A", "lon": x, "lat": y},
            {"小区名称": "不存在的小区", "楼号": "1", "lon": x, "lat": y},
            {"楼号": "1", "lon": x, "lat": y},
            {"道路名称": gate.street.name, "楼号": "2", "lon": x, "lat": y},
        ],
    )
    report = import_file(layer="buildings", path=path, commit=True)
    assert _rows(report) == [(5, "place"), (6, "place"), (7, "door_number")]
    report = import_file(layer="buildings", path=_csv(tmp_path / "ok.csv", _ok_rows(path)), commit=True)
    assert report.errors == [] and report.created == 4
    assert {"31", "32", "33"} <= set(compound.buildings.values_list("number", flat=True))
    assert Building.objects.get(door=gate, number="A").place is None


def _ok_rows(path: Path) -> list[dict]:
    return pd.read_csv(path, dtype=str, keep_default_na=False).head(4).to_dict("records")


def test_pois_zipped_shapefile_gbk_without_cpg(door, tmp_path):
    frame = gpd.GeoDataFrame(
        {
            "mc": ["导入小学", "导入银行"],
            "lb": ["学校", "银行"],
            "bm": ["导入学校|实验小学", ""],
            "dlmc": [door.street.name, ""],
            "mph": [door.number, 0],
        },
        geometry=[Point(door.geom.x, door.geom.y), Point(door.geom.x + 0.0001, door.geom.y)],
        crs=4326,
    )
    frame.loc[1, "mph"] = None
    path = write_shapezip(frame, tmp_path / "pois.zip", encoding="gbk", cpg=False)
    report = import_file(layer="pois", path=path, commit=True)
    assert report.errors == [] and report.created == 2
    school = Poi.objects.get(name="导入小学")
    assert (school.category, school.aliases, school.door) == ("学校", ["导入学校", "实验小学"], door)
    assert Poi.objects.get(name="导入银行").door is None


def test_pois_export_geojson_round_trip(db, tmp_path):
    result = export_layer(layer="pois", fmt="geojson", region="5105")
    features = json.loads(result.content)["features"]
    assert len(features) == Poi.objects.filter(district_code__startswith="5105").count() > 0
    assert any(f["properties"]["street"] for f in features)
    path = tmp_path / result.filename
    path.write_bytes(result.content)
    report = import_file(layer="pois", path=path)
    assert report.errors == [] and report.valid == len(features)


# --------------------------------------------------------------------------- streets


def test_streets_geojson_import_and_round_trip(db, tmp_path):
    street = Street.objects.filter(district_code=JIANGYANG).first()
    line = shapely.from_wkb(bytes(street.geom.wkb)).geoms[0]
    frame = gpd.GeoDataFrame(
        {"道路名称": ["导入路", "导入路2"], "别名": ["旧导入路、导入街", ""], "道路类型": ["路", "bad"]},
        geometry=[line, Point(line.coords[0])],
        crs=4326,
    )
    path = write_vector(frame, tmp_path / "streets.geojson")
    report = import_file(layer="streets", path=path, commit=True)
    assert _rows(report) == [(2, "kind")]
    frame.loc[1, "道路类型"] = ""
    report = import_file(layer="streets", path=write_vector(frame, tmp_path / "s2.geojson"), commit=True)
    assert _rows(report) == [(2, "geometry")]
    report = import_file(
        layer="streets", path=write_vector(frame.head(1), tmp_path / "s3.geojson"), commit=True
    )
    assert report.errors == [] and report.created >= 1
    imported = Street.objects.get(name="导入路", district_code=JIANGYANG)
    assert imported.aliases == ["旧导入路", "导入街"] and imported.kind == "road"

    result = export_layer(layer="streets", fmt="gpkg", region="510502")
    path = tmp_path / result.filename
    path.write_bytes(result.content)
    rows = Street.objects.filter(district_code=JIANGYANG).count()
    report = import_file(layer="streets", path=path, commit=True)
    assert report.errors == [] and report.rows == rows and report.updated >= rows
