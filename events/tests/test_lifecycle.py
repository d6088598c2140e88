"""The lifecycle (events/services/lifecycle.py, POST /api/v1/events/<id>/transitions): the
standard flow with its time limits over a holiday and a swapped working day, the side
paths, who may do what, and every transition out of order a 409 listing the allowed ones."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.services import user_create
from events import flow
from events.models import Event, EventTransition, WorkCalendarDay
from events.selectors.calendar import work_calendar
from events.services.clock import event_colour
from events.services.lifecycle import event_merge, event_transition
from events.services.reporting import ReportInput, event_report
from gis_core.errors import Conflict, InvalidInput, NotFound

from .conftest import LIMITS, PASSWORD, client_for, local, principal

URL = "/api/v1/events"


@pytest.fixture
def national_day(db):
    """2026: 10-01 … 10-07 off; Sunday 09-20 and Saturday 10-10 worked (调休)."""
    days = {dt.date(2026, 10, d): False for d in range(1, 8)}
    days |= {dt.date(2026, 9, 20): True, dt.date(2026, 10, 10): True}
    # the demo city loads the published calendar, which says the same; set it for a database without
    for day, is_workday in days.items():
        WorkCalendarDay.objects.update_or_create(date=day, defaults={"is_workday": is_workday})


def report(who, category, place, *, at=None) -> Event:
    data = ReportInput(
        category=category.code, description="道路破损", point=(place.lon, place.lat), reported_at=at
    )
    return event_report(principal=who, data=data, now=at).event


def step(who, event, action, at=None, **kwargs) -> Event:
    return event_transition(
        principal=who, event_id=event.pk, action=action, note=f"{action} 意见", at=at, **kwargs
    )


def test_the_standard_flow_over_a_holiday_and_a_swapped_working_day(
    national_day, root, category, a_place, departments
):
    # Wednesday 09-30 16:00, the day before the National Day holiday
    event = report(root, category, a_place, at=local(2026, 9, 30, 16, 0))
    assert event.due_at == local(2026, 9, 30, 17, 0)  # verify: 1 working hour

    event = step(root, event, "verify", at=local(2026, 9, 30, 16, 30))
    assert event.due_at == local(2026, 9, 30, 17, 30)  # register: 1 working hour
    event = step(root, event, "register", at=local(2026, 9, 30, 17, 20))
    # dispatch: 10 minutes left on 09-30, then nothing until Thursday 10-08
    assert event.due_at == local(2026, 10, 8, 9, 20)

    event = step(root, event, "dispatch", at=local(2026, 10, 9, 16, 0), department_id=departments["a"].pk)
    # handle, 2 working days (14 h): 1.5 h on Friday 10-09, 7 h on the worked Saturday 10-10,
    # Sunday off, 5.5 h on Monday 10-12
    assert event.due_at == local(2026, 10, 12, 16, 0)
    assert event.warn_at == local(2026, 10, 12, 11, 12)  # 80 % of 14 h
    assert event.department == departments["a"]
    calendar = work_calendar()
    assert event_colour(event, now=local(2026, 10, 12, 11, 0), calendar=calendar) == "green"
    assert event_colour(event, now=local(2026, 10, 12, 11, 12), calendar=calendar) == "yellow"
    assert event_colour(event, now=local(2026, 10, 12, 16, 0), calendar=calendar) == "red"

    event = step(root, event, "handle", at=local(2026, 10, 10, 10, 0))  # on the worked Saturday
    assert event.due_at == local(2026, 10, 10, 12, 0)  # check: 2 working hours
    event = step(root, event, "check", at=local(2026, 10, 10, 11, 0))
    event = step(root, event, "close", at=local(2026, 10, 10, 11, 30))

    assert (event.state, event.closed_at, event.due_at) == ("closed", local(2026, 10, 10, 11, 30), None)
    assert event_colour(event, now=local(2026, 10, 10, 12, 0), calendar=calendar) is None
    history = list(EventTransition.objects.filter(event=event).order_by("at", "id"))
    assert [(t.action, t.from_state, t.to_state) for t in history] == [
        ("report", "", "reported"),
        ("verify", "reported", "verified"),
        ("register", "verified", "registered"),
        ("dispatch", "registered", "dispatched"),
        ("handle", "dispatched", "handled"),
        ("check", "handled", "checked"),
        ("close", "checked", "closed"),
    ]
    # each transition knows whether it ended its step in time: dispatch was late
    assert [t.on_time for t in history[1:]] == [True, True, False, True, True, True]
    assert all(t.actor == "user:root" and t.note for t in history[1:])


def test_suspension_stops_the_clock(national_day, root, category, a_place, departments):
    event = report(root, category, a_place, at=local(2026, 10, 9, 9, 0))
    for action, at in (("verify", (9, 10)), ("register", (9, 20)), ("dispatch", (9, 30))):
        event = step(root, event, action, at=local(2026, 10, 9, *at), department_id=departments["a"].pk)
    assert event.due_at == local(2026, 10, 12, 9, 30)  # 14 working hours, Saturday 10-10 worked

    # suspended after 10 of the 14 hours (6 on Friday, 4 on the worked Saturday): 4 left
    event = step(root, event, "suspend", at=local(2026, 10, 10, 14, 30))
    assert (event.state, event.resume_state, event.due_at) == ("suspended", "dispatched", None)
    assert event.spent_s == pytest.approx(10 * 3600)
    calendar = work_calendar()
    assert event_colour(event, now=local(2026, 12, 1, 9, 0), calendar=calendar) == "green"  # stopped
    assert flow.actions_from("suspended", frozenset({"events:manage"})) == ["resume", "merge"]

    event = step(root, event, "resume", at=local(2026, 10, 20, 9, 0))  # Tuesday, ten days later
    assert (event.state, event.resume_state, event.department) == ("dispatched", "", departments["a"])
    assert event.due_at == local(2026, 10, 20, 15, 0)  # the 4 hours left: 3 before lunch, 1 after
    assert event.warn_at == local(2026, 10, 20, 10, 12)  # yellow at 11.2 of 14 hours


def test_return_reassign_and_invalidate(root, category, a_place, departments):
    event = report(root, category, a_place)
    event = step(root, event, "verify")
    event = step(root, event, "return")  # back to verification
    assert event.state == "reported"
    event = step(root, step(root, event, "verify"), "register")
    event = step(root, event, "dispatch")  # the category's default department of the district
    assert event.department == departments["a"]
    event = step(root, event, "reassign", department_id=departments["a_build"].pk)
    assert (event.state, event.department) == ("dispatched", departments["a_build"])
    with pytest.raises(InvalidInput, match="相同"):
        step(root, event, "reassign", department_id=departments["a_build"].pk)
    event = step(root, event, "return")  # the department hands it back
    assert (event.state, event.department) == ("registered", None)
    event = step(root, step(root, event, "dispatch", department_id=departments["city"].pk), "handle")
    event = step(root, event, "return")  # the on-site check failed: back to the department
    assert (event.state, event.department) == ("dispatched", departments["city"])

    other = step(root, report(root, category, a_place), "verify")
    other = step(root, other, "invalidate")
    assert other.state == "invalid" and other.closed_at is not None


def test_dispatch_needs_a_department_of_the_events_area(root, category, a_place, departments):
    event = step(root, step(root, report(root, category, a_place), "verify"), "register")
    with pytest.raises(InvalidInput, match="不负责"):
        step(root, event, "dispatch", department_id=departments["b"].pk)  # B's bureau
    with pytest.raises(InvalidInput, match="不负责"):
        step(root, event, "dispatch", department_id=999_999)
    category.department_name = ""
    category.parent.department_name = ""
    category.save()
    category.parent.save()
    with pytest.raises(InvalidInput, match="请指定处置部门"):
        step(root, event, "dispatch")
    assert Event.objects.get(pk=event.pk).state == "registered"


def _event_in(state: str, who, category, place, departments) -> Event:
    """An event driven to ``state`` through the flow."""
    event = report(who, category, place)
    if state == "merged":
        original = report(who, category, place)
        return event_merge(principal=who, event_id=event.pk, original_id=original.pk, note="重复")
    for action in flow.PATH_TO[state]:
        event = step(who, event, action, department_id=departments["a"].pk if action == "dispatch" else None)
    return event


@pytest.mark.parametrize("state", list(flow.STATES))
def test_every_transition_out_of_order_is_409_with_the_allowed_ones(
    api, category, a_place, departments, state
):
    root = principal(None, region=None)
    event = _event_in(state, root, category, a_place, departments)
    assert event.state == state
    allowed = flow.actions_from(state)
    detail = api.get(f"{URL}/{event.pk}").json()["properties"]
    assert [a["action"] for a in detail["allowed_actions"]] == allowed

    for action in flow.ACTIONS:
        if action in allowed or action == "merge":
            continue
        body = {"action": action, "note": "试一试", "department": departments["a"].pk}
        response = api.post(f"{URL}/{event.pk}/transitions", body, format="json")
        assert response.status_code == 409, (state, action, response.content)
        error = response.json()["error"]
        assert error["code"] == "invalid_transition"
        assert error["details"] == {"state": state, "action": action, "allowed": allowed}
        assert flow.STATES[state] in error["message"]
    assert Event.objects.get(pk=event.pk).state == state
    assert EventTransition.objects.filter(event=event, at__gt=event.updated_at).count() == 0


def test_a_transition_based_on_a_stale_state_is_409(api, root, category, a_place):
    event = report(root, category, a_place)
    response = api.post(
        f"{URL}/{event.pk}/transitions",
        {"action": "verify", "note": "属实", "state": "verified"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["details"]["allowed"] == ["verify", "merge"]
    ok = api.post(
        f"{URL}/{event.pk}/transitions",
        {"action": "verify", "note": "属实", "state": "reported"},
        format="json",
    )
    assert ok.status_code == 200 and ok.json()["properties"]["state"] == "verified"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"action": "verify"}, "invalid"),  # no note
        ({"action": "verify", "note": "   "}, "invalid"),
        ({"action": "fly", "note": "x"}, "invalid"),
        ({"action": "merge", "note": "x"}, "invalid"),
        ({"action": "verify", "note": "x", "state": "nowhere"}, "invalid"),
        ({"action": "verify", "note": "x" * 2001}, "invalid"),
    ],
)
def test_bad_transition_requests(api, root, category, a_place, body, code):
    event = report(root, category, a_place)
    response = api.post(f"{URL}/{event.pk}/transitions", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert Event.objects.get(pk=event.pk).state == "reported"


def test_who_may_do_what(root, category, a_place, a_place2, departments):
    event = report(root, category, a_place)
    staff = user_create(
        username="ev_staff", password=PASSWORD, roles=["field_staff"], grid_codes=[a_place.grid_code]
    )
    staff_api = client_for(staff)
    url = f"{URL}/{event.pk}/transitions"

    # field staff verify in their grid …
    assert staff_api.post(url, {"action": "verify", "note": "现场核实属实"}, format="json").status_code == 200
    # … but do not register
    response = staff_api.post(url, {"action": "register", "note": "立案"}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "missing_scope"
    # and do not see events of another grid
    elsewhere = report(root, category, a_place2)
    assert (
        staff_api.post(
            f"{URL}/{elsewhere.pk}/transitions", {"action": "verify", "note": "x"}, format="json"
        ).status_code
        == 404
    )
    assert staff_api.get(f"{URL}/{elsewhere.pk}").status_code == 404

    event = step(root, step(root, event, "register"), "dispatch", department_id=departments["a"].pk)
    handler = user_create(username="ev_dept", password=PASSWORD, roles=["department"], region_code="510502")
    other = user_create(username="ev_dept2", password=PASSWORD, roles=["department"], region_code="510502")
    departments["a"].handlers.add(handler)
    departments["a_build"].handlers.add(other)
    operator = client_for(
        user_create(username="ev_op", password=PASSWORD, roles=["operator"], region_code="510502")
    )

    # the operator does not handle; another department may not either
    response = operator.post(url, {"action": "handle", "note": "已处置"}, format="json")
    assert response.status_code == 403
    response = client_for(other).post(url, {"action": "handle", "note": "已处置"}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "not_your_department"
    detail = client_for(other).get(f"{URL}/{event.pk}").json()["properties"]
    assert detail["allowed_actions"] == []
    detail = client_for(handler).get(f"{URL}/{event.pk}").json()["properties"]
    assert [a["action"] for a in detail["allowed_actions"]] == ["handle", "return"]

    response = client_for(handler).post(url, {"action": "handle", "note": "已清理修复"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["properties"]["transitions"][-1]["actor"] == "user:ev_dept"
    # the field staff check on site, the operator closes
    assert staff_api.post(url, {"action": "check", "note": "核查通过"}, format="json").status_code == 200
    response = operator.post(url, {"action": "close", "note": "结案"}, format="json")
    assert response.status_code == 200 and response.json()["properties"]["state"] == "closed"
    assert response.json()["properties"]["colour"] is None


def test_district_a_cannot_see_or_move_district_b_events(operator_a_api, root, category, b_place, a_place):
    theirs = report(root, category, b_place)
    mine = report(root, category, a_place)
    base = f"{URL}/{theirs.pk}"
    for response in (
        operator_a_api.get(base),
        operator_a_api.get(f"{base}/duplicates"),
        operator_a_api.post(f"{base}/transitions", {"action": "verify", "note": "x"}, format="json"),
        operator_a_api.post(f"{base}/merge", {"original": mine.pk, "note": "x"}, format="json"),
        operator_a_api.post(f"{URL}/{mine.pk}/merge", {"original": theirs.pk, "note": "x"}, format="json"),
    ):
        assert response.status_code == 404, response.content
        assert "510504" not in response.content.decode()
    assert Event.objects.get(pk=theirs.pk).state == "reported"
    assert Event.objects.get(pk=mine.pk).state == "reported"
    with pytest.raises(NotFound):
        step(principal("operator"), theirs, "verify")


def test_merge(api, root, category, a_place):
    original = report(root, category, a_place)
    duplicate = report(root, category, a_place)

    response = api.post(
        f"{URL}/{duplicate.pk}/merge", {"original": original.pk, "note": "同一处垃圾"}, format="json"
    )

    assert response.status_code == 200, response.content
    props = response.json()["properties"]
    assert (props["state"], props["duplicate_of"], props["colour"]) == ("merged", original.pk, None)
    assert props["closed_at"] is not None
    assert (
        props["transitions"][-1]["action"] == "merge" and str(original.pk) in props["transitions"][-1]["note"]
    )
    assert Event.objects.get(pk=original.pk).state == "reported"
    listed = api.get(f"{URL}/{original.pk}/duplicates").json()
    assert listed["merged"] == [duplicate.pk] and listed["results"] == []

    # a finished event cannot be merged again; nothing merges into a merged one
    again = api.post(f"{URL}/{duplicate.pk}/merge", {"original": original.pk, "note": "x"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["details"]["allowed"] == []
    third = report(root, category, a_place)
    response = api.post(f"{URL}/{third.pk}/merge", {"original": duplicate.pk, "note": "x"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "invalid_original"
    for body, status in (
        ({"original": third.pk, "note": "x"}, 400),  # itself
        ({"original": original.pk}, 400),  # no note
        ({"original": "abc", "note": "x"}, 400),
        ({"original": 987_654_321, "note": "x"}, 404),
    ):
        assert api.post(f"{URL}/{third.pk}/merge", body, format="json").status_code == status, body
    with pytest.raises(Conflict):
        event_merge(principal=root, event_id=duplicate.pk, original_id=third.pk, note="x")


def test_merge_is_for_operators(db, root, category, a_place):
    staff = client_for(
        user_create(
            username="ev_staff2", password=PASSWORD, roles=["field_staff"], grid_codes=[a_place.grid_code]
        )
    )
    original, duplicate = report(root, category, a_place), report(root, category, a_place)
    response = staff.post(
        f"{URL}/{duplicate.pk}/merge", {"original": original.pk, "note": "x"}, format="json"
    )
    assert response.status_code == 403
    assert Event.objects.get(pk=duplicate.pk).state == "reported"


def test_dispatch_without_a_department_goes_to_the_one_bound_to_the_grid(
    root, category, a_place, departments
):
    from accounts.scoping import Jurisdiction
    from events.models import EventCategory
    from grids.services.staff import grid_department_bind

    no_default = EventCategory.objects.create(
        code="T0102", name="无默认部门", kind="event", parent=category.parent, time_limits=dict(LIMITS)
    )
    no_default.parent.department_name = ""
    no_default.parent.save()
    unbound = report(root, no_default, a_place)
    for action in ("verify", "register"):
        step(root, unbound, action)
    with pytest.raises(InvalidInput, match="请指定处置部门"):
        step(root, unbound, "dispatch")
    grid_department_bind(
        grid_code=a_place.grid_code,
        department_id=departments["a_build"].pk,
        jurisdiction=Jurisdiction(nationwide=True),
    )
    assert (
        step(root, unbound, "dispatch").department == departments["a_build"]
    )  # 网格入格: the grid's tasks reach it
