"""The audit trail: writes through the API and the admin are recorded with who,
when, from where and the values before and after; the table is append-only in
the database; auditors read it scoped to their jurisdiction."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from shapely.geometry import MultiPolygon, box

from accounts.models import AuditEntry
from accounts.services import user_create
from gis_core.models import Region
from gis_core.services.regions import RegionInput, regions_upsert
from grids.models import UnitGrid
from grids.services.grids import GridInput, grids_upsert

COMMUNITY = "510502001901"  # new, under the real street 510502001000 of 江阳区
LON, LAT, HALF = 105.60, 28.95, 0.002
IMPORT_URL = "/api/v1/import/grids"
AUDIT_URL = "/api/v1/audit"
PASSWORD = "Luzhou-2026-grid"


@pytest.fixture
def community(db) -> Region:
    regions_upsert(
        items=[
            RegionInput(
                code=COMMUNITY,
                name="审计试验社区",
                geom=MultiPolygon([box(LON - HALF, LAT - HALF, LON + HALF, LAT + HALF)]),
            )
        ]
    )
    return Region.objects.get(code=COMMUNITY)


def _grids_file(tmp_path, names=("审计网格一", "审计网格二")):
    gdf = gpd.GeoDataFrame(
        {"code": [f"{COMMUNITY}001", f"{COMMUNITY}002"], "name": list(names)},
        geometry=[
            box(LON - HALF, LAT - HALF, LON, LAT + HALF),
            box(LON, LAT - HALF, LON + HALF, LAT + HALF),
        ],
        crs=4326,
    )
    path = tmp_path / "grids.geojson"
    gdf.to_file(path, engine="pyogrio")
    return path


def _import(client: APIClient, path) -> dict:
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    response = client.post(IMPORT_URL, {"file": upload, "commit": "true"}, REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200, response.content
    assert response.json()["committed"]
    return response.json()


def _grid_entries():
    return AuditEntry.objects.filter(object_type="grids.unitgrid", object_id__startswith=COMMUNITY)


# ------------------------------------------------------------------ API writes


def test_import_through_the_api_is_audited(admin_api, community, tmp_path):
    assert not _grid_entries().exists()

    report = _import(admin_api, _grids_file(tmp_path))

    assert report["created"] == 2
    created = {e.object_id: e for e in _grid_entries()}
    assert set(created) == {f"{COMMUNITY}001", f"{COMMUNITY}002"}
    for code, entry in created.items():
        assert entry.action == "create"
        assert (entry.actor, entry.actor_user_id is not None) == ("user:admin", True)
        assert (entry.ip, entry.source, entry.path) == ("127.0.0.1", "api", IMPORT_URL)
        assert entry.region_code == code
        assert entry.before is None
        assert entry.after["code"] == code and entry.after["community_code"] == COMMUNITY
        assert entry.after["name"] and entry.after["geom"]["type"] == "MultiPolygon"
        assert timezone.now() - entry.at < dt.timedelta(minutes=1)
    assert created[f"{COMMUNITY}001"].after["name"] == "审计网格一"

    # re-import with one name changed: one update (the unchanged grid is not recorded)
    report = _import(admin_api, _grids_file(tmp_path, names=("审计网格一（改）", "审计网格二")))

    assert report["updated"] == 2
    updates = list(_grid_entries().filter(action="update"))
    assert [e.object_id for e in updates] == [f"{COMMUNITY}001"]
    (update,) = updates
    assert update.before["name"] == "审计网格一" and update.after["name"] == "审计网格一（改）"
    assert update.before["geom"] == update.after["geom"]
    assert _grid_entries().count() == 3


def test_api_key_writes_are_attributed_to_the_key(community, tmp_path):
    from accounts.services import apikey_issue

    issued = apikey_issue(name="对接系统", scopes=["import:write"], region_code="510502")
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    _import(client, _grids_file(tmp_path))
    actors = set(_grid_entries().values_list("actor", "actor_user_id", "source"))
    assert actors == {(f"key:{issued.key.prefix}", None, "api")}


# ------------------------------------------------------------------ admin writes


@pytest.fixture
def admin_client(db, django_user_model) -> Client:
    boss = django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    client = Client(REMOTE_ADDR="10.0.0.7")
    client.force_login(boss)
    return client


def _membership_management(prefix: str = "membership") -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": "0",
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1",
    }


def test_admin_user_add_and_change_are_audited_without_the_password(admin_client, django_user_model):
    response = admin_client.post(
        "/admin/auth/user/add/",
        {
            "username": "clerk",
            "password1": "Clerk-pass-2026",
            "password2": "Clerk-pass-2026",
            "usable_password": "true",
            **_membership_management(),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    clerk = django_user_model.objects.get(username="clerk")

    entries = AuditEntry.objects.filter(object_type="auth.user", object_id=str(clerk.pk))
    create = entries.get(action="create")
    assert (create.actor, create.source, create.ip) == ("user:boss", "admin", "10.0.0.7")
    assert create.path == "/admin/auth/user/add/"
    assert create.before is None and create.after["username"] == "clerk"
    assert "password" not in create.after and "last_login" not in create.after

    response = admin_client.post(
        f"/admin/auth/user/{clerk.pk}/change/",
        {
            "username": "clerk",
            "first_name": "张",
            "last_name": "三",
            "email": "clerk@example.com",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "08:00:00",
            **_membership_management(),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    update = entries.get(action="update")
    assert update.source == "admin"
    assert (update.before["first_name"], update.after["first_name"]) == ("", "张")

    # and the password change form
    response = admin_client.post(
        f"/admin/auth/user/{clerk.pk}/password/",
        {"password1": "Clerk-new-2027", "password2": "Clerk-new-2027", "usable_password": "true"},
    )
    assert response.status_code == 302
    clerk.refresh_from_db()
    assert clerk.check_password("Clerk-new-2027")
    for entry in entries:
        for values in (entry.before, entry.after):
            assert values is None or "password" not in values
            assert clerk.password not in str(values)


def test_admin_region_change_is_audited(admin_client, community):
    response = admin_client.get(f"/admin/gis_core/region/{community.pk}/change/")
    assert response.status_code == 200
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None or field.disabled:
            continue
        if isinstance(value, list | tuple):
            value = "、".join(map(str, value)) if name == "aliases" else value
        if hasattr(value, "geojson"):
            value = value.geojson
        data[name] = value.pk if hasattr(value, "pk") else value
    for formset in response.context["inline_admin_formsets"]:
        mf = formset.formset.management_form
        data.update({mf.add_prefix(k): v for k, v in mf.initial.items()})
        data[mf.add_prefix("INITIAL_FORMS")] = "0"
        data[mf.add_prefix("TOTAL_FORMS")] = "0"
    data["name"] = "审计试验社区（更名）"
    response = admin_client.post(f"/admin/gis_core/region/{community.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    entry = AuditEntry.objects.get(object_type="gis_core.region", object_id=COMMUNITY, action="update")
    assert (entry.actor, entry.source) == ("user:boss", "admin")
    assert entry.region_code == COMMUNITY
    assert (entry.before["name"], entry.after["name"]) == ("审计试验社区", "审计试验社区（更名）")


# ------------------------------------------------------------------ append-only in the database


def _entry(**kwargs) -> AuditEntry:
    values = {
        "actor": "user:test",
        "source": "api",
        "action": "create",
        "object_type": "grids.unitgrid",
        "object_id": "510502001901001",
        "region_code": "510502001901001",
    }
    return AuditEntry.objects.create(**{**values, **kwargs})


def test_audit_table_is_append_only(db):
    entry = _entry()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(actor="x")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        entry.actor = "x"
        entry.save()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.get(pk=entry.pk).delete()
    for sql in (
        "DELETE FROM accounts_auditentry",
        "UPDATE accounts_auditentry SET actor = 'x'",
        "TRUNCATE accounts_auditentry",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)

    entry = AuditEntry.objects.get(pk=entry.pk)
    assert entry.actor == "user:test"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_auditentry (at, actor, source, path, action, object_type, object_id,"
            " region_code) VALUES (now(), 'sql', 'api', '', 'create', 't', '1', '')"
        )
    assert AuditEntry.objects.filter(actor__in=["user:test", "sql"]).count() == 2


# ------------------------------------------------------------------ the audit API


@pytest.fixture
def auditor_api(db) -> APIClient:
    user = user_create(username="auditor_jy", password=PASSWORD, roles=["auditor"], region_code="510502")
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def entries(db) -> dict[str, AuditEntry]:
    now = timezone.now()
    return {
        "old": _entry(at=now - dt.timedelta(days=2), actor="user:alice", object_id="510502001001001"),
        "grid": _entry(at=now - dt.timedelta(hours=1), actor="user:bob", object_id="510502001001002"),
        "region": _entry(
            actor="key:ab12cd34",
            object_type="gis_core.region",
            object_id="510502001001",
            region_code="510502001001",
        ),
        "elsewhere": _entry(actor="user:alice", object_id="510504001001001", region_code="510504001001001"),
        "nowhere": _entry(actor="user:alice", object_type="auth.user", object_id="7", region_code=""),
    }


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {e["id"] for e in response.json()}


def test_auditor_sees_entries_of_the_jurisdiction_only(auditor_api, entries):
    response = auditor_api.get(AUDIT_URL)
    assert _ids(response) == {entries[k].pk for k in ("old", "grid", "region")}
    first = response.json()[0]
    assert first["id"] == entries["region"].pk  # newest first
    assert set(first) >= {
        "at",
        "actor",
        "ip",
        "source",
        "action",
        "object_type",
        "object_id",
        "before",
        "after",
    }


def test_audit_filters(auditor_api, entries):
    assert _ids(auditor_api.get(AUDIT_URL, {"actor": "user:alice"})) == {entries["old"].pk}
    assert _ids(auditor_api.get(AUDIT_URL, {"object_type": "gis_core.region"})) == {entries["region"].pk}
    assert _ids(auditor_api.get(AUDIT_URL, {"object_id": "510502001001002"})) == {entries["grid"].pk}
    assert _ids(auditor_api.get(AUDIT_URL, {"object_id": "510504001001001"})) == set()  # out of scope

    yesterday = (timezone.now() - dt.timedelta(days=1)).isoformat()
    recent = {entries["grid"].pk, entries["region"].pk}
    assert _ids(auditor_api.get(AUDIT_URL, {"since": yesterday})) == recent
    assert _ids(auditor_api.get(AUDIT_URL, {"until": yesterday})) == {entries["old"].pk}
    assert len(_ids(auditor_api.get(AUDIT_URL, {"limit": 1}))) == 1

    for params in ({"since": "yesterday"}, {"until": "2026-13-45"}, {"limit": "many"}):
        response = auditor_api.get(AUDIT_URL, params)
        assert response.status_code == 400, params
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"]["code"] == "invalid"


def test_nationwide_admin_sees_everything(admin_api, entries):
    assert _ids(admin_api.get(AUDIT_URL)) >= {e.pk for e in entries.values()}


def test_audit_needs_the_audit_scope(db, entries, anon_api):
    operator = user_create(username="op_jy", password=PASSWORD, roles=["operator"], region_code="510502")
    client = APIClient()
    client.force_authenticate(operator)
    response = client.get(AUDIT_URL)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "missing_scope"

    assert anon_api.get(AUDIT_URL).status_code == 401
    # read-only: no writes through the API
    auditor = user_create(username="aud", password=PASSWORD, roles=["auditor"], region_code="510502")
    client.force_authenticate(auditor)
    assert client.post(AUDIT_URL, {}, format="json").status_code in (403, 405)


# ------------------------------------------------------------------ outside a request


def test_writes_outside_a_request_are_not_audited(community):
    before = AuditEntry.objects.count()
    grids_upsert(
        items=[
            GridInput(
                code=f"{COMMUNITY}001", name="直接写入",
                geom=MultiPolygon([box(LON - HALF, LAT - HALF, LON, LAT + HALF)]),
            )
        ]
    )  # fmt: skip
    grid = UnitGrid.objects.get(code=f"{COMMUNITY}001")
    grid.name = "直接改名"
    grid.save()
    user_create(username="quiet", password=PASSWORD, roles=["planner"], region_code="510502")
    grid.delete()
    assert AuditEntry.objects.count() == before


def test_personal_data_is_hidden_from_auditors_without_personal_read(auditor_api, admin_api, db):
    family = {"unit_type": "family", "name": "张家", "geom": "SRID=4326;POINT (105.44 28.87)",
              "address": "江阳区某路 1 号 2 单元", "contact": "139…", "grid_code": "510502001001001",
              "region_code": "510502001001"}  # fmt: skip
    unit = {**family, "unit_type": "unit", "name": "某局"}
    made = [
        _entry(object_type="civilization.civilizationunit", object_id=str(i), after=values)
        for i, values in enumerate((family, unit), start=900001)
    ]
    seen = {
        e["object_id"]: e for e in auditor_api.get(AUDIT_URL, {"object_type": made[0].object_type}).json()
    }
    hidden = seen["900001"]["after"]
    assert (
        hidden["geom"]
        == hidden["address"]
        == hidden["contact"]
        == hidden["grid_code"]
        == "（个人信息，已隐去）"
    )
    assert hidden["name"] == "张家" and hidden["region_code"] == "510502001001"  # the community stays
    assert seen["900002"]["after"] == unit  # not a family: nothing personal
    full = {e["object_id"]: e for e in admin_api.get(AUDIT_URL, {"object_type": made[0].object_type}).json()}
    assert full["900001"]["after"] == family  # the administrator holds personal:read
