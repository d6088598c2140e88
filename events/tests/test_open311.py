"""The read-only Open311 GeoReport v2 view: services, requests, a request by id, the state
mapping with the extended state, XML, the api_key parameter, scoping and errors."""

from __future__ import annotations

import datetime as dt
from xml.etree import ElementTree as ET

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import apikey_issue
from events.services.lifecycle import event_merge, event_transition
from events.services.reporting import ReportInput, event_report

BASE = "/api/v1/open311/v2"


@pytest.fixture
def reports(db, root, category, a_place, a_place2, departments) -> dict:
    """Four events of the test category in A: open (dispatched), closed, invalid, merged."""

    def report(place, hours_ago, text):
        at = timezone.now() - dt.timedelta(hours=hours_ago)
        data = ReportInput(
            category=category.code, description=text, point=(place.lon, place.lat), reported_at=at,
            address="江阳区测试路 1 号",
        )  # fmt: skip
        return event_report(principal=root, data=data, now=at).event

    def steps(event, *actions, **kwargs):
        for action in actions:
            extra = {"department_id": departments["a"].pk} if action == "dispatch" else {}
            event_transition(principal=root, event_id=event.pk, action=action, note=f"{action} 意见", **extra)

    dispatched, closed = report(a_place, 5, "井盖缺失"), report(a_place2, 4, "路灯不亮")
    invalid, merged = report(a_place, 3, "误报"), report(a_place, 2, "井盖缺失（重复）")
    steps(dispatched, "verify", "register", "dispatch")
    steps(closed, "verify", "register", "dispatch", "handle", "check", "close")
    steps(invalid, "verify", "invalidate")
    event_merge(principal=root, event_id=merged.pk, original_id=dispatched.pk, note="同一井盖")
    return {"dispatched": dispatched, "closed": closed, "invalid": invalid, "merged": merged}


def get(api, path, **params):
    return api.get(
        f"{BASE}/{path}", {"service_code": "T0101", **params} if path.startswith("requests.") else params
    )


def test_services_are_the_minor_classes(operator_a_api, category):
    services = operator_a_api.get(f"{BASE}/services.json").json()
    mine = next(s for s in services if s["service_code"] == "T0101")
    assert mine["service_name"] == "测试小类" and mine["group"] == "测试大类"
    assert mine["type"] == "realtime" and mine["metadata"] is False and "处置 2d" in mine["description"]
    assert all(s["service_code"] for s in services) and not any(s["service_code"] == "T01" for s in services)
    xml = ET.fromstring(operator_a_api.get(f"{BASE}/services.xml").content)
    assert xml.tag == "services" and "T0101" in {s.findtext("service_code") for s in xml.findall("service")}
    definition = operator_a_api.get(f"{BASE}/services/T0101.json").json()
    assert definition == {"service_code": "T0101", "attributes": []}
    missing = operator_a_api.get(f"{BASE}/services/NOPE.json")
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404


def test_requests_map_the_lifecycle_to_open_and_closed(operator_a_api, reports):
    rows = get(operator_a_api, "requests.json", extensions="true").json()
    by_id = {int(r["service_request_id"]): r for r in rows}
    assert set(by_id) == {e.pk for e in reports.values()}
    assert [int(r["service_request_id"]) for r in rows] == [
        reports[k].pk for k in ("merged", "invalid", "closed", "dispatched")
    ]  # newest first
    dispatched = by_id[reports["dispatched"].pk]
    assert dispatched["status"] == "open" and dispatched["agency_responsible"] == "城市管理局"
    assert dispatched["extended_attributes"]["state"] == "dispatched"
    assert dispatched["extended_attributes"]["state_name"] == "已派遣"
    assert dispatched["extended_attributes"]["colour"] == "green"
    assert dispatched["status_notes"].startswith("已派遣") and dispatched["expected_datetime"]
    assert dispatched["lat"] == pytest.approx(reports["dispatched"].geom.y)
    assert dispatched["address"] == "江阳区测试路 1 号" and dispatched["service_code"] == "T0101"
    for key, note in (("closed", "已结案"), ("invalid", "已作废"), ("merged", "已合并")):
        row = by_id[reports[key].pk]
        assert row["status"] == "closed" and row["status_notes"].startswith(note)
        assert row["extended_attributes"]["state"] == key and row["expected_datetime"] is None
    assert by_id[reports["merged"].pk]["extended_attributes"]["duplicate_of"] == str(reports["dispatched"].pk)
    assert "extended_attributes" not in get(operator_a_api, "requests.json").json()[0]


