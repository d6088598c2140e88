"""Reads of the grid staff, always through the caller's jurisdiction (a person or grid outside
it is a 404, the same answer as for one that does not exist) — and the one unscoped read the
events app uses to dispatch: :func:`departments_for_grid`."""

from __future__ import annotations

from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery

from accounts.scoping import Jurisdiction, scope_queryset
from gis_core.codes import ancestor_codes
from gis_core.errors import InvalidInput, NotFound

from ..models import GridDepartment, GridStaff, StaffAssignment, StaffRole, StaffStatus, UnitGrid

__all__ = [
    "departments_for_grid",
    "grid_departments",
    "grid_team",
    "staff_filter",
    "staff_get",
    "staff_grids",
    "staff_visible",
]


def staff_visible(jurisdiction: Jurisdiction) -> QuerySet[GridStaff]:
    names = UnitGrid.objects.filter(code=OuterRef("grid_code")).values("name")[:1]
    assignments = scope_queryset(StaffAssignment.objects.annotate(grid_name=Subquery(names)), jurisdiction)
    return scope_queryset(GridStaff.objects.all(), jurisdiction).prefetch_related(
        Prefetch("assignments", queryset=assignments.order_by("grid_code"))
    )


def staff_filter(
    qs: QuerySet[GridStaff],
    *,
    region: str | None = None,
    grid: str | None = None,
    role: str | None = None,
    status: str | None = None,
    q: str | None = None,
) -> QuerySet[GridStaff]:
    """Filters of the staff list; bad values are 400."""
    if region:
        from gis_core.codes import prefix_of

        qs = qs.filter(
            Q(region_code__startswith=prefix_of(region))
            | Q(assignments__grid_code__startswith=prefix_of(region))
        )
    if grid:
        qs = qs.filter(assignments__grid_code=grid)
    if role:
        if role not in StaffRole.values:
            raise InvalidInput(f"role 应为 {' / '.join(StaffRole.values)}", details={"role": role})
        qs = qs.filter(Q(role=role) | Q(assignments__role=role))
    if status:
        if status not in StaffStatus.values:
            raise InvalidInput(f"status 应为 {' / '.join(StaffStatus.values)}", details={"status": status})
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(Q(name__contains=q.strip()) | Q(phone__contains=q.strip()))
    return qs.distinct()


def staff_get(*, staff_id: int, jurisdiction: Jurisdiction) -> GridStaff:
    staff = staff_visible(jurisdiction).filter(pk=staff_id).first()
    if staff is None:
        raise NotFound(f"网格员 {staff_id} 不存在")
    return staff


def _grid(code: str, jurisdiction: Jurisdiction) -> UnitGrid:
    grid = scope_queryset(UnitGrid.objects.filter(code=code), jurisdiction).first()
    if grid is None:
        raise NotFound(f"网格 {code} 不存在")
    return grid


def grid_team(*, code: str, jurisdiction: Jurisdiction) -> tuple[UnitGrid, list[StaffAssignment]]:
    """A grid's team (网格团队): who covers it, in which role (网格长 first)."""
    grid = _grid(code, jurisdiction)
    order = {role: i for i, role in enumerate(StaffRole.values)}
    rows = list(StaffAssignment.objects.filter(grid_code=grid.code).select_related("staff"))
    rows.sort(key=lambda a: (order[a.role], a.staff.name, a.staff_id))
    return grid, rows


def staff_grids(*, staff: GridStaff) -> list[StaffAssignment]:
    """The grids of a person that the caller may see (``staff`` comes from :func:`staff_get`)."""
    return list(staff.assignments.all())


def grid_departments(*, code: str, jurisdiction: Jurisdiction) -> tuple[UnitGrid, list]:
    grid = _grid(code, jurisdiction)
    rows = GridDepartment.objects.filter(grid_code=grid.code).select_related("department")
    return grid, [r.department for r in rows]


def departments_for_grid(code: str):
    """Active handling departments bound to a grid (网格入格) that serve a region holding it —
    the hook the events dispatch uses to prefer them. A QuerySet of ``events.Department``."""
    from events.models import Department

    regions = ancestor_codes(code[:12]) if len(code) == 15 and code.isdigit() else []
    bound = GridDepartment.objects.filter(grid_code=code).values("department_id")
    return Department.objects.filter(pk__in=bound, active=True, region_code__in=regions).order_by(
        "-region_code", "name"
    )
