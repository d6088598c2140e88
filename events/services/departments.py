"""Writes of handling departments."""

from __future__ import annotations

from django.db import transaction

from gis_core.codes import InvalidCode, pad_code
from gis_core.errors import InvalidInput

from ..models import Department

__all__ = ["departments_ensure"]


@transaction.atomic
def departments_ensure(*, region_code: str, names: list[str]) -> list[Department]:
    """The departments of a region with these names, created where missing (active)."""
    try:
        code = pad_code(region_code)
    except InvalidCode as exc:
        raise InvalidInput(str(exc), details={"region_code": region_code}) from None
    rows = []
    for name in names:
        if not name.strip() or len(name) > 60:
            raise InvalidInput(f"部门名称无效：“{name}”")
        department, _ = Department.objects.get_or_create(region_code=code, name=name.strip())
        if not department.active:
            department.active = True
            department.save(update_fields=["active"])
        rows.append(department)
    return rows
