"""Writes of the grid staff (网格员队伍): people, the grids each covers and in which role, and
departments bound to grids (网格入格). Every write is checked against the caller's
jurisdiction: a grid outside it is refused exactly like a grid that does not exist."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from accounts.scoping import Jurisdiction
from gis_core.codes import InvalidCode, ancestor_codes, pad_code, prefix_of
from gis_core.errors import Conflict, InvalidInput, NotFound

from ..models import GridDepartment, GridStaff, StaffAssignment, StaffRole, StaffStatus, UnitGrid

__all__ = [
    "StaffInput",
    "grid_department_bind",
    "grid_department_unbind",
    "staff_create",
    "staff_delete",
    "staff_update",
]

PHONE = re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$")  # mobile, or a landline with its area code


@dataclass(frozen=True)
class StaffInput:
    name: str
    role: str
    phone: str = ""
    status: str = StaffStatus.ACTIVE
    # (grid code, role in that grid); the role may be "" for the person's main role
    grids: list[tuple[str, str]] = field(default_factory=list)
    region_code: str | None = None  # default: the deepest region holding all the grids
    user_id: int | None = None  # the login account that posts this person's positions


def _common_region(codes: list[str]) -> str:
    """The deepest region (12 digits) whose code prefixes every community code."""
    chains = [ancestor_codes(c) for c in codes]
    common = [c for c in chains[0] if all(c in chain for chain in chains[1:])]
    return common[-1]


def _clean(data: StaffInput, jurisdiction: Jurisdiction, staff: GridStaff | None) -> tuple[StaffInput, str]:
    name = (data.name or "").strip()
    if not name or len(name) > 40:
        raise InvalidInput("姓名不能为空，最长 40 字", details={"name": data.name})
    phone = (data.phone or "").strip().replace(" ", "")
    if phone and not PHONE.match(phone):
        raise InvalidInput(f"手机号“{data.phone}”格式不正确", details={"phone": data.phone})
    if data.role not in StaffRole.values:
        raise InvalidInput(f"角色应为 {' / '.join(StaffRole.values)}", details={"role": data.role})
    if data.status not in StaffStatus.values:
        raise InvalidInput(f"状态应为 {' / '.join(StaffStatus.values)}", details={"status": data.status})
    grids: dict[str, str] = {}
    for code, role in data.grids:
        code = str(code).strip()
        if role and role not in StaffRole.values:
            raise InvalidInput(f"网格角色应为 {' / '.join(StaffRole.values)}", details={"role": role})
        if len(code) != 15 or not code.isdigit() or not jurisdiction.covers_code(code):
            raise NotFound(f"网格 {code} 不存在", details={"grid": code})
        grids[code] = role or data.role
    found = dict(UnitGrid.objects.filter(code__in=list(grids)).values_list("code", "community_code"))
    if missing := sorted(set(grids) - set(found)):
        raise NotFound(f"网格 {missing[0]} 不存在", details={"grid": missing[0]})
    if data.region_code:
        try:
            region = pad_code(data.region_code)
        except InvalidCode as exc:
            raise InvalidInput(str(exc), details={"region_code": data.region_code}) from None
        if not jurisdiction.covers_code(region):
            raise NotFound(f"区划 {region} 不存在", details={"region_code": region})
        prefix = prefix_of(region)
        if outside := sorted(c for c in found.values() if not c.startswith(prefix)):
            raise InvalidInput(
                f"网格所在社区 {outside[0]} 不在所属区划 {region} 内", details={"region_code": region}
            )
    elif found:
        region = _common_region(sorted(set(found.values())))
    elif staff is not None:
        region = staff.region_code
    else:
        raise InvalidInput("请给出所负责的网格 grids 或所属区划 region_code", details={"grids": "required"})
    if data.user_id is not None:
        if not get_user_model().objects.filter(pk=data.user_id, is_active=True).exists():
            raise InvalidInput(f"账号 {data.user_id} 不存在", details={"user": data.user_id})
        taken = GridStaff.objects.filter(user_id=data.user_id).exclude(pk=getattr(staff, "pk", None))
        if taken.exists():
            raise Conflict("该账号已绑定另一名网格员", code="user_taken", details={"user": data.user_id})
    cleaned = StaffInput(
        name=name, role=data.role, phone=phone, status=data.status, grids=list(grids.items()),
        region_code=region, user_id=data.user_id,
    )  # fmt: skip
    return cleaned, region


def _write(staff: GridStaff, data: StaffInput, *, replace_grids: bool) -> GridStaff:
    staff.name, staff.phone, staff.role, staff.status = data.name, data.phone, data.role, data.status
    staff.region_code = data.region_code or staff.region_code
    staff.user_id = data.user_id
    staff.full_clean(exclude=["user"], validate_unique=False)
    staff.save()
    if replace_grids:
        wanted = dict(data.grids)
        current = {a.grid_code: a for a in staff.assignments.all()}
        for code, assignment in current.items():
            if code not in wanted:
                assignment.delete()
            elif assignment.role != wanted[code]:
                assignment.role = wanted[code]
                assignment.save(update_fields=["role"])
        for code, role in wanted.items():
            if code not in current:
                StaffAssignment.objects.create(staff=staff, grid_code=code, role=role)
    return staff


@transaction.atomic
def staff_create(*, data: StaffInput, jurisdiction: Jurisdiction) -> GridStaff:
    cleaned, _ = _clean(data, jurisdiction, None)
    return _write(GridStaff(), cleaned, replace_grids=True)


@transaction.atomic
def staff_update(
    *, staff: GridStaff, data: StaffInput, jurisdiction: Jurisdiction, replace_grids: bool = True
) -> GridStaff:
    """Update a person; with ``replace_grids`` their grids become exactly ``data.grids``."""
    if not replace_grids:
        data = StaffInput(
            **{**data.__dict__, "grids": [(a.grid_code, a.role) for a in staff.assignments.all()]}
        )
    cleaned, _ = _clean(data, jurisdiction, staff)
    return _write(staff, cleaned, replace_grids=True)


@transaction.atomic
def staff_delete(*, staff: GridStaff) -> None:
    """Delete a person who has no positions on record; one with a track is kept (mark them 离岗)."""
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM grids_position WHERE staff_id = %s LIMIT 1", [staff.pk])
        if cur.fetchone():
            raise Conflict(
                "该网格员已有巡查轨迹，不能删除；请将状态改为“离岗”", code="has_positions",
                details={"staff": staff.pk},
            )  # fmt: skip
    staff.delete()


@transaction.atomic
def grid_department_bind(*, grid_code: str, department_id: int, jurisdiction: Jurisdiction) -> GridDepartment:
    """Bind a handling department to a grid (网格入格). The department must serve a region that
    holds the grid (its own district's bureau or the city's), and be visible to the caller."""
    from events.models import Department

    grid = _grid(grid_code, jurisdiction)
    department = Department.objects.filter(
        pk=department_id, active=True, region_code__in=ancestor_codes(grid.community_code)
    ).first()
    if department is None:
        raise InvalidInput(
            f"处置部门 {department_id} 不存在或不负责该网格所在区域", details={"department": department_id}
        )
    binding, _ = GridDepartment.objects.get_or_create(grid_code=grid.code, department=department)
    return binding


@transaction.atomic
def grid_department_unbind(*, grid_code: str, department_id: int, jurisdiction: Jurisdiction) -> int:
    grid = _grid(grid_code, jurisdiction)
    deleted = 0
    for binding in GridDepartment.objects.filter(grid_code=grid.code, department_id=department_id):
        binding.delete()  # one by one: each deletion is audited
        deleted += 1
    return deleted


def _grid(code: str, jurisdiction: Jurisdiction) -> UnitGrid:
    grid = UnitGrid.objects.filter(code=code).first()
    if grid is None or not jurisdiction.covers_code(code):
        raise NotFound(f"网格 {code} 不存在")
    return grid
