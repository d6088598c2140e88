"""Tests for the gis_import and gis_export commands: the import/export scenarios through the CLI."""

from __future__ import annotations

import io

import pyogrio
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gis_core.tests.test_imports import (
    TEST_COMMUNITY,
    bowtie,
    carve_community,
    grid_frame,
    write_csv,
    write_shapezip,
    write_vector,
)
from grids.models import UnitGrid


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def community(db):
    return carve_community()


def test_import_dry_run_then_commit(community, tmp_path):
    path = write_shapezip(
        grid_frame().rename(columns={"code": "网格编码", "name": "网格名称"}),
        tmp_path / "g.zip",
        encoding="gbk",
        cpg=False,
    )
    before = UnitGrid.objects.count()

    out = _run("gis_import", "grids", str(path))

    assert "Shapefile" in out and "EPSG:4326" in out and "4 行，有效 4 行" in out
    assert "试运行（dry run），未写入；加 --commit 写入" in out
    assert UnitGrid.objects.count() == before

    out = _run("gis_import", "grids", str(path), "--commit")

    assert "新建 4，更新 0" in out
    assert UnitGrid.objects.get(code=f"{TEST_COMMUNITY}001").name == "试验社区第1网格"


def test_import_options(community, tmp_path):
    gdf = grid_frame().rename(columns={"code": "BH", "name": "MC"})
    gdf.loc[0, "geometry"] = bowtie(0, 0, 100, 300)
    path = write_csv(gdf.to_crs(4544).set_crs(None, allow_override=True), tmp_path / "g.csv", encoding="gbk")

    out = _run(
        "gis_import",
        "grids",
        str(path),
        "--crs",
        "EPSG:4544",
        "--column",
        "code=BH",
        "--column",
        "name=MC",
        "--repair",
        "--commit",
        "--encoding",
        "gbk",
    )

    assert "EPSG:4544" in out and "新建 4" in out
    assert UnitGrid.objects.get(code=f"{TEST_COMMUNITY}001").geom.valid


def test_import_bad_rows_lists_each_and_fails(community, tmp_path):
    gdf = grid_frame()
    gdf.loc[1, "code"] = "123"
    gdf.loc[3, "geometry"] = bowtie(300, 0, 400, 300)
    path = write_vector(gdf, tmp_path / "g.geojson")
    before = UnitGrid.objects.count()
    out = io.StringIO()

    with pytest.raises(CommandError, match="2 处错误，未写入任何数据"):
        call_command("gis_import", "grids", str(path), "--commit", stdout=out)

    lines = out.getvalue().splitlines()
    assert any(line.startswith("第 2 行 [code]: 网格编码应为 15 位数字") for line in lines)
    assert any(line.startswith("第 4 行 [geometry]: 网格边界无效") for line in lines)
    assert UnitGrid.objects.count() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["grids", "missing.txt"], "不支持的文件类型"),
        (["grids", "{tmp}/g.csv", "--crs", "mars-2"], "无法识别坐标系"),
        (["grids", "{tmp}/g.csv", "--column", "code"], "--column 应为"),
        (["grids", "{tmp}/g.csv", "--column", "colour=code"], "未知字段"),
        (["grids", "{tmp}/broken.gpkg"], "无法读取"),
    ],
)
def test_import_invalid_input_is_command_error(community, tmp_path, args, message):
    write_csv(grid_frame(), tmp_path / "g.csv")
    (tmp_path / "broken.gpkg").write_bytes(b"broken")
    with pytest.raises(CommandError, match=message):
        _run("gis_import", *[a.format(tmp=tmp_path) for a in args])


def test_import_unknown_layer_is_refused(db):
    with pytest.raises(CommandError, match="roads"):
        _run("gis_import", "roads", "x.geojson")


@pytest.mark.parametrize(
    ("name", "fmt"), [("out.geojson", None), ("out.gpkg", None), ("out.csv", None), ("out.dat", "gpkg")]
)
def test_export(db, tmp_path, name, fmt):
    path = tmp_path / name
    args = ["gis_export", "grids", str(path), "--region", "510502"]
    if fmt:
        args += ["--format", fmt]

    out = _run(*args)

    assert str(path) in out
    expected = UnitGrid.objects.filter(district_code="510502000000").count()
    if path.suffix == ".csv":
        content = path.read_bytes()
        assert (
            content.startswith(b"\xef\xbb\xbf")
            and len(content.decode("utf-8-sig").splitlines()) == expected + 1
        )
    else:
        if fmt:  # --format wins over the extension; GDAL wants .gpkg to read it back quietly
            path = path.rename(path.with_suffix(".gpkg"))
        frame = pyogrio.read_dataframe(path)
        assert len(frame) == expected and all(frame["code"].str.startswith("510502"))


def test_export_then_import_round_trip(db, tmp_path):
    path = tmp_path / "regions.gpkg"
    _run("gis_export", "regions", str(path), "--region", "5105")
    out = _run("gis_import", "regions", str(path))
    assert "GeoPackage" in out and "试运行" in out


def test_export_errors(db, tmp_path):
    with pytest.raises(CommandError, match="--format"):
        _run("gis_export", "grids", str(tmp_path / "out.kml"))
    with pytest.raises(CommandError, match="不是行政区划代码"):
        _run("gis_export", "grids", str(tmp_path / "out.csv"), "--region", "51x")
