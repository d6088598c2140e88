"""Tests for gis_core.imports (readers, service) with the ``regions`` and ``grids`` layers.

Every file is a real file written with geopandas/pyogrio into tmp_path; every
import runs against the real PostGIS test database. Grids are imported into a
test community carved out east of the demo city (泸州), so expected areas and
coordinates are known exactly.

The helpers at the top (``carve_community``, ``grid_frame``, the writers) are
also used by the export, API, command and grids tests.
"""

from __future__ import annotations

import math
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon

from gis_core import crs as crs_mod
from gis_core.errors import InvalidInput
from gis_core.imports.service import import_file
from gis_core.models import Region
from gis_core.tests.factories import CommunityFactory, to_geos
from grids.models import UnitGrid

# --------------------------------------------------------------------------- shared helpers

# East of the demo city (105.43–105.46°E, 28.85–28.89°N): nothing of the demo lies here.
ORIGIN = (105.50, 28.95)
TEST_STREET = "510502003000"  # 大山坪街道 (江阳区): in the gazetteer, no demo communities
TEST_COMMUNITY = "510502003901"
COMMUNITY_SIZE = (400.0, 300.0)  # metres, east × north
_M_PER_DEG_LAT = 110_850.0


def lonlat(x: float, y: float) -> tuple[float, float]:
    """Local metres east/north of ORIGIN → lon/lat (flat-earth; tests compare with exact ground areas)."""
    lon0, lat0 = ORIGIN
    return lon0 + x / (_M_PER_DEG_LAT * math.cos(math.radians(lat0))), lat0 + y / _M_PER_DEG_LAT


def local_polygon(coords: list[tuple[float, float]], holes=()) -> Polygon:
    return Polygon([lonlat(x, y) for x, y in coords], [[lonlat(x, y) for x, y in h] for h in holes])


def local_box(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return local_polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


def bowtie(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """A self-intersecting ring (two triangles touching in the middle)."""
    return local_polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])


def carve_community(
    code: str = TEST_COMMUNITY, name: str = "试验社区", box: tuple[float, ...] = (0, 0, *COMMUNITY_SIZE)
) -> Region:
    """A community with a known rectangular boundary (local metres) under a real street of the gazetteer."""
    return CommunityFactory(
        street_code=f"{code[:9]}000",
        serial=int(code[9:]),
        name=name,
        geom=to_geos(MultiPolygon([local_box(*box)])),
    )


def grid_frame(community: str = TEST_COMMUNITY, n: int = 4, crs: int | None = 4326) -> gpd.GeoDataFrame:
    """``n`` strip grids (west → east) exactly covering the test community."""
    width = COMMUNITY_SIZE[0] / n
    return gpd.GeoDataFrame(
        {
            "code": [f"{community}{i + 1:03d}" for i in range(n)],
            "name": [f"试验社区第{i + 1}网格" for i in range(n)],
            "kind": ["一般" if i % 2 else "重点" for i in range(n)],
            "households": [100 + 7 * i for i in range(n)],
            "population": [250 + 11 * i for i in range(n)],
        },
        geometry=[local_box(i * width, 0, (i + 1) * width, COMMUNITY_SIZE[1]) for i in range(n)],
        crs=crs,
    )


def write_vector(gdf: gpd.GeoDataFrame, path: Path, **kwargs) -> Path:
    with warnings.catch_warnings():
        # files without a CRS are written on purpose
        warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
        gdf.to_file(path, engine="pyogrio", **kwargs)
    return path


def write_csv(gdf: gpd.GeoDataFrame, path: Path, encoding: str = "utf-8") -> Path:
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    frame["wkt"] = [g.wkt for g in gdf.geometry]
    frame.to_csv(path, index=False, encoding=encoding)
    return path


def write_shapezip(gdf: gpd.GeoDataFrame, path: Path, encoding: str = "utf-8", cpg: bool = True) -> Path:
    """A zipped Shapefile; without ``cpg`` the code page file is left out, as many Chinese tools do."""
    folder = path.with_suffix("")
    folder.mkdir()
    gdf.to_file(folder / "grids.shp", engine="pyogrio", encoding=encoding)
    if not cpg:
        (folder / "grids.cpg").unlink()
    with zipfile.ZipFile(path, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f.name)
    return path


def hausdorff(a, b) -> float:
    return shapely.hausdorff_distance(a, b)


def db_geom(grid: UnitGrid):
    return shapely.from_wkb(bytes(grid.geom.wkb))


def grid_count() -> int:
    return UnitGrid.objects.count()


