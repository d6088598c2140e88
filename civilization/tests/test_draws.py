"""Assessment-site draws (services/draws.py, services/frames.py) through the API: frames from POIs,
units and lists, strata and reserves, seed and verification, balance, the life of a draw and its
audit trail, and every bad input as a 4xx."""

from __future__ import annotations

import csv
import io
import re

import pytest

from accounts.models import AuditEntry
from civilization.models import AssessmentDraw, DrawSite
from civilization.services.draws import stratum_seed

from .conftest import A_CODE, A_PREFIX, B_PREFIX, grid_points

URL = "/api/v1/civilization/draws"


def _list_sites(prefix: str, n: int, kind: str = "农贸市场", weight: float | None = None) -> list[dict]:
    out = []
    for i, p in enumerate(grid_points(prefix, n)):
        site = {"type": kind, "name": f"{kind}{prefix}-{i}", "lon": p.lon, "lat": p.lat}
        if weight is not None:
            site["weight"] = weight
        out.append(site)
    return out


def _draw(client, **body):
    body.setdefault("title", "测试抽取")
    return client.post(URL, body, format="json")


@pytest.fixture
def draw(planner_a, db):
    response = _draw(
        planner_a,
        poi_categories=["学校"],
        sites=_list_sites(A_PREFIX, 12),
        counts={"学校": 1, "农贸市场": 3},
        reserves=2,
        seed=20240501,
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_draw_records_seed_frame_strata_reserves_and_balance(draw):
    assert draw["state"] == "drafted" and draw["seed"] == "20240501" and draw["method"] == "grts"
    assert len(draw["frame_sha256"]) == 64 and draw["frame_size"] >= 12
    market = next(s for s in draw["strata"] if s["type"] == "农贸市场")
    assert (market["district"], market["n"], market["drawn"], market["reserves_drawn"]) == (A_CODE, 3, 3, 2)
    sites = [s for s in draw["sites"] if s["stratum"] == market["key"]]
    assert [(s["role"], s["rank"]) for s in sites] == [
        ("base", 0),
        ("base", 1),
        ("base", 2),
        ("reserve", 0),
        ("reserve", 1),
    ]
    assert [s["active"] for s in sites] == [True, True, True, False, False]
    assert len({s["key"] for s in sites}) == 5
    assert all(s["district_code"] == A_CODE for s in draw["sites"])
    assert (
        draw["balance"] is not None and draw["srs_balance_mean"] is not None and draw["srs_replicates"] == 100
    )
    assert market["balance"] >= 0 and market["srs_balance_mean"] >= 0


def test_same_seed_same_sites_and_verify_confirms_it(planner_a, draw):
    again = _draw(
        planner_a,
        poi_categories=["学校"],
        sites=_list_sites(A_PREFIX, 12),
        counts={"学校": 1, "农贸市场": 3},
        reserves=2,
        seed=20240501,
    ).json()
    key = [(s["stratum"], s["role"], s["rank"], s["key"]) for s in draw["sites"]]
    assert [(s["stratum"], s["role"], s["rank"], s["key"]) for s in again["sites"]] == key
    assert again["frame_sha256"] == draw["frame_sha256"]
    other = _draw(planner_a, sites=_list_sites(A_PREFIX, 12), counts={"农贸市场": 3}, seed=7).json()
    assert other["seed"] == "7"
    verified = planner_a.get(f"{URL}/{draw['id']}/verify").json()
    assert verified["verified"] is True and verified["frame_matches"] and verified["differences"] == []
    # tampering with the stored frame is found
    stored = AssessmentDraw.objects.get(pk=draw["id"])
    sites = list(stored.frame.sites)
    sites[0] = {**sites[0], "lon": sites[0]["lon"] + 0.001}
    stored.frame.sites = sites
    stored.frame.save()
    assert planner_a.get(f"{URL}/{draw['id']}/verify").json()["verified"] is False


def test_a_seed_is_generated_when_none_is_given(planner_a, db):
    body = _draw(planner_a, sites=_list_sites(A_PREFIX, 6), counts={"农贸市场": 2}).json()
    assert int(body["seed"]) > 0
    assert stratum_seed(1, "a") != stratum_seed(1, "b") and stratum_seed(1, "a") == stratum_seed(1, "a")


def test_a_district_planner_draws_only_from_its_district(planner_a, planner_city, planner_b, db):
    sites = _list_sites(A_PREFIX, 6) + _list_sites(B_PREFIX, 6)
    # a list naming B sites: each B row refused
    refused = _draw(planner_a, sites=sites, counts={"农贸市场": 2})
    assert refused.status_code == 400
    assert [r["row"] for r in refused.json()["error"]["details"]["rows"]] == list(range(7, 13))
    # from POIs and units the frame is the caller's jurisdiction only
    body = _draw(
        planner_a, poi_categories=["学校", "市场"], unit_types=["文明社区"], counts={"学校": 1}
    ).json()
    frame = AssessmentDraw.objects.get(pk=body["id"]).frame.sites
    assert frame and all(s["district_code"] == A_CODE for s in frame)
    assert body["region_code"].startswith(A_PREFIX)
    # the city planner's draw over both districts: strata per district, invisible to A and B
    city = _draw(planner_city, sites=sites, counts={"农贸市场": 2}).json()
    assert {s["district"][:6] for s in city["strata"]} == {A_PREFIX, B_PREFIX}
    assert city["region_code"] == "510500000000"
    assert planner_a.get(f"{URL}/{city['id']}").status_code == 404
    assert city["id"] not in {d["id"] for d in planner_b.get(URL).json()["results"]}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"counts": {"农贸市场": 0}}, 400, "bad_count"),
        ({"counts": {"农贸市场": -1}}, 400, "bad_count"),
        ({"counts": {"农贸市场": 7}}, 400, "stratum_too_small"),
        ({"counts": {"公园": 1}}, 400, "empty_stratum"),
        ({"strata": [{"type": "农贸市场", "district": "510504", "n": 1}]}, 400, "empty_stratum"),
        ({}, 400, "no_strata"),
        ({"counts": {"农贸市场": 5}, "min_distance_m": 50_000}, 400, "min_distance_unmet"),
        ({"counts": {"农贸市场": 2}, "method": "cluster"}, 400, "invalid"),
        ({"counts": {"农贸市场": 2}, "reserves": -1}, 400, "bad_count"),
    ],
)
def test_bad_draws_are_4xx_and_write_nothing(planner_a, body, status, code, db):
    before = AssessmentDraw.objects.count()
    response = _draw(planner_a, sites=_list_sites(A_PREFIX, 6), **body)
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert AssessmentDraw.objects.count() == before


