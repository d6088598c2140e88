"""Tests for gis_core.imports.service.export_layer: GeoJSON, GeoPackage, CSV, read back."""

from __future__ import annotations

import io

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from gis_core.errors import InvalidInput
from gis_core.imports.service import export_layer, import_file
from gis_core.models import Region
from grids.models import UnitGrid

DISTRICT = "510502"  # 江阳区 of the demo city
GRID_PROPERTIES = ["code", "name", "community_code", "kind", "households", "population", "area_m2"]


def _read_back(content: bytes, fmt: str, tmp_path) -> gpd.GeoDataFrame:
    if fmt == "csv":
        assert content.startswith(b"\xef\xbb\xbf")  # BOM: Excel on Chinese Windows reads UTF-8
        frame = pd.read_csv(
            io.BytesIO(content), encoding="utf-8-sig", dtype={"code": str, "community_code": str}
        )
        return gpd.GeoDataFrame(frame.drop(columns="wkt"), geometry=shapely.from_wkt(frame["wkt"]), crs=4326)
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(content)
    return pyogrio.read_dataframe(path)


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "csv"])
def test_export_grids_reads_back_identical(db, tmp_path, fmt):
    grids = UnitGrid.objects.in_region(DISTRICT)
    result = export_layer(layer="grids", fmt=fmt, queryset=grids)
    assert result.filename == f"grids.{fmt}"

    frame = _read_back(result.content, fmt, tmp_path)

    assert len(frame) == grids.count() > 0
    assert [c for c in frame.columns if c != "geometry"] == GRID_PROPERTIES
    by_code = {g.code: g for g in grids}
    for row in frame.itertuples():
        grid = by_code[row.code]
        assert (row.name, row.community_code, row.kind) == (grid.name, grid.community_code, grid.kind)
        assert "社区" in row.name  # Chinese intact
        assert (row.households, row.population) == (grid.households, grid.population)
        assert row.area_m2 == pytest.approx(grid.area_m2, abs=0.05)
        assert shapely.hausdorff_distance(row.geometry, shapely.from_wkb(bytes(grid.geom.wkb))) < 1e-7


def test_export_whole_layer_and_regions(db, tmp_path):
    everything = export_layer(layer="grids", fmt="geojson")
    assert len(_read_back(everything.content, "geojson", tmp_path)) == UnitGrid.objects.count()

    regions = export_layer(layer="regions", fmt="gpkg")
    frame = _read_back(regions.content, "gpkg", tmp_path)
    assert len(frame) == Region.objects.with_geometry().count()
    city = frame.set_index("code").loc["510500000000"]
    assert (city["name"], city["level"], city["parent_code"]) == ("泸州市", 2, "510000000000")


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "csv"])
def test_export_then_reimport_round_trip(db, tmp_path, fmt):
    community = UnitGrid.objects.order_by("code").first().community_code
    grids = UnitGrid.objects.in_region(community)
    path = tmp_path / f"grids.{fmt}"
    path.write_bytes(export_layer(layer="grids", fmt=fmt, queryset=grids).content)

    report = import_file(layer="grids", path=path)

    assert report.errors == [] and report.rows == report.valid == grids.count()
    report = import_file(layer="grids", path=path, commit=True)
    assert (report.created, report.updated) == (0, grids.count())


def test_regions_round_trip(db, tmp_path):
    demo = Region.objects.filter(code__startswith="5105").with_geometry()
    path = tmp_path / "regions.csv"
    path.write_bytes(export_layer(layer="regions", fmt="csv", queryset=demo).content)
    report = import_file(layer="regions", path=path)
    assert report.errors == [] and report.valid == report.rows == demo.count()


def test_export_empty_selection(db, tmp_path):
    result = export_layer(layer="grids", fmt="geojson", queryset=UnitGrid.objects.none())
    assert len(_read_back(result.content, "geojson", tmp_path)) == 0


def test_export_bad_format_and_layer(db):
    with pytest.raises(InvalidInput) as exc:
        export_layer(layer="grids", fmt="kml")
    assert exc.value.code == "unsupported_format"
    with pytest.raises(InvalidInput) as exc:
        export_layer(layer="roads", fmt="csv")
    assert exc.value.code == "unknown_layer"


@pytest.mark.parametrize(("crs", "epsg", "suffix"), [("cgcs2000", 4490, ""), ("gcj02", None, ".gcj02")])
def test_export_in_another_coordinate_system(db, tmp_path, crs, epsg, suffix):
    """The file's coordinates are the geometry converted from WGS84 (the same conversion the API
    answers in), and the file declares its system where it has an EPSG code."""
    from gis_core.crs import transform_geometry

    grids = UnitGrid.objects.in_region(DISTRICT)
    result = export_layer(layer="grids", fmt="gpkg", queryset=grids, crs=crs)
    assert result.filename == f"grids{suffix}.gpkg"
    path = tmp_path / result.filename
    path.write_bytes(result.content)
    frame = pyogrio.read_dataframe(path)
    assert (frame.crs.to_epsg() if frame.crs else None) == epsg
    by_code = {g.code: shapely.from_wkb(bytes(g.geom.wkb)) for g in grids}
    assert len(frame) == len(by_code) > 0
    for row in frame.itertuples():
        expected = transform_geometry(by_code[row.code], crs, inverse=True)
        assert shapely.hausdorff_distance(row.geometry, expected) < 1e-9
        if crs == "gcj02":  # the offset is real: hundreds of metres, not a no-op
            assert shapely.hausdorff_distance(row.geometry, by_code[row.code]) > 1e-3
    with pytest.raises(InvalidInput, match="Unknown CRS"):
        export_layer(layer="grids", fmt="gpkg", queryset=grids, crs="epsg:3857")