@pytest.fixture
def community(db) -> Region:
    return carve_community()


# --------------------------------------------------------------------------- each format

CHINESE_COLUMNS = {
    "code": "网格编码",
    "name": "网格名称",
    "kind": "网格类型",
    "households": "户数",
    "population": "人口",
}


def _geojson(gdf, tmp):
    return write_vector(gdf, tmp / "grids.geojson")


def _gpkg(gdf, tmp):
    return write_vector(gdf, tmp / "grids.gpkg", layer="网格")


def _shp_utf8(gdf, tmp):
    return write_shapezip(gdf, tmp / "grids.zip", encoding="utf-8")


def _shp_utf8_no_cpg(gdf, tmp):
    return write_shapezip(gdf, tmp / "grids.zip", encoding="utf-8", cpg=False)


def _shp_gbk_no_cpg(gdf, tmp):
    # Chinese field names fit the 10-byte dBASE limit in GBK (2 bytes per character)
    return write_shapezip(gdf.rename(columns=CHINESE_COLUMNS), tmp / "grids.zip", encoding="gbk", cpg=False)


def _csv_utf8(gdf, tmp):
    return write_csv(gdf, tmp / "grids.csv")


def _csv_gbk(gdf, tmp):
    return write_csv(gdf.rename(columns=CHINESE_COLUMNS), tmp / "grids.csv", encoding="gbk")


FORMATS = [
    pytest.param(_geojson, "GeoJSON", id="geojson"),
    pytest.param(_gpkg, "GeoPackage", id="gpkg"),
    pytest.param(_shp_utf8, "Shapefile", id="shp-utf8"),
    pytest.param(_shp_utf8_no_cpg, "Shapefile", id="shp-utf8-no-cpg"),
    pytest.param(_shp_gbk_no_cpg, "Shapefile", id="shp-gbk-no-cpg"),
    pytest.param(_csv_utf8, "CSV", id="csv-wkt-utf8"),
    pytest.param(_csv_gbk, "CSV", id="csv-wkt-gbk"),
]


@pytest.mark.parametrize(("writer", "fmt"), FORMATS)
def test_import_grids_each_format_dry_run_then_commit(community, tmp_path, writer, fmt):
    gdf = grid_frame()
    path = writer(gdf, tmp_path)
    before = grid_count()

    dry = import_file(layer="grids", path=path)
    assert (dry.format, dry.rows, dry.valid, dry.errors) == (fmt, 4, 4, [])
    assert dry.dry_run and not dry.committed and (dry.created, dry.updated) == (0, 0)
    assert grid_count() == before

    report = import_file(layer="grids", path=path, commit=True)
    assert report.errors == []
    assert report.committed and (report.created, report.updated) == (4, 0)
    assert grid_count() == before + 4
    grids = {g.code: g for g in UnitGrid.objects.filter(community_code=TEST_COMMUNITY)}
    for row in gdf.itertuples():
        grid = grids[row.code]
        assert grid.name == row.name  # Chinese intact, whatever the file encoding
        assert grid.kind == ("key" if row.kind == "重点" else "general")
        assert (grid.households, grid.population) == (row.households, row.population)
        assert hausdorff(db_geom(grid), row.geometry) < 1e-9

    again = import_file(layer="grids", path=path, commit=True)
    assert (again.created, again.updated) == (0, 4)
    assert grid_count() == before + 4


def test_import_regions_geojson_creates_community_with_boundary(db, tmp_path):
    geom = local_box(0, 0, 250, 250)
    gdf = gpd.GeoDataFrame(
        {"区划代码": [TEST_COMMUNITY], "名称": ["新建社区"], "别名": ["老街社区、河边村"]},
        geometry=[geom],
        crs=4326,
    )
    path = write_vector(gdf, tmp_path / "regions.geojson")

    dry = import_file(layer="regions", path=path)
    assert (dry.valid, dry.errors) == (1, [])
    assert not Region.objects.filter(code=TEST_COMMUNITY).exists()

    report = import_file(layer="regions", path=path, commit=True)
    assert (report.created, report.updated) == (1, 0)
    region = Region.objects.get(code=TEST_COMMUNITY)
    assert (region.name, region.level, region.parent.code) == ("新建社区", 5, TEST_STREET)
    assert sorted(region.aliases) == ["河边村", "老街社区"]
    assert hausdorff(shapely.from_wkb(bytes(region.geom.wkb)), geom) < 1e-9


