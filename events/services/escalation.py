"""The overdue sweep (超时督办), run every few minutes by Celery beat.

An open event whose current step is past its deadline is marked overdue (level 1)
and the operators of its district get a notice; once it is overdue by a further
whole limit it is escalated (level 2, 升级督办) with another notice. The level is
stored on the event and reset when the step changes, so running the sweep again —
or twice at once (rows are taken with SKIP LOCKED) — notifies nobody twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from .. import flow
from ..models import Event, Notification, NotificationKind

__all__ = ["EscalationResult", "events_escalate"]

BATCH = 500


@dataclass(frozen=True)
class EscalationResult:
    overdue: int
    escalated: int


def _message(event: Event, kind: str) -> str:
    step = flow.STEPS.get(flow.STEP_OF_STATE.get(event.state, ""), "")
    due = timezone.localtime(event.due_at).strftime("%m-%d %H:%M")
    what = f"事件 {event.pk}（{event.category.name}）{step}环节"
    if kind == NotificationKind.OVERDUE:
        return f"{what}已超时（时限 {due}）"
    return f"{what}超时已达一个完整时限（时限 {due}），升级督办"


def _sweep(*, level: int, deadline_field: str, kind: str, now: dt.datetime) -> int:
    done = 0
    while True:
        with transaction.atomic():
            rows = list(
                Event.objects.filter(
                    state__in=flow.OPEN_STATES - {"suspended"},
                    escalation_level__lt=level,
                    **{f"{deadline_field}__lte": now},
                )
                .select_related("category")
                .select_for_update(of=("self",), skip_locked=True)
                .order_by("pk")[:BATCH]
            )
            if not rows:
                return done
            for event in rows:
                event.escalation_level = level
                if level == 2:
                    event.escalated_at = now
            Event.objects.bulk_update(rows, ["escalation_level", "escalated_at"])
            Notification.objects.bulk_create(
                Notification(
                    event=e, kind=kind, message=_message(e, kind), region_code=e.district_code, created_at=now
                )
                for e in rows
            )
            done += len(rows)


def events_escalate(*, now: dt.datetime | None = None) -> EscalationResult:
    """Mark overdue and escalate; returns how many events moved to each level in this run."""
    now = now or timezone.now()
    overdue = _sweep(level=1, deadline_field="due_at", kind=NotificationKind.OVERDUE, now=now)
    escalated = _sweep(level=2, deadline_field="escalate_at", kind=NotificationKind.ESCALATED, now=now)
    return EscalationResult(overdue, escalated)
