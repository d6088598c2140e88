"""grids.services.staff / selectors.staff and the staff endpoints: people, their grids and
roles, a grid's team, departments bound to grids (网格入格), jurisdiction and bad input."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.scoping import Jurisdiction
from accounts.services import user_create
from events.models import Department
from gis_core.errors import Conflict, InvalidInput, NotFound
from grids.models import GridStaff, StaffAssignment, UnitGrid
from grids.selectors.staff import departments_for_grid, grid_team
from grids.services.staff import StaffInput, grid_department_bind, staff_create, staff_delete, staff_update

A = Jurisdiction(region_code="510502000000")  # 江阳区
NATION = Jurisdiction(nationwide=True)
PASSWORD = "Civgrid-Test-2024"


@pytest.fixture
def a_grids(db) -> list[UnitGrid]:
    grids = list(UnitGrid.objects.filter(code__startswith="510502").order_by("code")[:4])
    assert len(grids) == 4
    return grids


@pytest.fixture
def b_grid(db) -> UnitGrid:
    return UnitGrid.objects.filter(code__startswith="510504").order_by("code").first()


def test_staff_create_stores_grids_roles_and_the_common_region(a_grids):
    same_community = [g for g in a_grids if g.community_code == a_grids[0].community_code]
    staff = staff_create(
        data=StaffInput(
            name=" 王伟 ", role="full_time", phone="13800001111",
            grids=[(g.code, "") for g in same_community] + [(a_grids[-1].code, "part_time")],
        ),
        jurisdiction=A,
    )  # fmt: skip
    staff.refresh_from_db()
    assert staff.name == "王伟"
    roles = dict(StaffAssignment.objects.filter(staff=staff).values_list("grid_code", "role"))
    assert roles[same_community[0].code] == "full_time" and roles[a_grids[-1].code] == "part_time"
    communities = {g.community_code for g in a_grids}
    expected = a_grids[0].community_code if len(communities) == 1 else None
    if expected:
        assert staff.region_code == expected
    assert all(c.startswith(staff.region_code.rstrip("0")[:6]) for c in communities)
    assert staff.region_code.startswith("510502")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "", "role": "full_time"}, InvalidInput),
        ({"name": "李娜", "role": "boss"}, InvalidInput),
        ({"name": "李娜", "role": "full_time", "phone": "12345"}, InvalidInput),
        ({"name": "李娜", "role": "full_time", "grids": [("999999999999999", "")]}, NotFound),
        ({"name": "李娜", "role": "full_time"}, InvalidInput),  # neither grids nor a region
    ],
)
def test_bad_staff_input_is_refused_and_nothing_is_written(a_grids, data, error):
    before = GridStaff.objects.count()
    with pytest.raises(error):
        staff_create(data=StaffInput(**data), jurisdiction=A)
    assert GridStaff.objects.count() == before


def test_a_grid_outside_the_jurisdiction_is_not_found(a_grids, b_grid):
    with pytest.raises(NotFound):
        staff_create(
            data=StaffInput(name="赵强", role="full_time", grids=[(b_grid.code, "")]), jurisdiction=A
        )


def test_update_replaces_grids_and_a_user_binds_once(a_grids, django_user_model):
    user = django_user_model.objects.create_user("wangge1", password=PASSWORD)
    staff = staff_create(
        data=StaffInput(name="周杰", role="full_time", grids=[(a_grids[0].code, "")], user_id=user.pk),
        jurisdiction=A,
    )
    data = StaffInput(name="周杰", role="grid_head", grids=[(a_grids[1].code, "")], user_id=user.pk)
    staff_update(staff=staff, data=data, jurisdiction=A)
    assert list(staff.assignments.values_list("grid_code", "role")) == [(a_grids[1].code, "grid_head")]
    with pytest.raises(Conflict):
        staff_create(
            data=StaffInput(name="另一人", role="full_time", grids=[(a_grids[0].code, "")], user_id=user.pk),
            jurisdiction=A,
        )


def test_staff_with_positions_cannot_be_deleted(a_grids):
    from django.db import connection

    staff = staff_create(
        data=StaffInput(name="孙丽", role="full_time", grids=[(a_grids[0].code, "")]), jurisdiction=A
    )
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO grids_position (staff_id, recorded_at, geom, cum_m) "
            "VALUES (%s, now(), ST_SetSRID(ST_MakePoint(105.44, 28.87), 4326), 0)",
            [staff.pk],
        )
    with pytest.raises(Conflict):
        staff_delete(staff=staff)
    other = staff_create(
        data=StaffInput(name="孙丽", role="full_time", grids=[(a_grids[0].code, "")]), jurisdiction=A
    )
    staff_delete(staff=other)
    assert not GridStaff.objects.filter(pk=other.pk).exists()


def test_grid_team_lists_the_grid_head_first(a_grids):
    grid = a_grids[0]
    staff_create(data=StaffInput(name="乙", role="part_time", grids=[(grid.code, "")]), jurisdiction=A)
    staff_create(data=StaffInput(name="甲", role="grid_head", grids=[(grid.code, "")]), jurisdiction=A)
    _, rows = grid_team(code=grid.code, jurisdiction=A)
    roles = [a.role for a in rows]
    assert roles.index("grid_head") < roles.index("part_time")


def test_departments_for_grid_is_the_dispatch_hook(a_grids, b_grid):
    grid = a_grids[0]
    mine = Department.objects.create(name="供电所", region_code="510502000000")
    city = Department.objects.create(name="燃气公司网格站", region_code="510500000000")
    b_department = Department.objects.create(name="龙马潭供电所", region_code="510504000000")
    assert not departments_for_grid(grid.code).exists()
    grid_department_bind(grid_code=grid.code, department_id=mine.pk, jurisdiction=A)
    grid_department_bind(grid_code=grid.code, department_id=city.pk, jurisdiction=A)
    grid_department_bind(grid_code=grid.code, department_id=mine.pk, jurisdiction=A)  # idempotent
    with pytest.raises(InvalidInput):  # a department of another district cannot serve this grid
        grid_department_bind(grid_code=grid.code, department_id=b_department.pk, jurisdiction=A)
    with pytest.raises(NotFound):
        grid_department_bind(grid_code=b_grid.code, department_id=b_department.pk, jurisdiction=A)
    # the most local first; an inactive one is not offered
    assert list(departments_for_grid(grid.code)) == [mine, city]
    mine.active = False
    mine.save()
    assert list(departments_for_grid(grid.code)) == [city]
    assert not departments_for_grid(a_grids[1].code).exists()


# ------------------------------------------------------------------ API


@pytest.fixture
def operator(db) -> APIClient:
    client = APIClient()
    client.force_authenticate(
        user_create(username="op-a", password=PASSWORD, roles=["admin"], region_code="510502")
    )
    return client


def test_staff_api_create_list_patch_team_and_grids(operator, a_grids, b_grid):
    body = {"name": "吴敏", "role": "full_time", "phone": "13900002222", "grids": [{"grid": a_grids[0].code}]}
    response = operator.post("/api/v1/grid-staff", body, format="json")
    assert response.status_code == 201, response.content
    staff_id = response.json()["id"]
    assert response.json()["grids"][0]["grid"] == a_grids[0].code

    listed = operator.get("/api/v1/grid-staff", {"grid": a_grids[0].code}).json()
    assert staff_id in [s["id"] for s in listed["results"]]

    change = {"status": "leave", "grids": [{"grid": a_grids[1].code, "role": "grid_head"}]}
    response = operator.patch(f"/api/v1/grid-staff/{staff_id}", change, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "leave"
    grids = operator.get(f"/api/v1/staff/{staff_id}/grids").json()["results"]
    assert [(g["grid"], g["role"]) for g in grids] == [(a_grids[1].code, "grid_head")]
    team = operator.get(f"/api/v1/grids/{a_grids[1].code}/team").json()
    assert staff_id in [m["id"] for m in team["team"]]

    # bad input: 400 with the error shape; a B grid: 404
    response = operator.post("/api/v1/grid-staff", {"name": "x", "role": "boss"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"]
    response = operator.post(
        "/api/v1/grid-staff",
        {"name": "x", "role": "full_time", "grids": [{"grid": b_grid.code}]},
        format="json",
    )
    assert response.status_code == 404
    assert operator.get(f"/api/v1/grids/{b_grid.code}/team").status_code == 404
    assert operator.delete(f"/api/v1/grid-staff/{staff_id}").status_code == 204


def test_grid_departments_api(operator, a_grids):
    department = Department.objects.create(name="自来水公司", region_code="510502000000")
    url = f"/api/v1/grids/{a_grids[0].code}/departments"
    response = operator.post(url, {"department": department.pk}, format="json")
    assert response.status_code == 201, response.content
    assert [d["id"] for d in response.json()["results"]] == [department.pk]
    assert operator.delete(url + f"?department={department.pk}").json()["results"] == []