def test_weights_must_be_positive_and_sites_need_a_location(planner_a, db):
    bad = _list_sites(A_PREFIX, 4, weight=2.0)
    bad[1]["weight"] = 0
    response = _draw(planner_a, sites=bad, counts={"农贸市场": 2})
    assert response.status_code == 400 and response.json()["error"]["details"]["rows"][0]["row"] == 2
    no_point = _list_sites(A_PREFIX, 3)
    del no_point[0]["lon"]
    assert _draw(planner_a, sites=no_point, counts={"农贸市场": 1}).status_code == 400
    assert _draw(planner_a, sites=[], counts={"农贸市场": 1}).json()["error"]["code"] == "empty_frame"


def test_an_unmet_minimum_distance_draws_as_many_as_fit_only_when_asked(planner_a, db):
    body = _draw(
        planner_a,
        sites=_list_sites(A_PREFIX, 6),
        counts={"农贸市场": 5},
        min_distance_m=50_000,
        allow_partial=True,
        seed=3,
    ).json()
    stratum = body["strata"][0]
    assert stratum["short"] is True and 1 <= stratum["drawn"] < 5


def test_life_confirm_void_replace_and_audit(planner_a, draw):
    draw_id = draw["id"]
    market = next(s for s in draw["sites"] if s["site_type"] == "农贸市场" and s["role"] == "base")
    response = planner_a.post(
        f"{URL}/{draw_id}/replace", {"site": market["id"], "reason": "施工封闭"}, format="json"
    )
    assert response.status_code == 200, response.content
    sites = {s["id"]: s for s in response.json()["sites"]}
    assert sites[market["id"]]["active"] is False and sites[market["id"]]["replaced_reason"] == "施工封闭"
    first_reserve = sites[market["id"]]["replaced_by"]
    assert sites[first_reserve]["role"] == "reserve" and sites[first_reserve]["rank"] == 0
    assert sites[first_reserve]["active"] is True and sites[first_reserve]["replaces"] == market["id"]
    assert sites[market["id"]]["replaced_by_actor"] == "user:planner_a"
    # confirmed (生效): the draw itself is immutable ...
    assert planner_a.post(f"{URL}/{draw_id}/confirm").json()["state"] == "confirmed"
    for action, body in (("confirm", {}), ("void", {"reason": "重抽"})):
        response = planner_a.post(f"{URL}/{draw_id}/{action}", body, format="json")
        assert response.status_code == 409 and response.json()["error"]["code"] == "draw_not_drafted", action
    # ... but a site found inaccessible during the assessment is still replaced by the next reserve
    second = planner_a.post(
        f"{URL}/{draw_id}/replace", {"site": first_reserve, "reason": "拒绝进入"}, format="json"
    )
    assert second.status_code == 200, second.content
    body = second.json()
    assert body["state"] == "confirmed"
    sites = {s["id"]: s for s in body["sites"]}
    second_reserve = sites[first_reserve]["replaced_by"]
    assert (sites[second_reserve]["rank"], sites[second_reserve]["replaces"]) == (1, first_reserve)
    assert [(r["site"], r["replacement"], r["reason"], r["actor"]) for r in body["replacements"]] == [
        (market["id"], first_reserve, "施工封闭", "user:planner_a"),
        (first_reserve, second_reserve, "拒绝进入", "user:planner_a"),
    ]
    # the sites, seed and frame did not change: the draw still verifies
    assert planner_a.get(f"{URL}/{draw_id}/verify").json()["verified"] is True
    assert [(s["id"], s["key"], s["rank"]) for s in body["sites"]] == [
        (s["id"], s["key"], s["rank"]) for s in draw["sites"]
    ]
    other = next(
        s
        for s in draw["sites"]
        if s["site_type"] == "农贸市场" and s["role"] == "base" and s["id"] != market["id"]
    )
    third = planner_a.post(f"{URL}/{draw_id}/replace", {"site": other["id"], "reason": "无人"}, format="json")
    assert third.status_code == 409 and third.json()["error"]["code"] == "no_reserve_left"
    replaced_again = planner_a.post(
        f"{URL}/{draw_id}/replace", {"site": market["id"], "reason": "x"}, format="json"
    )
    assert replaced_again.status_code == 409 and replaced_again.json()["error"]["code"] == "site_not_active"
    assert (
        planner_a.post(
            f"{URL}/{draw_id}/replace", {"site": other["id"], "reason": ""}, format="json"
        ).status_code
        == 400
    )
    types = set(
        AuditEntry.objects.filter(object_type__startswith="civilization.").values_list(
            "object_type", flat=True
        )
    )
    assert {"civilization.assessmentdraw", "civilization.drawsite", "civilization.drawreplacement"} <= types
    actions = AuditEntry.objects.filter(object_type="civilization.assessmentdraw", object_id=str(draw_id))
    assert sorted(actions.values_list("action", flat=True)) == ["create", "update"]
    assert actions.filter(action="update").first().after["state"] == "confirmed"
    assert AuditEntry.objects.filter(
        object_type="civilization.drawsite", after__replaced_reason="施工封闭"
    ).exists()
    records = AuditEntry.objects.filter(object_type="civilization.drawreplacement", action="create")
    assert sorted(records.values_list("after__reason", flat=True)) == ["拒绝进入", "施工封闭"]
    # the export shows who replaced which site
    text = planner_a.get(f"{URL}/{draw_id}/export", {"format": "csv"}).content.decode("utf-8-sig")
    rows = {r["点位编号"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows[str(second_reserve)]["替换了点位"] == str(first_reserve)
    assert rows[str(market["id"])]["替换人"] == "user:planner_a"


def test_a_voided_draw_cannot_have_sites_replaced(planner_a, draw):
    planner_a.post(f"{URL}/{draw['id']}/void", {"reason": "抽样框有误"}, format="json")
    site = next(s for s in draw["sites"] if s["role"] == "base")
    response = planner_a.post(
        f"{URL}/{draw['id']}/replace", {"site": site["id"], "reason": "x"}, format="json"
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "draw_voided"
    assert not DrawSite.objects.filter(draw_id=draw["id"], replaced_at__isnull=False).exists()


def test_void_needs_a_reason_and_a_voided_draw_cannot_be_confirmed(planner_a, draw):
    assert planner_a.post(f"{URL}/{draw['id']}/void", {"reason": " "}, format="json").status_code == 400
    voided = planner_a.post(f"{URL}/{draw['id']}/void", {"reason": "抽样框有误"}, format="json").json()
    assert voided["state"] == "voided" and voided["void_reason"] == "抽样框有误"
    response = planner_a.post(f"{URL}/{draw['id']}/confirm")
    assert response.status_code == 409 and response.json()["error"]["code"] == "draw_not_drafted"


def test_operator_reads_but_cannot_draw(operator_a, draw):
    assert operator_a.get(f"{URL}/{draw['id']}").status_code == 200
    assert _draw(operator_a, sites=_list_sites(A_PREFIX, 3), counts={"农贸市场": 1}).status_code == 403
    assert operator_a.post(f"{URL}/{draw['id']}/confirm").status_code == 403


def test_export_list_and_offline_map_page(planner_a, draw):
    text = planner_a.get(f"{URL}/{draw['id']}/export", {"format": "csv"}).content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(draw["sites"]) and {r["角色"] for r in rows} == {"正选", "备选"}
    xlsx = planner_a.get(f"{URL}/{draw['id']}/export", {"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    page = planner_a.get(f"{URL}/{draw['id']}/export", {"format": "html"}).content.decode("utf-8")
    assert "L.map(" in page or "L.map (" in page
    assert "Leaflet" in page and "leaflet-container" in page  # the JS and the CSS, inlined
    remote = re.findall(r"<(?:script|link|img)\b[^>]*(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", page, re.I)
    assert remote == [], remote
    assert not re.search(r"@import\s+url\(\s*[\"']?(?:https?:)?//", page)
    assert draw["frame_sha256"] in page
    assert planner_a.get(f"{URL}/{draw['id']}/export", {"format": "pdf"}).status_code == 400


def test_sites_rows_match_the_stored_order(draw):
    stored = list(
        DrawSite.objects.filter(draw_id=draw["id"])
        .order_by("stratum", "role", "rank")
        .values_list("key", flat=True)
    )
    assert stored == [s["key"] for s in draw["sites"]]
