"""grids.io_assets, the ``cameras`` layer: camera points imported from files (CSV in UTF-8 or
GBK, GeoJSON, zipped Shapefile; any supported crs) through the gis_core import service, its
endpoint and command — checked like API writes, all rows or none, within the jurisdiction."""

from __future__ import annotations

import io
import json
import zipfile

import geopandas as gpd
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from shapely.geometry import Point

from accounts.scoping import Jurisdiction
from gis_core import crs as crs_mod
from gis_core.imports.service import export_layer, import_file
from grids.assets import Camera
from grids.models import UnitGrid
from grids.services.cameras import CameraInput, camera_create

A = Jurisdiction(region_code="510502000000")  # 江阳区
B = Jurisdiction(region_code="510504000000")  # 龙马潭区
NATION = Jurisdiction(nationwide=True)
CODE = "51050200001320900001"  # a GB/T 28181 code of 江阳区


@pytest.fixture
def a_grids(db) -> list[UnitGrid]:
    return list(UnitGrid.objects.filter(code__startswith="510502").order_by("code")[:2])


@pytest.fixture
def b_grid(db) -> UnitGrid:
    return UnitGrid.objects.filter(code__startswith="510504").order_by("code").first()


def _inside(grid: UnitGrid) -> Point:
    p = grid.geom.point_on_surface
    return Point(p.x, p.y)


def test_a_gbk_csv_in_gcj02_with_chinese_headers_all_rows_or_none(a_grids, tmp_path):
    p, q = _inside(a_grids[0]), _inside(a_grids[1])
    gx, gy = (a.tolist() for a in crs_mod.wgs84_to_gcj02(np.array([p.x, q.x]), np.array([p.y, q.y])))
    header = "名称,类别,经度,纬度,朝向,视角,可视距离,负责人,视频流地址"
    good = f"东门路口,交通,{gx[0]!r},{gy[0]!r},90,60,120,张伟,rtsp://10.0.0.1/1"
    bad = f"西门,社会,{gx[1]!r},{gy[1]!r},90,400,120,,"  # an angle over 360
    path = tmp_path / "cameras.csv"
    path.write_bytes(f"{header}\n{good}\n{bad}\n".encode("gbk"))
    before = Camera.objects.count()

    report = import_file(layer="cameras", path=path, commit=True, crs="gcj02", allowed=A.covers_code)

    assert [(e["row"], e["field"]) for e in report.errors] == [(2, "angle")], report.errors
    assert "400" in report.errors[0]["message"] and not report.committed
    assert Camera.objects.count() == before

    path.write_bytes(f"{header}\n{good}\n{bad.replace(',400,', ',360,')}\n".encode("gbk"))
    report = import_file(layer="cameras", path=path, commit=True, crs="gcj02", allowed=A.covers_code)

    assert report.errors == [] and report.committed and report.created == 2
    east = Camera.objects.get(name="东门路口")
    assert (east.category, east.responsible_person, east.stream_url) == (
        "traffic",
        "张伟",
        "rtsp://10.0.0.1/1",
    )
    assert east.geom.distance(east.geom.__class__(p.x, p.y, srid=4326)) < 1e-6  # back in WGS84
    assert east.grid_code == a_grids[0].code and east.code.startswith("510502") and len(east.code) == 20
    assert east.sector.contains(east.geom.__class__(*_east_of(p, 60), srid=4326))
    # B's jurisdiction refuses rows standing in A
    report = import_file(layer="cameras", path=path, commit=False, crs="gcj02", allowed=B.covers_code)
    assert len(report.errors) == 2 and all("管辖范围" in e["message"] for e in report.errors)
    # ... without naming the grid the point falls in (B may not see A's grids)
    assert not any(g.code in e["message"] for e in report.errors for g in a_grids)


def _east_of(p: Point, metres: float) -> tuple[float, float]:
    from gis_core.ground import GEOD

    x, y, _ = GEOD.fwd(p.x, p.y, 90, metres)
    return float(x), float(y)


