"""Loading the two-level classification of events and components (大类 / 小类)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from gis_core.errors import InvalidInput

from ..models import EventCategory, EventKind

__all__ = ["DEFAULT_CATEGORIES", "categories_load"]

DEFAULT_CATEGORIES = Path(__file__).resolve().parent.parent / "data" / "categories.json"


def _upsert(code: str, fields: dict, existing: dict[str, EventCategory]) -> tuple[EventCategory, bool]:
    category = existing.get(code) or EventCategory(code=code)
    created = category.pk is None
    for name, value in fields.items():
        setattr(category, name, value)
    try:
        category.full_clean()
    except ValidationError as exc:
        raise InvalidInput(f"分类 {code} 无效：{'；'.join(exc.messages)}", details={"code": code}) from None
    category.save()
    return category, created


@transaction.atomic
def categories_load(*, path: Path = DEFAULT_CATEGORIES) -> dict[str, int]:
    """Create or update the classification of a JSON file by code (idempotent).

    A major class gives the default time limits and handling department of its minor
    classes; a minor class overrides them. Classes on record that the file does not
    name are left as they are (deactivate them in the admin)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        majors = doc["categories"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"无法读取分类文件 {path}：{exc}") from None
    existing = {c.code: c for c in EventCategory.objects.all()}
    counts = {"created": 0, "updated": 0}
    for order, major in enumerate(majors):
        kind = major.get("kind")
        if kind not in EventKind.values:
            raise InvalidInput(f"分类 {major.get('code')} 的 kind 应为 event 或 component")
        limits = dict(major.get("limits") or {})
        department = major.get("department", "")
        parent, created = _upsert(
            major["code"],
            {"name": major["name"], "kind": kind, "parent": None, "time_limits": limits,
             "department_name": department, "sort_order": order, "active": True},
            existing,
        )  # fmt: skip
        counts["created" if created else "updated"] += 1
        for sub_order, minor in enumerate(major.get("children") or ()):
            _, created = _upsert(
                minor["code"],
                {"name": minor["name"], "kind": kind, "parent": parent,
                 "time_limits": {**limits, **(minor.get("limits") or {})},
                 "department_name": minor.get("department", department), "sort_order": sub_order,
                 "active": True},
                existing,
            )  # fmt: skip
            counts["created" if created else "updated"] += 1
    return counts
