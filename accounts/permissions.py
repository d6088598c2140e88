"""Who may call what: scopes, the roles that grant them, and the principal of a request.

A role is a set of scopes; an API key carries its scopes explicitly. Every API
view declares ``required_scopes`` (HTTP method → scope) and the default DRF
permission class checks it, with the caller's jurisdiction.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import BasePermission

from .models import ApiKey, Membership, Role
from .scoping import Jurisdiction, scope_queryset

__all__ = ["ROLE_SCOPES", "SCOPES", "Principal", "RequireScope", "principal_of"]

SCOPES: dict[str, str] = {
    "regions:read": "读取行政区划",
    "grids:read": "读取单元网格",
    "locate:read": "点位定位",
    "topology:read": "网格拓扑检查",
    "export:read": "导出图层",
    "import:write": "导入图层",
    "audit:read": "查看审计记录",
    "geocode:read": "地址编码（正向、逆向、联想、批量任务）",
    "events:read": "读取事件、分类、处置部门和通知",
    "events:write": "上报事件",
    "events:verify": "核实、核查事件",
    "events:manage": "事件立案、派遣、改派、结案、作废、挂起、合并",
    "events:handle": "处置派遣的事件（处置部门）",
    "civilization:read": "读取文明创建单位、统计与测评点位抽取",
    "civilization:write": "新增、修改、导入文明创建单位",
    "civilization:draw": "抽取测评点位（生效、作废、替换）",
    "personal:read": "查看个人信息（文明家庭的精确位置、地址与联系方式）",
    "staff:read": "读取网格员队伍、网格团队和入格部门",
    "staff:manage": "管理网格员、所负责网格和网格入格部门",
    "tracks:read": "巡查轨迹回放与巡查统计",
    "tracks:write": "上报巡查位置（网格员本人；系统密钥为管辖范围内任何人）",
    "components:read": "读取城市部件、部件分类与部件照片",
    "components:write": "新增、修改城市部件，变更部件状态",
    "cameras:read": "读取视频点位及其可视范围（不含视频流地址）",
    "cameras:write": "新增、修改视频点位",
    "cameras:stream": "查看视频点位的视频流地址",
}

_READ_MAP = {"regions:read", "grids:read", "locate:read", "geocode:read"}
_EVENTS_REPORT = {"events:read", "events:write", "events:verify"}
_CIVILIZATION = {"civilization:read", "civilization:write", "civilization:draw"}
_ASSETS_READ = {"components:read", "cameras:read"}  # city components and cameras (no stream URL)
ROLE_SCOPES: dict[str, frozenset[str]] = {
    Role.ADMIN: frozenset(SCOPES),
    Role.OPERATOR: frozenset(
        _READ_MAP
        | _EVENTS_REPORT
        | {"topology:read", "export:read", "events:manage", "staff:read", "tracks:read", "civilization:read"}
        | _ASSETS_READ
        | {"components:write", "cameras:write", "cameras:stream"}
    ),
    Role.FIELD_STAFF: frozenset(
        _READ_MAP | _EVENTS_REPORT | {"staff:read", "tracks:write"} | _ASSETS_READ | {"components:write"}
    ),
    Role.PLANNER: frozenset(
        _READ_MAP | {"export:read", "events:read", *_CIVILIZATION, "personal:read"} | _ASSETS_READ
    ),
    Role.AUDITOR: frozenset({"audit:read"}),
    Role.DEPARTMENT: frozenset(
        _READ_MAP | {"events:read", "events:handle", "components:read", "components:write"}
    ),
}


@dataclass(frozen=True)
class Principal:
    """The caller: a user (session) or an API key, with scopes and jurisdiction."""

    label: str  # "user:alice" / "key:ab12cd34"
    scopes: frozenset[str]
    jurisdiction: Jurisdiction
    user_id: int | None = None
    key_prefix: str | None = None


def _jurisdiction(holder) -> Jurisdiction:
    return Jurisdiction(
        nationwide=holder.nationwide,
        region_code=holder.region.code if holder.region_id else None,
        grid_codes=tuple(holder.grid_codes or ()),
    )


def principal_for_key(key: ApiKey) -> Principal:
    return Principal(
        label=f"key:{key.prefix}", scopes=frozenset(key.scopes), jurisdiction=_jurisdiction(key),
        key_prefix=key.prefix,
    )  # fmt: skip


def principal_for_user(user) -> Principal:
    if user.is_superuser:
        return Principal(f"user:{user.username}", frozenset(SCOPES), Jurisdiction(nationwide=True), user.pk)
    membership = Membership.objects.select_related("region").filter(user=user).first()
    if membership is None:
        return Principal(f"user:{user.username}", frozenset(), Jurisdiction(), user.pk)
    scopes = frozenset().union(*(ROLE_SCOPES.get(r, frozenset()) for r in membership.roles))
    return Principal(f"user:{user.username}", scopes, _jurisdiction(membership), user.pk)


def principal_of(request) -> Principal | None:
    """The principal of an authenticated request (cached on it), else None."""
    cached = getattr(request, "_civgrid_principal", None)
    if cached is not None:
        return cached
    key = getattr(request, "auth", None)
    if isinstance(key, ApiKey):
        principal = principal_for_key(key)
    elif request.user is not None and request.user.is_authenticated:
        principal = principal_for_user(request.user)
    else:
        return None
    request._civgrid_principal = principal
    return principal


def required_scope(view, method: str) -> str:
    scopes = getattr(view, "required_scopes", None)
    if scopes is None:
        raise PermissionDenied("该接口未声明权限范围")  # a route that forgot: closed, not open
    return scopes.get("GET" if method in ("HEAD", "OPTIONS") else method) or ""


class RequireScope(BasePermission):
    """Authenticated, with a jurisdiction, and holding the scope the view requires."""

    def has_permission(self, request, view) -> bool:
        scope = required_scope(view, request.method)
        principal = principal_of(request)
        if principal is None:
            raise NotAuthenticated("需要登录或提供 API 密钥（Authorization: Bearer …）")
        if not scope:
            raise PermissionDenied(f"不允许 {request.method} 请求")
        if principal.jurisdiction.is_empty:
            raise PermissionDenied("账号未分配管辖范围，请联系管理员", code="no_jurisdiction")
        if scope not in principal.scopes:
            raise PermissionDenied(f"缺少权限范围 {scope}（{SCOPES.get(scope, '')}）", code="missing_scope")
        # what views in any app use to scope, without importing accounts
        request.jurisdiction = principal.jurisdiction
        request.scope_queryset = partial(scope_queryset, jurisdiction=principal.jurisdiction)
        return True
