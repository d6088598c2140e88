"""The OpenAPI schema (drf-spectacular) generates cleanly and describes every endpoint.

A view the generator cannot describe is left out of the schema with only a warning — and so out
of the schemathesis fuzz pass (tests/test_fuzz.py) and out of what other systems can discover.
Any warning or error therefore fails here, as ``manage.py spectacular --fail-on-warn`` does.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS

TILE_PATH = "/tiles/{layer}/{z}/{x}/{y}.mvt"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    """The schema as ``manage.py spectacular`` writes it; any warning or error, or an invalid
    OpenAPI document, raises."""
    out = tmp_path_factory.mktemp("openapi") / "schema.json"
    GENERATOR_STATS.reset()  # warnings already emitted (test_fuzz collects its schema) count once
    try:
        call_command(
            "spectacular", "--fail-on-warn", "--validate", "--format", "openapi-json", "--file", str(out)
        )
    finally:
        GENERATOR_STATS.reset()
    return json.loads(out.read_text(encoding="utf-8"))


def _operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_operation_ids_are_unique(schema):
    ids = Counter(op["operationId"] for _, _, op in _operations(schema))
    assert not [i for i, n in ids.items() if n > 1]


def test_list_and_detail_views_have_their_own_ids(schema):
    ids = {(path, method): op["operationId"] for path, method, op in _operations(schema)}
    assert ids["/api/v1/cameras", "get"] == "api_v1_cameras_list"
    assert ids["/api/v1/cameras/{id}", "get"] == "api_v1_cameras_retrieve"
    assert ids["/api/v1/grid-staff", "get"] == "api_v1_grid_staff_list"
    assert ids["/api/v1/components", "get"] == "api_v1_components_list"
    assert ids["/api/v1/civilization/units", "get"] == "api_v1_civilization_units_list"


def test_tiles_are_described(schema):
    for path in (TILE_PATH, "/tiles/{layer}.json", "/tiles/", "/tiles/render/wms", "/basemap/{rest}"):
        assert "get" in schema["paths"].get(path, {}), path
    tile = schema["paths"][TILE_PATH]["get"]
    params = {p["name"]: p for p in tile["parameters"]}
    assert params["z"]["schema"] == {"type": "integer", "minimum": 0, "maximum": 24}
    assert {"layer", "x", "y", "bbox", "region"} <= set(params)
    assert "grids" in params["layer"]["schema"]["enum"]
    responses = tile["responses"]
    assert responses["200"]["content"]["application/vnd.mapbox-vector-tile"]["schema"]["format"] == "binary"
    assert "304" in responses
    error = {"$ref": "#/components/schemas/Error"}
    for code in ("400", "404"):
        assert responses[code]["content"]["application/json"]["schema"] == error
    tilejson = schema["paths"]["/tiles/{layer}.json"]["get"]["responses"]["200"]["content"]
    assert tilejson["application/json"]["schema"] == {"$ref": "#/components/schemas/TileJson"}


def test_error_shape_component(schema):
    components = schema["components"]["schemas"]
    assert components["Error"]["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
    assert set(components["ErrorDetail"]["properties"]) == {"code", "message", "details"}


def test_display_geometries_are_geojson(schema):
    components = schema["components"]["schemas"]
    # GeoFeatureModelSerializer components describe a feature; its geometry is the model's
    assert components["UnitGrid"]["properties"]["geometry"]["properties"]["type"]["enum"] == ["MultiPolygon"]
    assert components["Event"]["properties"]["geometry"]["properties"]["type"]["enum"] == ["Point"]
