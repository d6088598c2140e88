"""The overdue sweep (events/services/escalation.py, the beat task) and the notices it leaves
(GET/POST /api/v1/notifications)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings

from accounts.services import user_create
from events.models import Event, Notification, NotificationRead
from events.services.escalation import events_escalate
from events.services.lifecycle import event_transition
from events.services.reporting import ReportInput, event_report
from events.tasks import escalate_overdue

from .conftest import PASSWORD, client_for, local

URL = "/api/v1/notifications"


def report(who, category, place, at) -> Event:
    data = ReportInput(category=category.code, description="x", point=(place.lon, place.lat), reported_at=at)
    return event_report(principal=who, data=data, now=at).event


def mine(kind=None):
    qs = Notification.objects.filter(event__category__code="T0101")
    return qs.filter(kind=kind) if kind else qs


def test_overdue_then_escalated_once_each(root, category, a_place):
    event = report(root, category, a_place, at=local(2026, 11, 16, 9, 0))  # Monday; verify within 1 h
    assert (event.due_at, event.escalate_at) == (local(2026, 11, 16, 10, 0), local(2026, 11, 16, 11, 0))

    events_escalate(now=local(2026, 11, 16, 9, 59))
    assert not mine().exists()

    events_escalate(now=local(2026, 11, 16, 10, 0))
    events_escalate(now=local(2026, 11, 16, 10, 30))  # again: nothing new
    event.refresh_from_db()
    assert (event.escalation_level, event.escalated_at) == (1, None)
    [notice] = mine()
    assert (notice.kind, notice.region_code, notice.event_id) == ("overdue", "510502000000", event.pk)
    assert "核实环节已超时" in notice.message

    events_escalate(now=local(2026, 11, 16, 11, 0))
    events_escalate(now=local(2026, 11, 16, 12, 0))
    event.refresh_from_db()
    assert (event.escalation_level, event.escalated_at) == (2, local(2026, 11, 16, 11, 0))
    assert mine("escalated").count() == 1 and mine().count() == 2

    # the next step starts a new clock: it can be overdue again
    event = event_transition(
        principal=root, event_id=event.pk, action="verify", note="x", at=local(2026, 11, 16, 13, 0)
    )
    assert (event.escalation_level, event.escalated_at) == (0, None)
    events_escalate(now=local(2026, 11, 17, 9, 0))
    assert mine("overdue").count() == 2


def test_long_overdue_events_get_both_levels_in_one_run(root, category, a_place):
    report(root, category, a_place, at=local(2026, 11, 16, 9, 0))
    events_escalate(now=local(2026, 11, 20, 9, 0))
    assert sorted(mine().values_list("kind", flat=True)) == ["escalated", "overdue"]


def test_suspended_and_finished_events_are_not_escalated(root, category, a_place):
    suspended = report(root, category, a_place, at=local(2026, 11, 16, 9, 0))
    event_transition(
        principal=root, event_id=suspended.pk, action="verify", note="x", at=local(2026, 11, 16, 9, 10)
    )
    event_transition(
        principal=root, event_id=suspended.pk, action="suspend", note="x", at=local(2026, 11, 16, 9, 20)
    )
    invalid = report(root, category, a_place, at=local(2026, 11, 16, 9, 0))
    event_transition(
        principal=root, event_id=invalid.pk, action="verify", note="x", at=local(2026, 11, 16, 9, 10)
    )
    event_transition(
        principal=root, event_id=invalid.pk, action="invalidate", note="x", at=local(2026, 11, 16, 9, 20)
    )

    events_escalate(now=local(2026, 12, 1, 9, 0))
    assert not mine().exists()


def test_the_task_is_scheduled_and_calls_the_sweep(root, category, a_place):
    schedule = settings.CELERY_BEAT_SCHEDULE["events-escalate-overdue"]
    assert schedule["task"] == escalate_overdue.name == "events.escalate_overdue"
    assert 0 < schedule["schedule"] <= 600
    old = report(root, category, a_place, at=local(2026, 11, 2, 9, 0))
    assert old.due_at < dt.datetime.now(dt.UTC)

    result = escalate_overdue.apply().get()  # the task body, in this process

    assert result["overdue"] >= 1 and result["escalated"] >= 1
    assert mine().count() == 2
    assert escalate_overdue.apply().get() == {"overdue": 0, "escalated": 0}  # idempotent


def test_notifications_are_scoped_and_marked_read(
    operator_a_api, operator_b_api, root, category, a_place, b_place
):
    a = report(root, category, a_place, at=local(2026, 11, 16, 9, 0))
    b = report(root, category, b_place, at=local(2026, 11, 16, 9, 0))
    events_escalate(now=local(2026, 11, 16, 10, 30))
    ours = {n.pk for n in mine().filter(event=a)}
    theirs = {n.pk for n in mine().filter(event=b)}
    assert len(ours) == len(theirs) == 1

    body = operator_a_api.get(URL, {"limit": 1000}).json()
    ids = {n["id"] for n in body["results"]}
    assert ours <= ids and not theirs & ids
    assert all(n["region_code"].startswith("510502") for n in body["results"])
    assert "510504" not in str(body)

    # marking B's notice read from A does nothing
    assert operator_a_api.post(URL, {"read": sorted(theirs)}, format="json").json() == {"marked": 0}
    assert operator_a_api.post(URL, {"read": sorted(ours)}, format="json").json() == {"marked": 1}
    assert operator_a_api.post(URL, {"read": sorted(ours)}, format="json").json() == {"marked": 0}  # once
    assert NotificationRead.objects.filter(notification_id__in=ours, reader="user:ev_op_a").count() == 1
    assert not NotificationRead.objects.filter(notification_id__in=theirs).exists()
    unread = operator_a_api.get(URL, {"unread": "1", "limit": 1000}).json()
    assert not ours & {n["id"] for n in unread["results"]}
    listed = {n["id"]: n for n in operator_a_api.get(URL, {"limit": 1000}).json()["results"]}
    assert all(listed[pk]["read_at"] for pk in ours)
    # another operator of the same district keeps their own unread list
    colleague = client_for(
        user_create(username="ev_op_a2", password=PASSWORD, roles=["operator"], region_code="510502")
    )
    theirs_view = colleague.get(URL, {"unread": "1", "limit": 1000}).json()
    assert ours <= {n["id"] for n in theirs_view["results"]}
    assert all(n["read_at"] is None for n in theirs_view["results"])
    operator_a_api.post(URL, {"read": "all"}, format="json")
    assert operator_a_api.get(URL).json()["unread"] == 0
    assert colleague.get(URL).json()["unread"] == theirs_view["unread"] > 0
    assert not NotificationRead.objects.filter(notification_id__in=theirs).exists()
    for bad in ({"read": "some"}, {"read": [1, "x"]}, {}, {"read": [True]}):
        assert operator_a_api.post(URL, bad, format="json").status_code == 400, bad
    assert operator_a_api.get(URL, {"limit": "x"}).status_code == 400


@pytest.mark.parametrize("role", ["planner", "auditor"])
def test_notifications_need_events_read(db, role):
    from accounts.services import user_create

    from .conftest import PASSWORD, client_for

    client = client_for(
        user_create(username=f"ev_{role}", password=PASSWORD, roles=[role], region_code="510502")
    )
    assert client.get(URL).status_code == (200 if role == "planner" else 403)
