"""Tests for the import and export endpoints (ImportView, ExportView): the same
scenarios as the service tests, through multipart uploads and downloads."""

from __future__ import annotations

import io
import json

import pyogrio
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from gis_core.tests.test_imports import TEST_COMMUNITY, bowtie, carve_community, grid_frame, write_vector
from grids.models import UnitGrid

IMPORT_URL = "/api/v1/import/grids"


def _upload(path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes())


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()["error"]
    assert body["code"] == code and body["message"]
    return body


@pytest.fixture
def grids_file(db, tmp_path):
    carve_community()
    return write_vector(grid_frame(), tmp_path / "网格.geojson")


def test_import_needs_the_import_scope(anon_api, grids_file, django_user_model):
    response = anon_api.post(IMPORT_URL, {"file": _upload(grids_file)})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"

    # a user without a membership has no jurisdiction
    user = django_user_model.objects.create_user("clerk", password="pw-Clerk-12345")
    anon_api.force_authenticate(user)
    _error(anon_api.post(IMPORT_URL, {"file": _upload(grids_file)}), 403, "no_jurisdiction")
    assert not UnitGrid.objects.filter(community_code=TEST_COMMUNITY).exists()


def test_import_dry_run_then_commit(admin_api, grids_file):
    before = UnitGrid.objects.count()

    response = admin_api.post(IMPORT_URL, {"file": _upload(grids_file)})

    assert response.status_code == 200, response.content
    report = response.json()
    assert (report["file"], report["format"], report["rows"], report["valid"]) == (
        "网格.geojson",
        "GeoJSON",
        4,
        4,
    )
    assert report["dry_run"] and not report["committed"] and report["errors"] == []
    assert UnitGrid.objects.count() == before

    response = admin_api.post(IMPORT_URL, {"file": _upload(grids_file), "commit": "true"})

    assert response.status_code == 200, response.content
    assert response.json()["committed"] and response.json()["created"] == 4
    assert UnitGrid.objects.count() == before + 4
    assert UnitGrid.objects.get(code=f"{TEST_COMMUNITY}002").name == "试验社区第2网格"


def test_import_options_crs_columns_repair(admin_api, db, tmp_path):
    carve_community()
    gdf = grid_frame().rename(columns={"code": "BH"})
    gdf.loc[3, "geometry"] = bowtie(300, 0, 400, 300)
    path = write_vector(gdf.to_crs(4544).set_crs(None, allow_override=True), tmp_path / "grids.gpkg")

    response = admin_api.post(
        IMPORT_URL,
        {
            "file": _upload(path),
            "crs": "EPSG:4544",
            "columns": json.dumps({"code": "BH"}),
            "repair": "1",
            "commit": "true",
        },
    )

    assert response.status_code == 200, response.content
    assert (response.json()["source_crs"], response.json()["created"]) == ("EPSG:4544", 4)
    assert UnitGrid.objects.get(code=f"{TEST_COMMUNITY}004").geom.valid


def test_import_bad_rows_is_400_with_report(admin_api, grids_file, tmp_path):
    gdf = grid_frame()
    gdf.loc[2, "name"] = ""
    gdf.loc[3, "geometry"] = bowtie(300, 0, 400, 300)
    path = write_vector(gdf, tmp_path / "bad.geojson")
    before = UnitGrid.objects.count()

    body = _error(admin_api.post(IMPORT_URL, {"file": _upload(path), "commit": "true"}), 400, "invalid_rows")

    report = body["details"]
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(3, "name"), (4, "geometry")]
    assert (report["rows"], report["valid"], report["committed"]) == (4, 2, False)
    assert UnitGrid.objects.count() == before


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("grids.txt", b"code,name\n", "unsupported_format"),
        ("grids.gpkg", b"not a geopackage", "unreadable_file"),
        ("grids.zip", b"", "unreadable_file"),
    ],
)
def test_import_unreadable_upload_is_400(admin_api, name, content, code):
    _error(admin_api.post(IMPORT_URL, {"file": SimpleUploadedFile(name, content)}), 400, code)


def test_import_request_errors(admin_api, grids_file, settings):
    _error(admin_api.post("/api/v1/import/roads", {"file": _upload(grids_file)}), 400, "unknown_layer")
    _error(admin_api.post(IMPORT_URL, {}), 400, "invalid")
    _error(admin_api.post(IMPORT_URL, {"file": _upload(grids_file), "columns": "[1]"}), 400, "invalid")
    _error(admin_api.post(IMPORT_URL, {"file": _upload(grids_file), "crs": "mars-2"}), 400, "unknown_crs")
    empty = SimpleUploadedFile("empty.geojson", b'{"type": "FeatureCollection", "features": []}')
    _error(admin_api.post(IMPORT_URL, {"file": empty}), 400, "invalid_rows")

    settings.CIVGRID = {**settings.CIVGRID, "IMPORT_MAX_BYTES": 100}
    _error(admin_api.post(IMPORT_URL, {"file": _upload(grids_file), "commit": "true"}), 413, "too_large")
    assert not UnitGrid.objects.filter(community_code=TEST_COMMUNITY).exists()


# --------------------------------------------------------------------------- export


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("geojson", "application/geo+json"), ("gpkg", "application/geopackage+sqlite3"), ("csv", "text/csv")],
)
def test_export_formats(api, tmp_path, fmt, content_type):
    street = "510502001000"  # 南城街道
    response = api.get(f"/api/v1/export/grids?format={fmt}&region={street[:9]}")

    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith(content_type)
    assert response["Content-Disposition"] == f'attachment; filename="grids.{fmt}"'
    path = tmp_path / f"grids.{fmt}"
    path.write_bytes(response.content)
    frame = pyogrio.read_dataframe(path) if fmt != "csv" else None
    codes = (
        list(frame["code"])
        if frame is not None
        else [
            line.split(",")[0] for line in io.StringIO(response.content.decode("utf-8-sig")).readlines()[1:]
        ]
    )
    expected = list(UnitGrid.objects.filter(street_code=street).values_list("code", flat=True))
    assert sorted(codes) == sorted(expected) and expected


def test_export_defaults_and_errors(api):
    response = api.get("/api/v1/export/regions?region=510502")
    assert response.status_code == 200 and response["Content-Type"] == "application/geo+json"
    features = json.loads(response.content)["features"]
    assert features and all(f["properties"]["code"].startswith("510502") for f in features)

    _error(api.get("/api/v1/export/grids?format=kml"), 400, "unsupported_format")
    _error(api.get("/api/v1/export/grids?crs=utm48"), 400, "unknown_crs")
    gcj = api.get("/api/v1/export/grids?format=csv&region=510502&crs=gcj02")
    assert gcj.status_code == 200 and gcj["Content-Disposition"] == 'attachment; filename="grids.gcj02.csv"'

    _error(api.get("/api/v1/export/roads"), 400, "unknown_layer")
    _error(api.get("/api/v1/export/grids?region=51x"), 400, "invalid")
