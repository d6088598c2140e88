"""grids.services.components / selectors.components, the components layer (import/export) and
the component endpoints: classification, codes, placing, representative points, photos, status,
range queries and statistics, jurisdiction, bad input (nothing half-written)."""

from __future__ import annotations

import io
import json

import pytest
import shapely
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient
from shapely.geometry import LineString, Point

from accounts.scoping import Jurisdiction
from accounts.services import user_create
from gis_core.errors import InvalidInput, NotFound
from gis_core.imports.service import export_layer, import_file
from grids.assets import CityComponent, ComponentClass, ComponentPhoto
from grids.models import UnitGrid
from grids.selectors.components import component_get
from grids.services.components import (
    ComponentInput,
    component_classes_load,
    component_create,
    component_status_set,
    component_update,
    components_upsert,
    representative_point,
)

A = Jurisdiction(region_code="510502000000")  # 江阳区
B = Jurisdiction(region_code="510504000000")  # 龙马潭区
PASSWORD = "Civgrid-Test-2024"


@pytest.fixture(autouse=True)
def classes(db):
    component_classes_load()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def _grid(prefix: str) -> UnitGrid:
    return UnitGrid.objects.filter(code__startswith=prefix).order_by("code").first()


def _inside(grid: UnitGrid) -> Point:
    return shapely.from_wkb(bytes(grid.geom.point_on_surface.wkb))


@pytest.fixture
def a_grid(db) -> UnitGrid:
    return _grid("510502")


@pytest.fixture
def b_grid(db) -> UnitGrid:
    return _grid("510504")


@pytest.fixture
def operator_api(db) -> APIClient:
    user = user_create(username="bj_operator", password=PASSWORD, roles=["operator"], region_code="510502")
    client = APIClient()
    client.force_authenticate(user)
    return client