def test_import_regions_csv_with_lonlat_points_is_rejected(db, tmp_path):
    path = tmp_path / "regions.csv"
    path.write_text(f"code,name,lon,lat\n{TEST_COMMUNITY},点位社区,105.5,28.95\n", encoding="utf-8")
    before = Region.objects.count()

    report = import_file(layer="regions", path=path, commit=True)

    assert report.valid == 0 and not report.committed
    [error] = report.errors
    assert (error["row"], error["field"]) == (1, "geometry")
    assert "Point" in error["message"] and "面" in error["message"]
    assert Region.objects.count() == before


def test_import_regions_bad_rows_all_reported(db, tmp_path):
    box = local_box(0, 0, 100, 100).wkt
    path = tmp_path / "regions.csv"
    path.write_text(
        "code,name,wkt\n"
        f'{TEST_COMMUNITY},好社区,"{box}"\n'
        f'51050200390,坏代码,"{box}"\n'
        f'510502003902,,"{box}"\n'
        f'510599999901,无上级,"{box}"\n'
        f'{TEST_COMMUNITY},重复,"{box}"\n',
        encoding="utf-8",
    )
    before = Region.objects.count()
    report = import_file(layer="regions", path=path, commit=True)
    assert [(e["row"], e["field"]) for e in report.errors] == [
        (1, "code"),
        (2, "code"),
        (3, "name"),
        (4, "code"),
        (5, "code"),
    ]
    assert "重复" in report.errors[0]["message"] and "上级区划" in report.errors[3]["message"]
    assert not report.committed and Region.objects.count() == before


# --------------------------------------------------------------------------- coordinate systems


def test_gpkg_in_cgcs2000_gauss_kruger_is_reprojected_to_wgs84(community, tmp_path):
    from pyproj import CRS

    gk = CRS.from_epsg(4544)  # CGCS2000 / 3-degree Gauss-Kruger CM 105E
    west, _, east, _ = gk.area_of_use.bounds
    assert west <= ORIGIN[0] <= east
    gdf = grid_frame()
    path = write_vector(gdf.to_crs(gk), tmp_path / "grids.gpkg")

    report = import_file(layer="grids", path=path, commit=True)

    assert report.errors == [] and report.source_crs == "EPSG:4544"
    for row in gdf.itertuples():
        assert hausdorff(db_geom(UnitGrid.objects.get(code=row.code)), row.geometry) < 1e-7


def test_gcj02_file_is_converted_with_crs_option(community, tmp_path):
    gdf = grid_frame()
    mars = gdf.set_geometry([crs_mod.transform_geometry(g, "gcj02", inverse=True) for g in gdf.geometry])
    assert hausdorff(mars.geometry.iloc[0], gdf.geometry.iloc[0]) > 1e-3  # hundreds of metres off
    path = write_vector(mars, tmp_path / "mars.geojson")

    report = import_file(layer="grids", path=path, crs="gcj02", commit=True)

    assert report.errors == [] and report.source_crs == "gcj02"
    for row in gdf.itertuples():
        assert hausdorff(db_geom(UnitGrid.objects.get(code=row.code)), row.geometry) < 1e-6


@pytest.mark.parametrize("suffix", [".gpkg", ".csv", ".geojson"])
def test_projected_coordinates_without_crs_are_refused(community, tmp_path, suffix):
    projected = grid_frame().to_crs(4544).set_crs(None, allow_override=True)
    path = tmp_path / f"grids{suffix}"
    if suffix == ".csv":
        write_csv(projected, path)
    else:
        # GeoJSON has no CRS member here, so GDAL reads it as WGS84 (RFC 7946)
        write_vector(projected, path)

    with pytest.raises(InvalidInput) as exc:
        import_file(layer="grids", path=path)
    assert exc.value.code == "unknown_crs"
    assert "经纬度" in exc.value.message and "crs" in exc.value.message

    report = import_file(layer="grids", path=path, crs="EPSG:4544")
    assert (report.valid, report.errors, report.source_crs) == (4, [], "EPSG:4544")


def test_given_crs_overrides_the_files_crs(community, tmp_path):
    # a file labelled with the wrong CRS: lon/lat coordinates declared as Gauss-Kruger metres
    wrong = grid_frame().set_crs(4544, allow_override=True)
    path = write_vector(wrong, tmp_path / "grids.gpkg")
    assert import_file(layer="grids", path=path).valid == 0
    report = import_file(layer="grids", path=path, crs="wgs84")
    assert (report.valid, report.errors) == (4, [])


def test_unknown_crs_option(community, tmp_path):
    path = write_vector(grid_frame(), tmp_path / "grids.geojson")
    with pytest.raises(InvalidInput) as exc:
        import_file(layer="grids", path=path, crs="mars-2")
    assert exc.value.code == "unknown_crs"