def test_bad_rows_each_get_their_reason(a_grids, b_grid, tmp_path):
    p = _inside(a_grids[0])
    base = {"类别": "公安", "朝向": 10, "视角": 90, "可视距离": 50, "geometry": p}
    features = [
        {**base, "名称": "好"},
        {**base, "名称": "类别错", "类别": "消防"},
        {**base, "名称": "方向错", "朝向": 361},
        {**base, "名称": ""},
        {**base, "名称": "不是点", "geometry": p.buffer(1e-4)},
        {**base, "名称": "编码区县不符", "设备编码": "51050400001320900009"},
        {**base, "名称": "重复一", "设备编码": CODE},
        {**base, "名称": "重复二", "设备编码": CODE},
        {**{k: v for k, v in base.items() if k != "可视距离"}, "名称": "没有距离"},
    ]
    path = tmp_path / "bad.geojson"
    gpd.GeoDataFrame(features, geometry="geometry", crs=4326).to_file(path, driver="GeoJSON")

    report = import_file(layer="cameras", path=path, commit=True, allowed=A.covers_code)

    fields = {e["row"]: e["field"] for e in report.errors}
    assert fields == {
        2: "category", 3: "direction", 4: "name", 5: "geometry", 6: "code", 7: "code", 8: "code", 9: "range_m"
    }  # fmt: skip
    assert not report.committed and not Camera.objects.filter(name="好").exists()


def test_a_stored_camera_is_updated_in_place_never_moved_and_keeps_its_stream(a_grids, b_grid, tmp_path):
    p = _inside(a_grids[0])
    camera = camera_create(
        data=CameraInput(
            code=CODE, name="旧名", category="safety", lon=p.x, lat=p.y, direction=0, angle=90,
            range_m=80, stream_url="rtsp://10.0.0.9/secret",
        ),
        jurisdiction=A,
    )  # fmt: skip
    result = export_layer(layer="cameras", fmt="geojson", queryset=Camera.objects.filter(pk=camera.pk))
    exported = json.loads(result.content)
    assert "stream_url" not in exported["features"][0]["properties"]
    exported["features"][0]["properties"].update(name="新名", direction=180)
    path = tmp_path / "round.geojson"
    path.write_text(json.dumps(exported), encoding="utf-8")

    report = import_file(layer="cameras", path=path, commit=True, allowed=A.covers_code)

    assert report.errors == [] and (report.created, report.updated) == (0, 1)
    camera.refresh_from_db()
    assert (camera.name, camera.direction, camera.stream_url) == ("新名", 180, "rtsp://10.0.0.9/secret")
    # moving it into another grid (here another jurisdiction's) is not an import's to do
    for target in (a_grids[1], b_grid):
        q = _inside(target)
        exported["features"][0]["geometry"]["coordinates"] = [q.x, q.y]
        path.write_text(json.dumps(exported), encoding="utf-8")
        report = import_file(layer="cameras", path=path, commit=True, allowed=NATION.covers_code)
        [error] = report.errors
        if target == b_grid:  # another district: its device code says it cannot be there
            assert error["field"] == "code" and "区县" in error["message"]
        else:
            assert error["field"] == "geometry" and "不能把它移到网格" in error["message"]
        camera.refresh_from_db()
        assert camera.grid_code == a_grids[0].code


def _shapefile_zip(features: list[dict], folder) -> bytes:
    folder.mkdir()
    gpd.GeoDataFrame(features, geometry="geometry", crs=4326).to_file(
        folder / "cameras.shp", driver="ESRI Shapefile", encoding="gbk"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f.name)
    return buffer.getvalue()


def _post(api, name: str, data: bytes, **fields):
    return api.post(
        "/api/v1/import/cameras", {"file": SimpleUploadedFile(name, data), **fields}, format="multipart"
    )


def test_the_import_endpoint_and_command_take_a_gbk_shapefile(api, a_grids, tmp_path):
    p = _inside(a_grids[0])
    row = {"mc": "南门", "lb": "社会", "direction": 45, "angle": 120, "range": 60, "geometry": p}
    good = _shapefile_zip([row], tmp_path / "good")

    dry = _post(api, "c.zip", good)
    assert dry.status_code == 200 and dry.json()["valid"] == 1 and not dry.json()["committed"]
    assert not Camera.objects.filter(name="南门").exists()
    done = _post(api, "c.zip", good, commit="true")
    assert done.status_code == 200 and done.json()["created"] == 1
    assert Camera.objects.get(name="南门").category == "society"

    bad = _shapefile_zip([{**row, "mc": "北门", "angle": 0}], tmp_path / "bad")
    answer = _post(api, "b.zip", bad, commit="true")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_rows" and error["details"]["errors"][0]["field"] == "angle"

    path = tmp_path / "b.zip"
    path.write_bytes(bad)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("gis_import", "cameras", str(path), "--commit", stdout=out)
    assert "[angle]" in out.getvalue()
    assert not Camera.objects.filter(name="北门").exists()