def _png(color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(out, "PNG")
    return out.getvalue()


# ------------------------------------------------------------------ classification


def test_classification_loads_majors_and_minors_and_is_idempotent(db):
    majors = ComponentClass.objects.filter(major__isnull=True)
    assert {m.name for m in majors} >= {
        "公用设施",
        "道路交通",
        "市容环境",
        "园林绿化",
        "房屋土地",
        "其他设施",
        "扩展部件",
    }
    lamp = ComponentClass.objects.get(code="0108")
    assert (lamp.name, lamp.major.code, lamp.geometry_kind) == ("路灯", "01", "point")
    assert ComponentClass.objects.get(code="0205").geometry_kind == "line"
    before = ComponentClass.objects.count()
    assert component_classes_load() == {"created": 0, "updated": before}


def test_a_bad_classification_file_writes_nothing(db, tmp_path):
    path = tmp_path / "classes.csv"
    path.write_text(
        "code,name,geometry_kind\n09,新大类,\n0901,新小类,curve\n0999,孤儿,point\n", encoding="utf-8"
    )
    before = ComponentClass.objects.count()
    with pytest.raises(InvalidInput) as exc:
        component_classes_load(path=path)
    assert any("curve" in e for e in exc.value.details["errors"])
    assert ComponentClass.objects.count() == before
    assert not ComponentClass.objects.filter(code="09").exists()


# ------------------------------------------------------------------ writing components


def test_create_gives_the_16_digit_code_and_places_the_component(a_grid):
    first = component_create(
        data=ComponentInput(class_code="0108", geom=_inside(a_grid), name="测试路灯"), jurisdiction=A
    )
    second = component_create(data=ComponentInput(class_code="0108", geom=_inside(a_grid)), jurisdiction=A)
    assert len(first.code) == 16 and first.code.startswith("510502" + "0108")
    assert int(second.code[10:]) == int(first.code[10:]) + 1
    assert first.grid_code == a_grid.code
    assert (first.region_code, first.street_code, first.district_code) == (
        a_grid.community_code, a_grid.street_code, "510502000000"
    )  # fmt: skip
    assert first.point.equals(first.geom)


def test_a_line_component_is_placed_by_the_middle_of_the_line(a_grid):
    p = _inside(a_grid)
    line = LineString([(p.x - 0.0004, p.y), (p.x + 0.0004, p.y)])
    railing = component_create(data=ComponentInput(class_code="0205", geom=line), jurisdiction=A)
    assert railing.geom.geom_type == "LineString"
    assert railing.point.x == pytest.approx(p.x, abs=1e-9) and railing.point.y == pytest.approx(p.y, abs=1e-9)
    assert representative_point(shapely.box(0, 0, 1, 1)).within(shapely.box(0, 0, 1, 1))


@pytest.mark.parametrize(
    ("change", "code", "fragment"),
    [
        ({"class_code": "9999"}, "unknown_class", "未知的部件小类"),
        ({"class_code": "01"}, "unknown_class", "是大类"),
        ({"status": "broken"}, "invalid", "状态"),
        ({"code": "123"}, "invalid", "16 位数字"),
        ({"code": "5105040108000001"}, "code_mismatch", "区县代码"),
        ({"code": "5105020302000001"}, "code_mismatch", "小类代码"),
        ({"geom": "line"}, "invalid", "Point"),  # a line for a point class
        ({"geom": "far"}, "outside_grids", "不在任何单元网格内"),
    ],
)
def test_bad_components_are_refused_and_nothing_is_written(a_grid, change, code, fragment):
    p = _inside(a_grid)
    geom = {
        "line": LineString([(p.x, p.y), (p.x + 0.0001, p.y)]),
        "far": Point(p.x + 20, p.y),
    }.get(change.pop("geom", None), p)
    data = ComponentInput(**{"class_code": "0108", "geom": geom, **change})
    before = CityComponent.objects.count()
    with pytest.raises(InvalidInput) as exc:
        component_create(data=data, jurisdiction=A)
    assert exc.value.code == code and fragment in exc.value.message
    assert CityComponent.objects.count() == before


def test_outside_the_jurisdiction_is_refused(b_grid):
    with pytest.raises(InvalidInput) as exc:
        component_create(data=ComponentInput(class_code="0108", geom=_inside(b_grid)), jurisdiction=A)
    assert exc.value.code == "outside_jurisdiction"


def test_update_status_and_selector_scoping(a_grid, media):
    c = component_create(data=ComponentInput(class_code="0302", geom=_inside(a_grid)), jurisdiction=A)
    photo = SimpleUploadedFile("damage.png", _png(), content_type="image/png")
    changed = component_status_set(
        code=c.code, status="damaged", note="桶身破裂", jurisdiction=A, photos=[photo]
    )
    assert (changed.status, changed.note, changed.code) == ("damaged", "桶身破裂", c.code)
    assert ComponentPhoto.objects.filter(component=c).count() == 1
    assert component_get(code=c.code, jurisdiction=A).status == "damaged"
    with pytest.raises(NotFound):
        component_get(code=c.code, jurisdiction=B)
    with pytest.raises(NotFound):
        component_update(code=c.code, jurisdiction=B, status="lost")
    # a new class would no longer agree with the code
    with pytest.raises(InvalidInput) as exc:
        component_update(code=c.code, jurisdiction=A, class_code="0108")
    assert exc.value.code == "code_mismatch"


def test_a_photo_that_is_not_an_image_refuses_the_whole_change(a_grid, media):
    c = component_create(data=ComponentInput(class_code="0302", geom=_inside(a_grid)), jurisdiction=A)
    bad = SimpleUploadedFile("notes.txt", b"not an image at all", content_type="image/png")
    with pytest.raises(InvalidInput):
        component_status_set(code=c.code, status="lost", jurisdiction=A, photos=[bad])
    c.refresh_from_db()
    assert c.status == "intact" and not c.photos.exists()


def test_upsert_takes_serials_in_bulk_and_updates_by_code(a_grid):
    p = _inside(a_grid)
    created, updated = components_upsert(
        items=[ComponentInput(class_code="0402", geom=Point(p.x + i * 1e-5, p.y)) for i in range(3)]
    )
    codes = sorted(
        CityComponent.objects.filter(code__startswith="5105020402", grid_code=a_grid.code).values_list(
            "code", flat=True
        )
    )[-3:]
    assert (created, updated) == (3, 0)
    assert [int(c[10:]) for c in codes] == [int(codes[0][10:]) + i for i in range(3)]
    created, updated = components_upsert(
        items=[ComponentInput(class_code="0402", geom=p, code=codes[0], status="lost")]
    )
    assert (created, updated) == (0, 1)
    assert CityComponent.objects.get(code=codes[0]).status == "lost"


# ------------------------------------------------------------------ import / export


def test_export_then_import_round_trip_and_a_gbk_csv_with_a_bad_row(a_grid, tmp_path):
    p = _inside(a_grid)
    made = [
        component_create(data=ComponentInput(class_code="0108", geom=p, name="甲"), jurisdiction=A),
        component_create(
            data=ComponentInput(class_code="0205", geom=LineString([(p.x, p.y), (p.x + 2e-4, p.y)])),
            jurisdiction=A,
        ),
    ]
    qs = CityComponent.objects.filter(code__in=[m.code for m in made])
    for fmt in ("geojson", "gpkg", "csv"):
        result = export_layer(layer="components", fmt=fmt, queryset=qs)
        path = tmp_path / result.filename
        path.write_bytes(result.content)
        report = import_file(layer="components", path=path, commit=True, allowed=A.covers_code)
        assert report.errors == [] and (report.created, report.updated) == (0, 2), (fmt, report.as_dict())
    # a GBK CSV with Chinese headers: one good row without a code, one with an unknown class
    good, bad = f"0302,新垃圾箱,破损,POINT ({p.x} {p.y})", f"7777,怪东西,完好,POINT ({p.x} {p.y})"
    text = f"小类代码,名称,状态,wkt\n{good}\n{bad}\n"
    path = tmp_path / "gbk.csv"
    path.write_bytes(text.encode("gbk"))
    before = CityComponent.objects.count()
    report = import_file(layer="components", path=path, commit=True, encoding="gbk", allowed=A.covers_code)
    assert [e["row"] for e in report.errors] == [2] and "7777" in report.errors[0]["message"]
    assert CityComponent.objects.count() == before and not report.committed
    path.write_bytes(text.splitlines()[0].encode("gbk") + b"\n" + text.splitlines()[1].encode("gbk") + b"\n")
    report = import_file(layer="components", path=path, commit=True, encoding="gbk", allowed=A.covers_code)
    assert report.committed and report.created == 1
    new = CityComponent.objects.get(name="新垃圾箱")
    assert new.status == "damaged" and new.code.startswith("5105020302")
    # B's jurisdiction refuses the row (placed in A), by its grid when it has no code
    report = import_file(layer="components", path=path, commit=False, encoding="gbk", allowed=B.covers_code)
    assert report.errors and "管辖范围" in report.errors[0]["message"]


# ------------------------------------------------------------------ API


def test_api_create_list_detail_status_photo_and_stats(operator_api, a_grid, b_grid, media):
    p = _inside(a_grid)
    body = {
        "class_code": "0103",
        "geom": {"type": "Point", "coordinates": [p.x, p.y]},
        "name": "API 雨水井盖",
    }
    response = operator_api.post("/api/v1/components", body, format="json")
    assert response.status_code == 201, response.content
    code = response.json()["id"]
    assert response.json()["properties"]["class_name"] == "雨水井盖"
    # multipart: a status change with a photo
    response = operator_api.post(
        f"/api/v1/components/{code}/status",
        {"status": "damaged", "photos": [SimpleUploadedFile("a.png", _png(), content_type="image/png")]},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    photos = response.json()["properties"]["photos"]
    assert len(photos) == 1
    assert operator_api.get(photos[0]["url"]).status_code == 200
    assert operator_api.get(photos[0]["thumbnail_url"])["Content-Type"] == "image/jpeg"
    # list: range + class + status filters agree with the database
    expected = CityComponent.objects.filter(
        grid_code__startswith="510502", component_class__code="0103", status="damaged"
    ).count()
    listed = operator_api.get("/api/v1/components", {"class": "0103", "status": "damaged", "count": "true"})
    assert listed.json()["count"] == expected >= 1
    major = operator_api.get(
        "/api/v1/components", {"class": "01", "grid": a_grid.code, "page_size": 1000}
    ).json()
    assert code in {f["id"] for f in major["features"]}
    assert all(f["properties"]["major_code"] == "01" for f in major["features"])
    stats = operator_api.get("/api/v1/components/stats", {"by": "status", "grid": a_grid.code}).json()
    assert stats["total"] == CityComponent.objects.filter(grid_code=a_grid.code).count()
    csv_text = operator_api.get("/api/v1/components", {"grid": a_grid.code, "export": "csv"}).content.decode(
        "utf-8-sig"
    )
    assert code in csv_text and "破损" in csv_text
    # PATCH keeps the code
    response = operator_api.patch(f"/api/v1/components/{code}", {"maintainer": "排水公司"}, format="json")
    assert response.status_code == 200 and response.json()["properties"]["maintainer"] == "排水公司"
    # B: not found; classes list
    b = component_create(data=ComponentInput(class_code="0103", geom=_inside(b_grid)), jurisdiction=B)
    assert operator_api.get(f"/api/v1/components/{b.code}").json()["error"]["code"] == "not_found"
    classes = operator_api.get("/api/v1/component-classes").json()
    assert classes["count"] == 7 and any(m["code"] == "0108" for c in classes["results"] for m in c["minors"])


def test_api_bad_input_is_a_clear_400(operator_api, a_grid):
    p = _inside(a_grid)
    before = CityComponent.objects.count()
    for body, code in (
        ({"class_code": "8888", "geom": f"POINT({p.x} {p.y})"}, "unknown_class"),
        ({"class_code": "0108", "geom": "POINT(nan"}, "invalid"),
        ({"class_code": "0108"}, "invalid"),
        (
            {"class_code": "0108", "geom": json.dumps({"type": "Point", "coordinates": [p.x + 30, p.y]})},
            "outside_grids",
        ),
    ):
        response = operator_api.post("/api/v1/components", body, format="json")
        assert response.status_code == 400, response.content
        assert response.json()["error"]["code"] == code, (body, response.json())
    assert CityComponent.objects.count() == before


def test_admin_lists_components_and_changes_status_through_the_service(admin_client, a_grid):
    c = component_create(data=ComponentInput(class_code="0108", geom=_inside(a_grid)), jurisdiction=A)
    assert admin_client.get("/admin/grids/citycomponent/").status_code == 200
    assert admin_client.get("/admin/grids/camera/").status_code == 200
    response = admin_client.post(
        "/admin/grids/citycomponent/", {"action": "mark_damaged", "_selected_action": [c.pk]}, follow=True
    )
    assert response.status_code == 200
    c.refresh_from_db()
    assert c.status == "damaged"
