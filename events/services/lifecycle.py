"""The lifecycle of an event: one transition at a time, recorded with its actor and time.

Every transition locks the event row (``SELECT … FOR UPDATE``) before it reads the
state, so of two concurrent transitions of the same event one wins and the other
finds the new state: if its action is no longer possible it gets 409 with the
actions that are.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from accounts.permissions import SCOPES, Principal
from accounts.scoping import scope_queryset
from gis_core.codes import ancestor_codes
from gis_core.errors import Conflict, InvalidInput, NotFound
from grids.selectors.staff import departments_for_grid

from .. import flow
from ..errors import Forbidden
from ..models import Department, Event, EventTransition
from ..selectors.calendar import work_calendar
from ..selectors.events import department_allows, most_local_department
from .attachments import StoredFiles, attachments_check, attachments_save
from .clock import clock_start, clock_stop

__all__ = ["event_merge", "event_transition"]

NOTE_MAX = 2000


def _note(note: str | None) -> str:
    text = (note or "").strip()
    if not text:
        raise InvalidInput("缺少处理意见 note", details={"note": "required"})
    if len(text) > NOTE_MAX:
        raise InvalidInput(f"处理意见过长（上限 {NOTE_MAX} 字）", details={"note": len(text)})
    return text


def _locked(event_id: int, principal: Principal) -> Event:
    """The event, locked for this transaction, if the caller may see it (404 otherwise)."""
    qs = scope_queryset(Event.objects.all(), principal.jurisdiction)
    event = (
        qs.select_for_update(of=("self",))
        .select_related("category", "category__parent")
        .filter(pk=event_id)
        .first()
    )
    if event is None:
        raise NotFound(f"事件 {event_id} 不存在")
    return event


def _invalid_transition(event: Event, action: str, *, stale: str | None = None) -> Conflict:
    """409 listing the actions the flow allows from the event's state (``stale``: the state
    the request was based on, when the event has left it)."""
    allowed = flow.actions_from(event.state)
    state = flow.STATES[event.state]
    names = "、".join(f"{a}（{flow.ACTIONS[a]}）" for a in allowed) or "无（流程已结束）"
    if stale:
        problem = f"事件状态已变为{state}（请求基于{flow.STATES.get(stale, stale)}）"
    else:
        problem = f"事件当前状态为{state}，不能{flow.ACTIONS.get(action, action)}"
    return Conflict(
        f"{problem}；可进行的操作：{names}",
        code="invalid_transition",
        details={"state": event.state, "action": action, "allowed": allowed},
    )


def _department(event: Event, department_id: int | None) -> Department:
    """The department to dispatch to: the one named, or the category's default; either way one
    whose region contains the event."""
    covering = Department.objects.filter(active=True, region_code__in=ancestor_codes(event.region_code))
    if department_id is not None:
        department = covering.filter(pk=department_id).first()
        if department is None:
            raise InvalidInput(
                f"处置部门 {department_id} 不存在或不负责该事件所在区域",
                details={"department": department_id},
            )
        return department
    name = event.category.department_name or (event.category.parent and event.category.parent.department_name)
    # a department bound to the event's grid (网格入格) takes the grid's tasks first
    bound = [d for d in departments_for_grid(event.grid_code) if not name or d.name == name]
    if bound:
        return bound[0]
    pk = most_local_department(covering.filter(name=name).values_list("region_code", "pk"), event.region_code)
    if not name or pk is None:
        raise InvalidInput(
            "请指定处置部门 department（该分类没有可用的默认处置部门）", details={"department": "required"}
        )
    return Department.objects.get(pk=pk)


def event_transition(
    *,
    principal: Principal,
    event_id: int,
    action: str,
    note: str,
    department_id: int | None = None,
    expected_state: str | None = None,
    uploads: list = (),
    at: dt.datetime | None = None,
) -> Event:
    """Take ``action`` on the event: 404 outside the jurisdiction, 409 if the flow does not
    allow it from the current state (or the state is no longer ``expected_state``), 403 if
    the caller's scopes (or department) do not."""
    if action not in flow.ACTIONS:
        raise InvalidInput(
            f"未知操作 {action}；可选 {'、'.join(flow.ACTIONS)}",
            code="unknown_action",
            details={"action": action},
        )
    if action == "merge":
        raise InvalidInput(
            "合并请用 POST /api/v1/events/<id>/merge，并给出原事件 original", details={"action": action}
        )
    text = _note(note)
    files = attachments_check(list(uploads))
    with StoredFiles() as stored, transaction.atomic():
        at = at or timezone.now()
        event = _locked(event_id, principal)
        if expected_state and event.state != expected_state:
            raise _invalid_transition(event, action, stale=expected_state)
        step = flow.find_transition(event.state, action)
        if step is None:
            raise _invalid_transition(event, action)
        if not step.scopes & principal.scopes:
            needed = " 或 ".join(sorted(step.scopes))
            raise Forbidden(
                f"缺少权限范围 {needed}（{SCOPES.get(min(step.scopes), '')}），不能{flow.ACTIONS[action]}",
                details={"action": action, "scopes": sorted(step.scopes)},
            )
        if not department_allows(event, principal, action):
            raise Forbidden(
                "该事件未派遣给您所在的处置部门", code="not_your_department", details={"action": action}
            )
        department = _department(event, department_id) if step.needs_department else None
        if action == "reassign" and department.pk == event.department_id:
            raise InvalidInput("改派的处置部门与当前部门相同", details={"department": department.pk})

        source, step_due_at, dispatched_to = event.state, event.due_at, event.department_id
        step_started_at = event.step_started_at
        calendar = work_calendar()
        if action == "suspend":
            clock_stop(event, at=at, calendar=calendar)
            event.resume_state, event.state = source, "suspended"
        elif action == "resume":
            spent = event.spent_s or 0.0
            event.state, event.resume_state = event.resume_state, ""
            clock_start(event, at=at, calendar=calendar, spent=spent, started_at=event.step_started_at)
        else:
            event.state = step.target
            clock_start(event, at=at, calendar=calendar)
        if department is not None:
            event.department = department
        elif action == "return" and source == "dispatched":
            event.department = None  # handed back: dispatched to nobody until dispatched again
        if event.state in flow.TERMINAL_STATES:
            event.closed_at = at
        event.save()
        transition = EventTransition.objects.create(
            event=event, from_state=source, to_state=event.state, action=action, actor=principal.label,
            note=text, at=at, step_due_at=step_due_at, step_started_at=step_started_at,
            # the department dispatched to, or the one that handled or handed back
            department_id=department.pk if department else event.department_id or dispatched_to,
        )  # fmt: skip
        attachments_save(event=event, transition=transition, files=files, stored=stored)
    return event


