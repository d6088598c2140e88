"""Writes of the working calendar: holidays and swapped working days (调休)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.db import transaction

from gis_core.errors import InvalidInput

from ..models import WorkCalendarDay

__all__ = ["DEFAULT_CALENDAR", "calendar_load"]

DEFAULT_CALENDAR = Path(__file__).resolve().parent.parent / "data" / "work_calendar.json"


@transaction.atomic
def calendar_load(*, path: Path = DEFAULT_CALENDAR) -> dict[str, int]:
    """Create or update the exception days of a JSON file by date (idempotent).

    A day off on a weekend or a worked weekday is redundant but harmless: the file lists
    whole holidays as published."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        rows = [
            (dt.date.fromisoformat(d["date"]), bool(d["is_workday"]), d.get("note", "")) for d in doc["days"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"无法读取工作日历文件 {path}：{exc}") from None
    existing = set(
        WorkCalendarDay.objects.filter(date__in=[r[0] for r in rows]).values_list("date", flat=True)
    )
    WorkCalendarDay.objects.bulk_create(
        [WorkCalendarDay(date=day, is_workday=workday, note=note[:60]) for day, workday, note in rows],
        update_conflicts=True,
        unique_fields=["date"],
        update_fields=["is_workday", "note"],
    )
    return {"created": len(rows) - len(existing), "updated": len(existing)}