# --------------------------------------------------------------------------- bad files and rows


def _bad_rows_csv(path: Path) -> Path:
    c = TEST_COMMUNITY
    box = [local_box(i * 40, 0, (i + 1) * 40, 40).wkt for i in range(10)]
    lines = [
        "code,name,kind,households,wkt",
        f'{c}001,一号网格,一般,10,"{box[0]}"',  # 1 duplicated by row 9
        f'{c}0002,坏编码,一般,10,"{box[1]}"',  # 2 16 digits
        f'{c}003,三号网格,重点,10,"{box[2]}"',  # 3 good
        f'{c}004,,一般,10,"{box[3]}"',  # 4 no name
        f'{c}005,五号网格,一般,10,"{bowtie(200, 0, 240, 40).wkt}"',  # 5 self-intersection
        f'510502003999006,六号网格,一般,10,"{box[5]}"',  # 6 unknown community
        f'{c}007,七号网格,一般,很多,"{box[6]}"',  # 7 not an integer
        f'{c}008,八号网格,特殊,10,"{box[7]}"',  # 8 unknown kind
        f'{c}001,九号网格,一般,10,"{box[8]}"',  # 9 duplicate code
        f'{c}010,十号网格,一般,10.0,"{box[9]}"',  # 10 good
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_every_bad_row_is_reported_and_nothing_written(community, tmp_path):
    path = _bad_rows_csv(tmp_path / "bad.csv")
    before = grid_count()

    report = import_file(layer="grids", path=path, commit=True)

    got = [(e["row"], e["field"]) for e in report.errors]
    assert got == [
        (1, "code"),
        (2, "code"),
        (4, "name"),
        (5, "geometry"),
        (6, "community_code"),
        (7, "households"),
        (8, "kind"),
        (9, "code"),
    ]
    messages = {e["row"]: e["message"] for e in report.errors}
    assert "重复" in messages[1] and "重复" in messages[9]
    assert "15 位数字" in messages[2]
    assert "名称" in messages[4]
    assert "无效" in messages[5] and "Self-intersection" in messages[5]
    assert "510502003999" in messages[6] and "不存在" in messages[6]
    assert "整数" in messages[7] and "很多" in messages[7]
    assert "特殊" in messages[8]
    assert (report.rows, report.valid) == (10, 2)
    assert not report.committed and report.created == 0
    assert grid_count() == before


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (("5105020039", "坏编码", "一般", "1"), "code"),
        ((f"{TEST_COMMUNITY}002", "", "一般", "1"), "name"),
        (("510502003999002", "无社区", "一般", "1"), "community_code"),
        ((f"{TEST_COMMUNITY}002", "非整数", "一般", "2.5"), "households"),
        ((f"{TEST_COMMUNITY}002", "类型错", "key2", "1"), "kind"),
    ],
)
def test_one_bad_row_among_good_ones_blocks_the_whole_file(community, tmp_path, row, field):
    gdf = grid_frame(n=3).astype({"households": str})
    gdf.loc[1, ["code", "name", "kind", "households"]] = row
    path = write_vector(gdf, tmp_path / "grids.geojson")
    before = grid_count()
    report = import_file(layer="grids", path=path, commit=True)
    assert [(e["row"], e["field"]) for e in report.errors] == [(2, field)]
    assert (report.valid, report.committed) == (2, False)
    assert grid_count() == before


def test_repair_fixes_a_bowtie(community, tmp_path):
    gdf = grid_frame(n=2)
    gdf.loc[1, "geometry"] = bowtie(200, 0, 400, 300)
    path = write_vector(gdf, tmp_path / "grids.geojson")
    assert [e["field"] for e in import_file(layer="grids", path=path).errors] == ["geometry"]

    report = import_file(layer="grids", path=path, repair=True, commit=True)

    assert report.errors == [] and report.created == 2
    grid = UnitGrid.objects.get(code=f"{TEST_COMMUNITY}002")
    assert grid.geom.valid and grid.geom.geom_type == "MultiPolygon" and len(grid.geom) == 2
    assert grid.area_m2 == pytest.approx(200 * 300 / 2, rel=0.01)


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("grids.txt", b"code,name\n", "unsupported_format"),
        ("grids.kml", b"<kml/>", "unsupported_format"),
        ("grids.geojson", b"{not json", "unreadable_file"),
        ("grids.gpkg", b"SQLite format 3\x00 truncated", "unreadable_file"),
        ("grids.zip", b"PK\x03\x04 truncated", "unreadable_file"),
        ("grids.geojson", b"", "unreadable_file"),
        ("grids.csv", b"", "unreadable_file"),
        ("grids.csv", b"code,name,wkt\n\xff\xfe\xff\xfe\x80\n", "bad_encoding"),
    ],
)
def test_unreadable_files_raise_invalid_input(db, tmp_path, name, content, code):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidInput) as exc:
        import_file(layer="grids", path=path)
    assert exc.value.code == code and exc.value.message


