"""Demo events (events/demo.py), as demo_city_build writes them into the test database."""

from __future__ import annotations

from events import flow
from events.demo import demo_events_create
from events.models import Department, Event, EventCategory, WorkCalendarDay

from .conftest import local

CITY = "5105"


def test_the_demo_city_has_events_in_every_state(db):
    events = Event.objects.filter(district_code__startswith=CITY)
    assert 150 <= events.count() <= 200
    assert set(events.values_list("state", flat=True)) == set(flow.STATES)
    assert {"510502000000", "510504000000"} <= set(events.values_list("district_code", flat=True))
    for grid, region, street, district in events.values_list(
        "grid_code", "region_code", "street_code", "district_code"
    ):
        assert (
            grid[:12] == region
            and region[:9].ljust(12, "0") == street
            and region[:6].ljust(12, "0") == district
        )
    assert not events.filter(state="dispatched", department__isnull=True).exists()
    assert (
        events.filter(state="merged", duplicate_of__isnull=False).count()
        == events.filter(state="merged").count()
    )
    assert EventCategory.objects.filter(parent__isnull=False).count() >= 70
    assert WorkCalendarDay.objects.filter(date__year=2026, is_workday=False).exists()
    assert Department.objects.filter(region_code="510502000000", name="城市管理局").exists()


def _signature() -> list[tuple]:
    rows = Event.objects.filter(district_code__startswith=CITY).order_by("reported_at", "id")
    return list(
        rows.values_list("category__code", "grid_code", "state", "source", "reported_at", "client_id")
    )


def test_the_demo_events_are_deterministic(db):
    now = local(2026, 11, 20, 10, 0)
    assert demo_events_create(7, count=30, now=now) > 20
    first = _signature()
    demo_events_create(7, count=30, now=now)
    assert _signature() == first
    demo_events_create(8, count=30, now=now)
    assert _signature() != first


def test_demo_department_users_handle_their_district_bureau(db):
    from django.contrib.auth import get_user_model

    from demo.services import demo_users_create
    from events.selectors.events import handler_department_ids

    rows = {username: where for username, _, role, where in demo_users_create() if role == "department"}
    assert rows == {
        "jiangyang_department": "江阳区 城市管理局",
        "longmatan_department": "龙马潭区 城市管理局",
    }
    user = get_user_model().objects.get(username="jiangyang_department")
    bureau = Department.objects.get(name="城市管理局", region_code="510502000000")
    assert handler_department_ids(user.pk) == {bureau.pk}