def event_merge(
    *, principal: Principal, event_id: int, original_id: int, note: str, at: dt.datetime | None = None
) -> Event:
    """Close a duplicate (合并) into its original: it ends ``merged``, pointing at the original."""
    if "events:manage" not in principal.scopes:
        raise Forbidden(f"缺少权限范围 events:manage（{SCOPES['events:manage']}），不能合并事件")
    text = _note(note)
    if event_id == original_id:
        raise InvalidInput("不能把事件合并到它自己", details={"original": original_id})
    with transaction.atomic():
        at = at or timezone.now()
        # lock both rows in id order, so two merges of the same pair cannot deadlock
        rows = {pk: _locked(pk, principal) for pk in sorted((event_id, original_id))}
        duplicate, original = rows[event_id], rows[original_id]
        if flow.find_transition(duplicate.state, "merge") is None:
            raise _invalid_transition(duplicate, "merge")
        if original.state in ("merged", "invalid"):
            raise Conflict(
                f"原事件 {original.pk} {flow.STATES[original.state]}，不能作为合并目标",
                code="invalid_original",
                details={"original": original.pk, "state": original.state},
            )
        source, step_due_at, step_started_at = duplicate.state, duplicate.due_at, duplicate.step_started_at
        duplicate.state, duplicate.resume_state = "merged", ""
        duplicate.duplicate_of = original
        duplicate.closed_at = at
        clock_start(duplicate, at=at, calendar=work_calendar())  # a finished event: no clock
        duplicate.save()
        EventTransition.objects.create(
            event=duplicate, from_state=source, to_state="merged", action="merge", actor=principal.label,
            note=f"合并到事件 {original.pk}：{text}", at=at, step_due_at=step_due_at,
            step_started_at=step_started_at,
        )  # fmt: skip
    return duplicate
