"""Grid staff endpoints (thin: parse, call a service or selector, serialize): the staff list
and each person, a grid's team, a person's grids, and departments bound to a grid (网格入格)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from gis_core.api.params import parse_code
from gis_core.errors import InvalidInput

from .models import GridStaff, StaffAssignment, StaffRole, StaffStatus
from .selectors.staff import grid_departments, grid_team, staff_filter, staff_get, staff_grids, staff_visible
from .services.staff import (
    StaffInput,
    grid_department_bind,
    grid_department_unbind,
    staff_create,
    staff_delete,
    staff_update,
)

__all__ = ["GridDepartmentsView", "GridTeamView", "StaffDetailView", "StaffGridsView", "StaffListView"]

MAX_PAGE = 1000


def assignment_json(a: StaffAssignment) -> dict:
    return {
        "grid": a.grid_code,
        "grid_name": getattr(a, "grid_name", ""),
        "role": a.role,
        "role_name": a.get_role_display(),
    }


def staff_json(staff: GridStaff, *, grids: bool = True) -> dict:
    body = {
        "id": staff.pk, "name": staff.name, "phone": staff.phone, "role": staff.role,
        "role_name": staff.get_role_display(), "status": staff.status,
        "status_name": staff.get_status_display(),
        "region_code": staff.region_code, "user": staff.user_id, "last_position_at": staff.last_position_at,
    }  # fmt: skip
    if grids:
        body["grids"] = [assignment_json(a) for a in staff.assignments.all()]
    return body


class GridRoleSerializer(serializers.Serializer):
    grid = serializers.RegexField(r"^\d{15}$", help_text="网格编码")
    role = serializers.ChoiceField(StaffRole.choices, required=False, allow_blank=True)


class StaffRequest(serializers.Serializer):
    name = serializers.CharField(max_length=40)
    role = serializers.ChoiceField(StaffRole.choices)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    status = serializers.ChoiceField(StaffStatus.choices, required=False)
    grids = GridRoleSerializer(many=True, required=False)
    region_code = serializers.CharField(max_length=12, required=False, allow_blank=True)
    user = serializers.IntegerField(required=False, allow_null=True, help_text="登录账号编号（本人上报位置）")


def _valid(serializer_class, request, *, partial: bool = False) -> dict:
    if not isinstance(request.data, dict):
        raise InvalidInput("请求体应为 JSON 对象")
    serializer = serializer_class(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _input(data: dict, current: GridStaff | None = None) -> StaffInput:
    def pick(key, default):
        return data.get(key, default)

    grids = data.get("grids")
    return StaffInput(
        name=pick("name", getattr(current, "name", "")),
        role=pick("role", getattr(current, "role", "")),
        phone=pick("phone", getattr(current, "phone", "")),
        status=pick("status", getattr(current, "status", StaffStatus.ACTIVE)),
        grids=[(g["grid"], g.get("role", "")) for g in grids] if grids is not None else [],
        region_code=data.get("region_code") or None,
        user_id=pick("user", getattr(current, "user_id", None)),
    )


class StaffListView(APIView):
    """网格员队伍：列表（按管辖范围）与新增。"""

    required_scopes = {"GET": "staff:read", "POST": "staff:manage"}

    @extend_schema(
        operation_id="api_v1_grid_staff_list",
        parameters=[
            OpenApiParameter("region", str, description="区划代码（任一级）"),
            OpenApiParameter("grid", str, description="网格编码"),
            OpenApiParameter("role", str, enum=StaffRole.values),
            OpenApiParameter("status", str, enum=StaffStatus.values),
            OpenApiParameter("q", str, description="姓名或手机号包含"),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        params = request.query_params
        qs = staff_filter(
            staff_visible(request.jurisdiction),
            region=parse_code(params["region"]) if params.get("region") else None,
            grid=params.get("grid"), role=params.get("role"), status=params.get("status"), q=params.get("q"),
        )  # fmt: skip
        try:
            limit = min(int(params.get("limit", 100)), MAX_PAGE)
            offset = max(int(params.get("offset", 0)), 0)
        except ValueError:
            raise InvalidInput("limit / offset 应为整数") from None
        return Response(
            {"count": qs.count(), "results": [staff_json(s) for s in qs[offset : offset + max(limit, 0)]]}
        )

    @extend_schema(request=StaffRequest, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = _valid(StaffRequest, request)
        staff = staff_create(data=_input(data), jurisdiction=request.jurisdiction)
        staff = staff_get(staff_id=staff.pk, jurisdiction=request.jurisdiction)
        return Response(staff_json(staff), status=status.HTTP_201_CREATED)


class StaffDetailView(APIView):
    """一名网格员：查看、修改（给出 grids 时替换其负责网格）、删除（已有轨迹的不能删除）。"""

    required_scopes = {"GET": "staff:read", "PATCH": "staff:manage", "DELETE": "staff:manage"}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        return Response(staff_json(staff_get(staff_id=pk, jurisdiction=request.jurisdiction)))

    @extend_schema(request=StaffRequest, responses=OpenApiTypes.OBJECT)
    def patch(self, request, pk: int):
        staff = staff_get(staff_id=pk, jurisdiction=request.jurisdiction)
        data = _valid(StaffRequest, request, partial=True)
        staff_update(
            staff=staff, data=_input(data, staff), jurisdiction=request.jurisdiction,
            replace_grids="grids" in data,
        )  # fmt: skip
        return Response(staff_json(staff_get(staff_id=pk, jurisdiction=request.jurisdiction)))

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        staff_delete(staff=staff_get(staff_id=pk, jurisdiction=request.jurisdiction))
        return Response(status=status.HTTP_204_NO_CONTENT)


class StaffGridsView(APIView):
    """一名网格员负责的网格及其在各网格中的角色。"""

    required_scopes = {"GET": "staff:read"}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        staff = staff_get(staff_id=pk, jurisdiction=request.jurisdiction)
        return Response(
            {"staff": staff.pk, "results": [assignment_json(a) for a in staff_grids(staff=staff)]}
        )


class GridTeamView(APIView):
    """网格团队：负责该网格的人员（网格长在前）与入格部门。"""

    required_scopes = {"GET": "staff:read"}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, code: str):
        grid, rows = grid_team(code=code, jurisdiction=request.jurisdiction)
        _, departments = grid_departments(code=code, jurisdiction=request.jurisdiction)
        return Response({
            "grid": grid.code, "name": grid.name,
            "team": [{**staff_json(a.staff, grids=False), "grid_role": a.role,
                      "grid_role_name": a.get_role_display()} for a in rows],
            "departments": [{"id": d.pk, "name": d.name, "region_code": d.region_code} for d in departments],
        })  # fmt: skip


class DepartmentRequest(serializers.Serializer):
    department = serializers.IntegerField(help_text="处置部门编号（/api/v1/event-departments）")


class GridDepartmentsView(APIView):
    """网格入格：绑定到网格的处置部门（派遣该网格的事件时优先）。DELETE ?department= 解除绑定。"""

    required_scopes = {"GET": "staff:read", "POST": "staff:manage", "DELETE": "staff:manage"}

    def _list(self, request, code: str) -> Response:
        grid, departments = grid_departments(code=code, jurisdiction=request.jurisdiction)
        return Response({
            "grid": grid.code,
            "results": [{"id": d.pk, "name": d.name, "region_code": d.region_code} for d in departments],
        })  # fmt: skip

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, code: str):
        return self._list(request, code)

    @extend_schema(request=DepartmentRequest, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, code: str):
        data = _valid(DepartmentRequest, request)
        grid_department_bind(
            grid_code=code, department_id=data["department"], jurisdiction=request.jurisdiction
        )
        response = self._list(request, code)
        response.status_code = status.HTTP_201_CREATED
        return response

    @extend_schema(
        parameters=[OpenApiParameter("department", int, required=True)], responses=OpenApiTypes.OBJECT
    )
    def delete(self, request, code: str):
        value = request.query_params.get("department", "")
        if not value.isdigit():
            raise InvalidInput("缺少参数 department（处置部门编号）", details={"department": value})
        grid_department_unbind(grid_code=code, department_id=int(value), jurisdiction=request.jurisdiction)
        return self._list(request, code)