def test_csv_encoding_option(community, tmp_path):
    gdf = grid_frame()
    gdf["name"] = ["臺灣網格", "廣東網格", "試驗網格", "雞籠網格"]  # traditional characters, Big5
    gdf["kind"] = "key"
    path = write_csv(gdf, tmp_path / "big5.csv", encoding="big5")

    report = import_file(layer="grids", path=path, encoding="big5", commit=True)

    assert report.errors == []
    assert UnitGrid.objects.get(code=f"{TEST_COMMUNITY}001").name == "臺灣網格"
    with pytest.raises(InvalidInput) as exc:
        import_file(layer="grids", path=path, encoding="utf-8")
    assert exc.value.code == "bad_encoding"
    with pytest.raises(InvalidInput) as exc:
        import_file(layer="grids", path=path, encoding="klingon")
    assert exc.value.code == "bad_encoding"


def test_file_without_features_is_an_error(db, tmp_path):
    path = tmp_path / "empty.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    report = import_file(layer="grids", path=path, commit=True)
    assert report.rows == 0 and not report.committed
    assert [e["message"] for e in report.errors] == ["文件中没有任何要素"]


def test_bad_wkt_is_a_row_error(community, tmp_path):
    gdf = grid_frame(n=2)
    path = write_csv(gdf, tmp_path / "grids.csv")
    text = path.read_text(encoding="utf-8").splitlines()
    text[2] = f'{TEST_COMMUNITY}002,坏WKT,一般,1,1,"POLYGON((1 2, 3"'
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    report = import_file(layer="grids", path=path)
    assert [(e["row"], e["field"]) for e in report.errors] == [(2, "geometry")]
    assert "WKT" in report.errors[0]["message"]


def test_unknown_layer(db, tmp_path):
    with pytest.raises(InvalidInput) as exc:
        import_file(layer="roads", path=tmp_path / "x.geojson")
    assert exc.value.code == "unknown_layer" and "grids" in exc.value.message


# --------------------------------------------------------------------------- column mapping


def test_chinese_column_names_are_recognised(community, tmp_path):
    gdf = grid_frame().rename(columns=CHINESE_COLUMNS)
    path = write_vector(gdf, tmp_path / "grids.gpkg")
    report = import_file(layer="grids", path=path, commit=True)
    assert report.errors == [] and report.created == 4
    grid = UnitGrid.objects.get(code=f"{TEST_COMMUNITY}004")
    assert (grid.name, grid.kind, grid.households, grid.population) == (
        "试验社区第4网格",
        "general",
        121,
        283,
    )


def test_explicit_column_mapping(community, tmp_path):
    # WGBM (网格编码 in pinyin initials) is a known alias; BH and MC are not
    gdf = grid_frame().rename(columns={"code": "BH", "name": "MC", "households": "HU"})
    path = write_csv(gdf, tmp_path / "grids.csv")
    unmapped = import_file(layer="grids", path=path)
    assert {e["field"] for e in unmapped.errors} == {"code"}

    report = import_file(
        layer="grids", path=path, columns={"code": "BH", "name": "mc", "households": "HU"}, commit=True
    )

    assert report.errors == [] and report.created == 4
    assert UnitGrid.objects.get(code=f"{TEST_COMMUNITY}001").households == 100


def test_column_mapping_errors(community, tmp_path):
    path = write_csv(grid_frame(), tmp_path / "grids.csv")
    with pytest.raises(InvalidInput) as exc:
        import_file(layer="grids", path=path, columns={"colour": "code"})
    assert exc.value.code == "unknown_column"
    with pytest.raises(InvalidInput) as exc:
        import_file(layer="grids", path=path, columns={"code": "BH"})
    assert exc.value.code == "unknown_column" and "BH" in exc.value.message


def test_wgbm_alias_is_mapped_without_options(community, tmp_path):
    path = write_csv(grid_frame().rename(columns={"code": "WGBM"}), tmp_path / "grids.csv")
    assert import_file(layer="grids", path=path, columns={"code": "WGBM"}).errors == []
    assert import_file(layer="grids", path=path).errors == []