def test_request_filters(operator_a_api, reports):
    def ids(**params):
        return {int(r["service_request_id"]) for r in get(operator_a_api, "requests.json", **params).json()}

    assert ids(status="open") == {reports["dispatched"].pk}
    assert ids(status="closed") == {reports[k].pk for k in ("closed", "invalid", "merged")}
    assert ids(status="open,closed") == {e.pk for e in reports.values()}
    start = (timezone.now() - dt.timedelta(hours=3, minutes=30)).isoformat()
    assert ids(start_date=start) == {reports["invalid"].pk, reports["merged"].pk}
    assert ids(end_date=start) == {reports["dispatched"].pk, reports["closed"].pk}
    assert ids(start_date="2000-01-01", end_date="2000-02-01") == set()
    assert ids(page_size=1, page=2) == {reports["invalid"].pk}
    wanted = f"{reports['closed'].pk},{reports['invalid'].pk}"
    listed = operator_a_api.get(
        f"{BASE}/requests.json", {"service_request_id": wanted, "status": "open"}
    ).json()
    assert {int(r["service_request_id"]) for r in listed} == {reports["closed"].pk, reports["invalid"].pk}


def test_a_request_by_id_in_json_and_xml(operator_a_api, reports):
    event = reports["closed"]
    rows = operator_a_api.get(f"{BASE}/requests/{event.pk}.json").json()
    assert len(rows) == 1 and rows[0]["service_request_id"] == str(event.pk) and rows[0]["status"] == "closed"
    xml = ET.fromstring(operator_a_api.get(f"{BASE}/requests/{event.pk}.xml", {"extensions": "true"}).content)
    assert xml.tag == "service_requests"
    request = xml.find("request")
    assert request.findtext("service_request_id") == str(event.pk)
    assert request.findtext("status") == "closed"
    assert request.find("extended_attributes").findtext("state") == "closed"


def test_the_key_may_come_as_api_key_and_scoping_holds(reports, operator_b_api):
    a_key = apikey_issue(name="12345 热线 A", scopes=["events:read"], region_code="510502").token
    b_key = apikey_issue(name="12345 热线 B", scopes=["events:read"], region_code="510504").token
    anonymous = APIClient()
    event = reports["dispatched"]
    ok = anonymous.get(f"{BASE}/requests/{event.pk}.json", {"api_key": a_key})
    assert ok.status_code == 200 and ok.json()[0]["service_request_id"] == str(event.pk)
    hidden = anonymous.get(f"{BASE}/requests/{event.pk}.json", {"api_key": b_key})
    assert hidden.status_code == 404 and hidden.json() == [
        {"code": 404, "description": f"服务请求 {event.pk} 不存在"}
    ]
    assert anonymous.get(f"{BASE}/requests.json", {"api_key": b_key, "service_code": "T0101"}).json() == []
    assert operator_b_api.get(f"{BASE}/requests/{event.pk}.json").status_code == 404
    # the parameter is read on the Open311 routes only
    assert anonymous.get("/api/v1/events", {"api_key": a_key}).status_code == 401


@pytest.mark.parametrize(
    ("path", "params", "status", "fragment"),
    [
        ("requests.json", {"status": "pending"}, 400, "status"),
        ("requests.json", {"start_date": "yesterday"}, 400, "start_date"),
        ("requests.json", {"start_date": "2024-05-02", "end_date": "2024-05-01"}, 400, "end_date"),
        ("requests.json", {"service_request_id": "1,x"}, 400, "service_request_id"),
        ("requests.json", {"page_size": "5000"}, 400, "page_size"),
        ("requests.json", {"extensions": "perhaps"}, 400, "extensions"),
        ("requests/987654321.json", {}, 404, "987654321"),
    ],
)
def test_errors_in_the_open311_form(operator_a_api, path, params, status, fragment):
    response = operator_a_api.get(f"{BASE}/{path}", params)
    assert response.status_code == status
    [error] = response.json()
    assert error["code"] == status and fragment in error["description"]
    xml = operator_a_api.get(f"{BASE}/{path.replace('.json', '.xml')}", params)
    assert xml.status_code == status
    assert ET.fromstring(xml.content).find("error").findtext("code") == str(status)


def test_unauthenticated_is_401_in_the_open311_form(db):
    response = APIClient().get(f"{BASE}/services.xml")
    assert response.status_code in (401, 403)
    assert ET.fromstring(response.content).tag == "errors"
    bad_key = APIClient().get(f"{BASE}/services.json", {"api_key": "cg_00000000_" + "x" * 43})
    assert bad_key.status_code == 401 and bad_key.json()[0]["code"] == 401
