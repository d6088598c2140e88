"""The jurisdiction test: every route under /api/v1/ is walked from the URLconf
and exercised as a user (and as an API key) of 江阳区 (district A) against
龙马潭区 (district B). Nothing of B may come back: no status that tells B
exists, no B code anywhere in a body, no count that includes B.

A route the walk finds that the table below does not cover fails the test, so a
new endpoint cannot ship without being checked here.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from uuid import UUID

import pytest
from django.contrib.gis.geos import Polygon
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Max
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern
from rest_framework.test import APIClient

from accounts.models import AuditEntry
from accounts.services import user_create
from gis_core.imports.registry import get_layer, layer_names
from gis_core.imports.service import EXPORT_FORMATS, export_layer
from gis_core.models import Region
from grids.models import UnitGrid

from .conftest import A_CODE, A_PREFIX, B_CODE, B_PREFIX, CITY_CODE, PASSWORD, _flush_rate_limits

API_PREFIX = "api/v1/"
# a B code in a body: 510504 not glued to a preceding digit or decimal point (coordinates)
B_CODE_RE = re.compile(rf"(?<![\d.]){B_PREFIX}\d*")


# ------------------------------------------------------------------ walking the URLconf


def _piece(pattern) -> str:
    text = str(pattern)
    if isinstance(pattern, RegexPattern):
        text = text.removeprefix("^").removesuffix("$").removesuffix(r"\Z")
    return text


def walk(resolver: URLResolver | None = None, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    """(normalized full route, pattern) of every URL pattern, depth first."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + _piece(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from walk(entry, route)
        else:
            yield route, entry


def api_routes() -> list[tuple[str, URLPattern]]:
    return [(route, p) for route, p in walk() if route.startswith(API_PREFIX)]


def view_class(pattern: URLPattern):
    callback = pattern.callback
    return getattr(callback, "cls", None) or getattr(callback, "view_class", None)


# ------------------------------------------------------------------ checking a response


def body_text(response) -> str:
    raw = getattr(response, "content", None)
    if raw is None:  # streaming
        raw = b"".join(response.streaming_content)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def assert_no_b(response, ctx: Ctx, echoed: tuple[str, ...] = ()) -> str:
    """No B code in the body, except what the request itself sent (echoed back in an error)."""
    text = body_text(response)
    leaked = set(B_CODE_RE.findall(text)) - set(echoed)
    assert not leaked, f"{response.wsgi_request.path}: B codes in the answer: {sorted(leaked)[:10]}"
    for code in ctx.b_grids:
        assert code in echoed or code not in text, f"{response.wsgi_request.path}: B grid {code} leaked"
    return text


def expect(response, status: int, ctx: Ctx, echoed: tuple[str, ...] = (), code: str | None = None):
    assert response.status_code == status, (response.wsgi_request.get_full_path(), response.content[:500])
    assert_no_b(response, ctx, echoed)
    if code is not None:
        assert response.json()["error"]["code"] == code
    return response


# ------------------------------------------------------------------ the caller


@dataclass
class Ctx:
    variant: str
    client: APIClient  # district A: the operator, or the key with every scope but import:write
    writer: APIClient  # district A with import:write
    auditor: APIClient  # district A with audit:read
    a_grids: list[str]
    b_grids: list[str]
    a_point: tuple[float, float]
    b_point: tuple[float, float]
    username: str | None  # the user behind ``client`` (None for a key)
    notes: list[str] = field(default_factory=list)


def a_regions():
    return Region.objects.filter(code__startswith=A_PREFIX)


def a_grids_qs():
    return UnitGrid.objects.filter(code__startswith=A_PREFIX)


def _extent(qs) -> tuple[float, float, float, float]:
    from django.contrib.gis.db.models import Extent

    return qs.aggregate(e=Extent("geom"))["e"]


def _bbox_param(extent) -> str:
    return ",".join(f"{v:.6f}" for v in extent)


# ------------------------------------------------------------------ how each route is exercised


def ex_regions_list(ctx: Ctx) -> None:
    url = "/api/v1/regions"
    cases = [
        ({"parent": CITY_CODE}, a_regions().filter(parent__code=CITY_CODE)),
        ({"level": "3"}, a_regions().filter(level=3)),
        ({"level": "4"}, a_regions().filter(level=4)),
        ({"parent": B_CODE}, Region.objects.none()),
        ({}, a_regions()),
        ({"q": "龙马潭"}, a_regions().filter(name__contains="龙马潭")),
    ]
    for params, expected in cases:
        response = expect(ctx.client.get(url, {**params, "simplify": "50"}), 200, ctx)
        assert response.json()["count"] == expected.count(), params
    # and with a trailing slash (the router accepts both)
    expect(ctx.client.get(url + "/", {"level": "3"}), 200, ctx)


def ex_region_detail(ctx: Ctx) -> None:
    for code in (B_CODE, "510504", "510504001000"):
        expect(ctx.client.get(f"/api/v1/regions/{code}"), 404, ctx, echoed=(code,))
    b_community = Region.objects.filter(code__startswith=B_PREFIX, level=5).values_list("code", flat=True)
    for code in list(b_community[:2]):
        expect(ctx.client.get(f"/api/v1/regions/{code}/"), 404, ctx, echoed=(code,))
    # a parent of A is outside A as well
    expect(ctx.client.get(f"/api/v1/regions/{CITY_CODE}"), 404, ctx)
    response = expect(ctx.client.get(f"/api/v1/regions/{A_CODE}"), 200, ctx)
    assert A_CODE in body_text(response)


def ex_grids_list(ctx: Ctx) -> None:
    url = "/api/v1/grids"
    a_total = a_grids_qs().count()
    response = expect(ctx.client.get(url, {"page_size": 1000}), 200, ctx)
    assert response.json()["count"] == a_total
    expect(ctx.client.get(url + "/", {"page_size": 5}), 200, ctx)
    for region in (B_CODE, "510504", B_PREFIX + "001000"):
        response = expect(ctx.client.get(url, {"region": region}), 200, ctx, echoed=(region,))
        assert response.json()["count"] == 0
    response = expect(ctx.client.get(url, {"region": CITY_CODE, "page_size": 1000}), 200, ctx)
    assert response.json()["count"] == a_total
    # a bbox around B (and one around the whole city) returns A grids only
    b_extent = _extent(UnitGrid.objects.filter(code__startswith=B_PREFIX))
    city_extent = _extent(UnitGrid.objects.filter(code__startswith="5105"))
    for extent in (b_extent, city_extent):
        response = expect(ctx.client.get(url, {"bbox": _bbox_param(extent), "page_size": 1000}), 200, ctx)
        box = Polygon.from_bbox(tuple(float(f"{v:.6f}") for v in extent))
        assert response.json()["count"] == a_grids_qs().filter(geom__intersects=box).count()
    response = expect(ctx.client.get(url, {"bbox": _bbox_param(city_extent)}), 200, ctx)
    assert response.json()["count"] == a_total


def ex_grid_detail(ctx: Ctx) -> None:
    for code in ctx.b_grids[:3]:
        expect(ctx.client.get(f"/api/v1/grids/{code}"), 404, ctx, echoed=(code,))
        expect(ctx.client.get(f"/api/v1/grids/{code}/"), 404, ctx, echoed=(code,))
    response = expect(ctx.client.get(f"/api/v1/grids/{ctx.a_grids[0]}"), 200, ctx)
    assert response.json()["id"] == ctx.a_grids[0]


def ex_topology(ctx: Ctx) -> None:
    url = "/api/v1/grids/topology"
    for region in (B_CODE, "510504", CITY_CODE):
        echoed = (region, region.ljust(12, "0"))
        expect(ctx.client.get(url, {"region": region}), 404, ctx, echoed=echoed, code="not_found")
    a_community = a_grids_qs().values_list("community_code", flat=True).first()
    expect(ctx.client.get(url, {"region": a_community}), 200, ctx)


def ex_locate(ctx: Ctx) -> None:
    url = "/api/v1/locate"
    (b_lon, b_lat), (a_lon, a_lat) = ctx.b_point, ctx.a_point
    body = expect(ctx.client.get(url, {"lon": b_lon, "lat": b_lat}), 200, ctx).json()
    assert body["inside"] is False and body["grid"] is None and body["regions"] == []
    body = expect(ctx.client.get(url, {"lon": a_lon, "lat": a_lat}), 200, ctx).json()
    assert body["inside"] is True and body["grid"]["code"].startswith(A_PREFIX)

    points = [{"id": "b", "lon": b_lon, "lat": b_lat}, {"id": "a", "lon": a_lon, "lat": a_lat}]
    body = expect(ctx.client.post(url, {"points": points}, format="json"), 200, ctx).json()
    assert body["count"] == 2
    b, a = body["results"]
    assert (b["id"], b["inside"], b["grid"], b["regions"]) == ("b", False, None, [])
    assert a["inside"] is True and a["grid"]["code"].startswith(A_PREFIX)
    body = expect(ctx.client.post(url, {"points": [[b_lon, b_lat]] * 3}, format="json"), 200, ctx).json()
    assert all(not r["inside"] and r["grid"] is None for r in body["results"])


def ex_export(ctx: Ctx) -> None:
    for layer in layer_names():
        expected = get_layer(layer).export_queryset().filter(code__startswith=A_PREFIX)
        for fmt in EXPORT_FORMATS:
            response = ctx.client.get(f"/api/v1/export/{layer}", {"format": fmt})
            text = body_text(expect(response, 200, ctx))
            codes = None
            if fmt == "geojson":
                codes = [f["properties"]["code"] for f in json.loads(text)["features"]]
            elif fmt == "csv":
                codes = [row["code"] for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))]
            if codes is not None:
                assert len(codes) == expected.count() > 0, (layer, fmt)
                assert all(c.startswith(A_PREFIX) for c in codes), (layer, fmt)
        # exporting B by name: an empty file, not B
        response = ctx.client.get(f"/api/v1/export/{layer}", {"format": "geojson", "region": B_CODE})
        text = body_text(expect(response, 200, ctx))
        assert json.loads(text)["features"] == []


def _import_file(layer: str, codes: list[str]) -> SimpleUploadedFile:
    spec = get_layer(layer)
    result = export_layer(layer=layer, fmt="geojson", queryset=spec.export_queryset().filter(code__in=codes))
    return SimpleUploadedFile(f"{layer}.geojson", result.content, content_type="application/geo+json")


def _snapshot() -> tuple:
    return (
        UnitGrid.objects.count(),
        UnitGrid.objects.aggregate(m=Max("updated_at"))["m"],
        Region.objects.count(),
        AuditEntry.objects.count(),
        list(UnitGrid.objects.filter(code__startswith=B_PREFIX).values_list("code", "name", "households")),
    )


def ex_import(ctx: Ctx) -> None:
    b_community = Region.objects.filter(code__startswith=B_PREFIX, level=5).values_list("code", flat=True)[0]
    a_community = a_grids_qs().values_list("community_code", flat=True).first()
    files = {
        "grids": ([ctx.a_grids[0], ctx.b_grids[0]], [ctx.b_grids[0]]),
        "regions": ([a_community, b_community], [b_community]),
    }
    for layer in layer_names():
        if layer in files:
            codes, b_codes = files[layer]
        else:  # gazetteer layers: codes are their own (grid / district codes)
            qs = get_layer(layer).export_queryset()
            a_code = qs.filter(code__startswith=A_PREFIX).values_list("code", flat=True).first()
            b_code = qs.filter(code__startswith=B_PREFIX).values_list("code", flat=True).first()
            codes, b_codes = [a_code, b_code], [b_code]
        before = _snapshot()
        # the caller without import:write: refused outright
        response = ctx.client.post(f"/api/v1/import/{layer}", {"file": _import_file(layer, codes)})
        expect(response, 403, ctx, code="missing_scope")
        for commit in ("false", "true"):
            upload = _import_file(layer, codes)
            response = ctx.writer.post(f"/api/v1/import/{layer}", {"file": upload, "commit": commit})
            # the file names B codes itself: they may be quoted back in the row errors
            expect(response, 400, ctx, echoed=tuple(b_codes), code="invalid_rows")
            errors = response.json()["error"]["details"]["errors"]
            assert any("管辖范围" in e["message"] for e in errors), errors
        assert _snapshot() == before, "a refused import wrote something"


def ex_audit(ctx: Ctx) -> None:
    for region, n in ((A_CODE, 3), (B_CODE, 4), ("510504001001", 2), ("510502001001", 1)):
        for i in range(n):
            AuditEntry.objects.create(
                actor="user:someone", source="api", action="update", object_type="grids.unitgrid",
                object_id=f"{region[:12]}{i:03d}", region_code=region,
            )  # fmt: skip
    expected = AuditEntry.objects.filter(region_code__startswith=A_PREFIX).count()
    assert expected >= 4
    response = expect(ctx.auditor.get("/api/v1/audit", {"limit": 1000}), 200, ctx)
    rows = response.json()
    assert len(rows) == expected and all(r["region_code"].startswith(A_PREFIX) for r in rows)
    response = expect(ctx.auditor.get("/api/v1/audit", {"object_type": "grids.unitgrid"}), 200, ctx)
    assert all(r["region_code"].startswith(A_PREFIX) for r in response.json())
    if ctx.variant == "user":  # the operator's role has no audit:read
        expect(ctx.client.get("/api/v1/audit"), 403, ctx, code="missing_scope")


def ex_login(ctx: Ctx) -> None:
    client = APIClient()
    response = client.post(
        "/api/v1/auth/login", {"username": "jiangyang", "password": PASSWORD}, format="json"
    )
    body = expect(response, 200, ctx).json()
    assert body["jurisdiction"] == {"nationwide": False, "region": A_CODE, "grids": []}
    # the session works on the scoped endpoints, and sees A only
    response = expect(client.get("/api/v1/grids", {"region": B_CODE}), 200, ctx, echoed=(B_CODE,))
    assert response.json()["count"] == 0
    wrong = {"username": "jiangyang", "password": "wrong-Password-1"}
    expect(APIClient().post("/api/v1/auth/login", wrong, format="json"), 401, ctx)


def ex_logout(ctx: Ctx) -> None:
    client = APIClient()
    client.post("/api/v1/auth/login", {"username": "jiangyang", "password": PASSWORD}, format="json")
    expect(client.post("/api/v1/auth/logout"), 200, ctx)
    expect(client.get("/api/v1/auth/me"), 401, ctx)


def ex_me(ctx: Ctx) -> None:
    body = expect(ctx.client.get("/api/v1/auth/me"), 200, ctx).json()
    assert body["jurisdiction"] == {"nationwide": False, "region": A_CODE, "grids": []}
    if ctx.username:
        assert body["username"] == ctx.username
    expect(APIClient().get("/api/v1/auth/me"), 401, ctx)


def _b_addresses() -> list[str]:
    """Addresses in district B: the district itself, a street of it, a door plate and a POI there."""
    from geocoding.models import DoorPlate, Poi

    texts = [
        "四川省泸州市龙马潭区",
        "泸州市龙马潭区" + Region.objects.filter(code__startswith=B_PREFIX, level=4)[0].name,
    ]
    door = DoorPlate.objects.filter(grid_code__startswith=B_PREFIX).select_related("street").first()
    if door is not None:
        texts.append(f"泸州市龙马潭区{door.street.name}{door.label}")
    poi = Poi.objects.filter(grid_code__startswith=B_PREFIX).first()
    if poi is not None:
        texts.append(poi.name)
    return texts


def _a_address() -> str:
    from geocoding.models import DoorPlate

    door = DoorPlate.objects.filter(grid_code__startswith=A_PREFIX).select_related("street").first()
    return f"泸州市江阳区{door.street.name}{door.label}" if door else "泸州市江阳区"


def ex_geocode(ctx: Ctx) -> None:
    for text in _b_addresses():
        body = expect(ctx.client.get("/api/v1/geocode", {"q": text}), 200, ctx).json()
        assert body["status"] in ("outside", "not_found"), (text, body)
        assert body["location"] is None
    body = expect(ctx.client.get("/api/v1/geocode", {"q": _a_address()}), 200, ctx).json()
    assert body["status"] == "ok" and body["grid"]["code"].startswith(A_PREFIX)


def ex_geocode_batch(ctx: Ctx) -> None:
    texts = [*_b_addresses(), _a_address()]
    body = expect(
        ctx.client.post("/api/v1/geocode/batch", {"addresses": texts}, format="json"), 200, ctx
    ).json()
    assert [r["status"] for r in body["results"][:-1]] == ["outside"] * (len(texts) - 1)
    assert body["results"][-1]["grid"]["code"].startswith(A_PREFIX)


def ex_suggest(ctx: Ctx) -> None:
    from geocoding.models import Poi, Street

    prefixes = ["龙马", "泸州市龙马潭区", "四川省"]
    prefixes += [s.name[:2] for s in Street.objects.filter(district_code=B_CODE)[:3]]
    prefixes += [p.name[:2] for p in Poi.objects.filter(grid_code__startswith=B_PREFIX)[:3]]
    for q in prefixes:
        body = expect(ctx.client.get("/api/v1/geocode/suggest", {"q": q}), 200, ctx).json()
        for item in body["results"]:
            assert not str(item.get("code", "")).startswith(B_PREFIX), (q, item)


def ex_reverse(ctx: Ctx) -> None:
    (b_lon, b_lat), (a_lon, a_lat) = ctx.b_point, ctx.a_point
    body = expect(
        ctx.client.get("/api/v1/reverse", {"lon": b_lon, "lat": b_lat, "radius": 5000}), 200, ctx
    ).json()
    assert body["status"] == "outside" and "address" not in body
    body = expect(
        ctx.client.get("/api/v1/reverse", {"lon": a_lon, "lat": a_lat, "radius": 5000}), 200, ctx
    ).json()
    assert body["status"] == "ok" and body["grid"]["code"].startswith(A_PREFIX)
    points = [[b_lon, b_lat], [a_lon, a_lat]]
    body = expect(ctx.client.post("/api/v1/reverse", {"points": points}, format="json"), 200, ctx).json()
    assert [r["status"] for r in body["results"]] == ["outside", "ok"]


def _b_job():
    """A geocoding job submitted in district B (made once per walk)."""
    from accounts.scoping import Jurisdiction
    from jobs.models import Job
    from jobs.selectors import JobCaller
    from jobs.services import job_create

    job = Job.objects.filter(scope_code__startswith=B_PREFIX).first()
    if job is None:
        user = user_create(
            username="longmatan-jobs", password=PASSWORD, roles=["operator"], region_code=B_CODE
        )
        upload = SimpleUploadedFile("b.csv", ("地址\n" + "\n".join(_b_addresses())).encode())
        caller = JobCaller(jurisdiction=Jurisdiction(region_code=B_CODE), user_id=user.pk)
        job = job_create(kind="geocode", caller=caller, upload=upload, column="地址")
    return job


def ex_geocode_jobs(ctx: Ctx) -> None:
    from jobs.runner import job_run

    b_job = _b_job()
    listed = expect(ctx.client.get("/api/v1/geocode/jobs"), 200, ctx).json()
    assert str(b_job.pk) not in json.dumps(listed)
    # A's own job with B addresses in it: they come back "outside", without a B code or point
    texts = [*_b_addresses(), _a_address()]
    upload = SimpleUploadedFile("a.csv", ("地址\n" + "\n".join(texts)).encode())
    body = expect(
        ctx.client.post("/api/v1/geocode/jobs", {"file": upload, "column": "地址"}), 202, ctx
    ).json()
    assert job_run(job_id=UUID(body["id"])) == "succeeded"
    for fmt in ("csv", "xlsx"):
        expect(ctx.client.get(f"/api/v1/geocode/jobs/{body['id']}/result", {"format": fmt}), 200, ctx)
    rows = list(
        csv.reader(
            io.StringIO(
                body_text(
                    ctx.client.get(f"/api/v1/geocode/jobs/{body['id']}/result", {"format": "csv"})
                ).lstrip("\ufeff")
            )
        )
    )
    assert [r[1] for r in rows[1:]] == ["outside"] * (len(texts) - 1) + ["ok"]


def ex_geocode_job(ctx: Ctx) -> None:
    url = f"/api/v1/geocode/jobs/{_b_job().pk}"
    expect(ctx.client.get(url), 404, ctx)
    expect(ctx.client.delete(url), 404, ctx)


def ex_geocode_job_cancel(ctx: Ctx) -> None:
    expect(ctx.client.post(f"/api/v1/geocode/jobs/{_b_job().pk}/cancel"), 404, ctx)


def ex_geocode_job_result(ctx: Ctx) -> None:
    expect(ctx.client.get(f"/api/v1/geocode/jobs/{_b_job().pk}/result", {"format": "csv"}), 404, ctx)


# ------------------------------------------------------------------ events (issue 5)


def _ev_setup(ctx: Ctx) -> dict:
    """An event in A and one in B (reported by the system), a B event placed right next to the
    A one (as across a district border: same category, 10 m away), and departments of A, B and
    the city. Everything is written in the test's transaction."""
    from django.contrib.gis.geos import Point

    from accounts.permissions import SCOPES, Principal
    from accounts.scoping import Jurisdiction
    from events.models import Department, Event, EventCategory
    from events.services.categories import categories_load
    from events.services.reporting import ReportInput, event_report

    if not EventCategory.objects.filter(code="E0102").exists():
        categories_load()
    system = Principal("system:walk", frozenset(SCOPES), Jurisdiction(nationwide=True))

    def report(point) -> Event:
        data = ReportInput(category="E0102", description="暴露垃圾", point=point)
        return event_report(principal=system, data=data).event

    a_event, b_event = report(ctx.a_point), report(ctx.b_point)
    b_near = Event.objects.create(
        kind=b_event.kind, category=b_event.category, description="B 侧", state="reported",
        geom=Point(ctx.a_point[0] + 0.0001, ctx.a_point[1], srid=4326), grid_code=b_event.grid_code,
        region_code=b_event.region_code, street_code=b_event.street_code,
        district_code=b_event.district_code, source="web", reported_at=a_event.reported_at,
    )  # fmt: skip
    departments = {
        key: Department.objects.get_or_create(name=f"城市管理局{key}", region_code=code)[0]
        for key, code in (("a", A_CODE), ("b", B_CODE), ("city", CITY_CODE))
    }
    return {"a": a_event, "b": b_event, "b_near": b_near, "departments": departments}


def _ev_a_events():
    from events.models import Event

    return Event.objects.filter(grid_code__startswith=A_PREFIX)


def ex_events(ctx: Ctx) -> None:
    setup = _ev_setup(ctx)
    url = "/api/v1/events"
    body = expect(ctx.client.get(url, {"page_size": 1000}), 200, ctx).json()
    assert body["count"] == _ev_a_events().count()
    assert all(f["properties"]["grid_code"].startswith(A_PREFIX) for f in body["features"])
    assert setup["b"].pk not in {f["id"] for f in body["features"]}
    for params in ({"category": "E01"}, {"state": "reported"}, {"kind": "event", "page_size": 5}):
        for feature in expect(ctx.client.get(url, params), 200, ctx).json()["features"]:
            assert feature["properties"]["district_code"] == A_CODE
    # a report in B is refused without telling anything about B
    (b_lon, b_lat), (a_lon, a_lat) = ctx.b_point, ctx.a_point
    report = {"category": "E0102", "description": "暴露垃圾", "lon": b_lon, "lat": b_lat}
    expect(ctx.client.post(url, report, format="json"), 400, ctx, code="outside_jurisdiction")
    # a report in A lists A's duplicate only, not B's event 10 m away
    response = expect(ctx.client.post(url, {**report, "lon": a_lon, "lat": a_lat}, format="json"), 201, ctx)
    duplicates = {d["id"]: d["grid_code"] for d in response.json()["duplicates"]}
    assert setup["a"].pk in duplicates and setup["b_near"].pk not in duplicates
    assert all(code.startswith(A_PREFIX) for code in duplicates.values())


def ex_event_detail(ctx: Ctx) -> None:
    setup = _ev_setup(ctx)
    for event in (setup["b"], setup["b_near"]):
        expect(ctx.client.get(f"/api/v1/events/{event.pk}"), 404, ctx, code="not_found")
    expect(ctx.client.get("/api/v1/events/987654321"), 404, ctx)
    response = expect(ctx.client.get(f"/api/v1/events/{setup['a'].pk}"), 200, ctx)
    assert response.json()["properties"]["district_code"] == A_CODE


def ex_event_transitions(ctx: Ctx) -> None:
    from events.models import Event

    setup = _ev_setup(ctx)
    b = setup["b"]
    for action, extra in (("verify", {}), ("dispatch", {"department": setup["departments"]["b"].pk})):
        body = {"action": action, "note": "越界操作", **extra}
        expect(ctx.client.post(f"/api/v1/events/{b.pk}/transitions", body, format="json"), 404, ctx)
    assert Event.objects.get(pk=b.pk).state == "reported" and b.transitions.count() == 1
    a = setup["a"]
    body = {"action": "verify", "note": "核实属实"}
    expect(ctx.client.post(f"/api/v1/events/{a.pk}/transitions", body, format="json"), 200, ctx)
    body = {"action": "register", "note": "立案"}
    expect(ctx.client.post(f"/api/v1/events/{a.pk}/transitions", body, format="json"), 200, ctx)
    # dispatching an A event to B's department: refused, and B's department is not named
    body = {"action": "dispatch", "note": "派遣", "department": setup["departments"]["b"].pk}
    expect(ctx.client.post(f"/api/v1/events/{a.pk}/transitions", body, format="json"), 400, ctx)
    body["department"] = setup["departments"]["city"].pk
    response = expect(ctx.client.post(f"/api/v1/events/{a.pk}/transitions", body, format="json"), 200, ctx)
    assert response.json()["properties"]["state"] == "dispatched"


def ex_event_merge(ctx: Ctx) -> None:
    from events.models import Event

    setup = _ev_setup(ctx)
    a, b = setup["a"], setup["b_near"]
    for event, original in ((b, a), (a, b)):
        body = {"original": original.pk, "note": "重复"}
        expect(ctx.client.post(f"/api/v1/events/{event.pk}/merge", body, format="json"), 404, ctx)
    assert Event.objects.get(pk=a.pk).state == Event.objects.get(pk=b.pk).state == "reported"
    other = ctx.client.post(
        "/api/v1/events", {"category": "E0102", "description": "又一次", "lon": ctx.a_point[0],
                           "lat": ctx.a_point[1]}, format="json",
    ).json()["id"]  # fmt: skip
    body = {"original": a.pk, "note": "重复"}
    response = expect(ctx.client.post(f"/api/v1/events/{other}/merge", body, format="json"), 200, ctx)
    assert response.json()["properties"]["state"] == "merged"


def ex_event_duplicates(ctx: Ctx) -> None:
    setup = _ev_setup(ctx)
    expect(ctx.client.get(f"/api/v1/events/{setup['b'].pk}/duplicates"), 404, ctx)
    expect(ctx.client.get(f"/api/v1/events/{setup['b_near'].pk}/duplicates"), 404, ctx)
    body = expect(
        ctx.client.get(f"/api/v1/events/{setup['a'].pk}/duplicates", {"radius": 1000}), 200, ctx
    ).json()
    assert setup["b_near"].pk not in [d["id"] for d in body["results"]]


def ex_event_attachment(ctx: Ctx) -> None:
    import tempfile

    from django.test import override_settings

    from events.services.attachments import StoredFiles, attachment_check, attachments_save

    def photo() -> SimpleUploadedFile:
        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (64, 48), (1, 2, 3)).save(buffer, "JPEG")
        return SimpleUploadedFile("p.jpg", buffer.getvalue())

    setup = _ev_setup(ctx)
    with tempfile.TemporaryDirectory() as media, override_settings(MEDIA_ROOT=media):
        stored = StoredFiles()
        [b_file] = attachments_save(
            event=setup["b"], transition=None, files=[attachment_check(photo())], stored=stored
        )
        [a_file] = attachments_save(
            event=setup["a"], transition=None, files=[attachment_check(photo())], stored=stored
        )
        for event, attachment in ((setup["b"], b_file), (setup["a"], b_file)):
            url = f"/api/v1/events/{event.pk}/attachments/{attachment.pk}"
            expect(ctx.client.get(url), 404, ctx)
            expect(ctx.client.get(url, {"thumbnail": "1"}), 404, ctx)
        response = ctx.client.get(f"/api/v1/events/{setup['a'].pk}/attachments/{a_file.pk}")
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
        assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"  # consumed: the client closes it


def ex_event_categories(ctx: Ctx) -> None:
    _ev_setup(ctx)
    body = expect(ctx.client.get("/api/v1/event-categories"), 200, ctx).json()
    assert {"E01", "C01"} <= {c["code"] for c in body["results"]}
    expect(ctx.client.get("/api/v1/event-categories", {"kind": "component"}), 200, ctx)


def ex_event_departments(ctx: Ctx) -> None:
    departments = _ev_setup(ctx)["departments"]
    body = expect(ctx.client.get("/api/v1/event-departments"), 200, ctx).json()
    ids = {d["id"] for d in body["results"]}
    assert {departments["a"].pk, departments["city"].pk} <= ids and departments["b"].pk not in ids
    assert all(d["region_code"] in (A_CODE, CITY_CODE, "510000000000") for d in body["results"])


def ex_notifications(ctx: Ctx) -> None:
    import datetime as dt

    from events.models import Notification
    from events.services.escalation import events_escalate

    setup = _ev_setup(ctx)
    events_escalate(now=setup["a"].reported_at + dt.timedelta(days=20))
    b_ids = list(Notification.objects.filter(region_code=B_CODE).values_list("pk", flat=True))
    assert b_ids
    body = expect(ctx.client.get("/api/v1/notifications", {"limit": 1000}), 200, ctx).json()
    assert body["results"] and all(n["region_code"].startswith(A_PREFIX) for n in body["results"])
    assert body["unread"] == Notification.objects.filter(region_code__startswith=A_PREFIX).count()
    response = ctx.client.post("/api/v1/notifications", {"read": b_ids}, format="json")
    assert expect(response, 200, ctx).json() == {"marked": 0}
    expect(ctx.client.post("/api/v1/notifications", {"read": "all"}, format="json"), 200, ctx)
    assert not Notification.objects.filter(pk__in=b_ids, reads__isnull=False).exists()


# ------------------------------------------------------------ door-plate layer (geocoding/api_layers.py)


def _a_doors():
    from geocoding.models import DoorPlate

    return DoorPlate.objects.filter(grid_code__startswith=A_PREFIX)


def _expected_doors(params: dict) -> int:
    from gis_core.selectors.ranges import RangeFilter

    return RangeFilter.from_params(params).apply(_a_doors(), time_field="updated_at").count()


def _door_ranges(ctx: Ctx) -> list[tuple[dict, tuple[str, ...]]]:
    """Range filters over B (and over the whole city), with the B codes each one echoes."""
    from geocoding.models import DoorPlate

    b_doors = DoorPlate.objects.filter(grid_code__startswith=B_PREFIX)
    b_extent, city = _extent(b_doors), _extent(DoorPlate.objects.all())
    (bx, by), (x0, y0, x1, y1) = ctx.b_point, b_extent
    b_box = Polygon.from_bbox(b_extent)
    line = f"LINESTRING({x0} {y0}, {x1} {y1})"
    return [
        ({}, ()),
        ({"bbox": _bbox_param(city)}, ()),
        ({"bbox": _bbox_param(b_extent)}, ()),
        ({"region": CITY_CODE}, ()),
        ({"region": B_PREFIX}, (B_CODE,)),
        ({"region": B_PREFIX, "region_match": "spatial"}, (B_CODE,)),
        ({"grid": ctx.b_grids[0]}, (ctx.b_grids[0],)),
        ({"lon": bx, "lat": by, "radius": 3000}, ()),
        ({"polygon": b_box.wkt}, ()),
        ({"line": line, "buffer": 2000}, ()),
        ({"from": "2000-01-01"}, ()),
    ]


def ex_doors(ctx: Ctx) -> None:
    url = "/api/v1/doors"
    assert _a_doors().exists()
    for params, echoed in _door_ranges(ctx):
        body = expect(ctx.client.get(url, {**params, "count": "true"}), 200, ctx, echoed).json()
        assert body["count"] == _expected_doors(params), params
        page = expect(ctx.client.get(url, {**params, "page_size": 1000}), 200, ctx, echoed).json()
        assert page["count"] == body["count"]
        assert all(f["properties"]["grid_code"].startswith(A_PREFIX) for f in page["features"])
    # a drawn polygon in a JSON body (the field client sends large ones by POST)
    b_box = Polygon.from_bbox(_extent(Region.objects.filter(code=B_CODE)))
    body = expect(
        ctx.client.post(url, {"polygon": json.loads(b_box.geojson), "count": True}, format="json"), 200, ctx
    )
    assert body.json()["count"] == _expected_doors({"polygon": b_box.wkt})


def ex_doors_heatmap(ctx: Ctx) -> None:
    url = "/api/v1/doors/heatmap"
    for params, echoed in _door_ranges(ctx):
        for shape in ("square", "hex"):
            query = {**params, "zoom": 16, "shape": shape, "polygons": "true", "weight": "number"}
            body = expect(ctx.client.get(url, query), 200, ctx, echoed).json()
            assert body["count"] == sum(b["count"] for b in body["bins"]) == _expected_doors(params), params


def ex_doors_clusters(ctx: Ctx) -> None:
    url = "/api/v1/doors/clusters"
    a_ids = set(_a_doors().values_list("pk", flat=True))
    for params, echoed in _door_ranges(ctx):
        body = expect(ctx.client.get(url, {**params, "zoom": 17}), 200, ctx, echoed).json()
        assert body["count"] == _expected_doors(params), params
        assert {c["id"] for c in body["clusters"] if "id" in c} <= a_ids


def ex_doors_stats(ctx: Ctx) -> None:
    url = "/api/v1/doors/stats"
    for params, echoed in _door_ranges(ctx):
        expected = _expected_doors(params)
        for by in ("province", "city", "district", "subdistrict", "community", "grid", "road", "month"):
            body = expect(ctx.client.get(url, {**params, "by": by}), 200, ctx, echoed).json()
            assert body["total"] == expected == sum(r["count"] for r in body["results"]), (params, by)
    for export in ("csv", "xlsx"):
        for by in ("district", "community", "grid"):
            expect(ctx.client.get(url, {"by": by, "export": export}), 200, ctx)


def _expected_events(params: dict) -> int:
    from gis_core.selectors.ranges import RangeFilter

    return RangeFilter.from_params(params).apply(_ev_a_events(), time_field="reported_at").count()


def ex_events_search(ctx: Ctx) -> None:
    _ev_setup(ctx)
    for params, echoed in _door_ranges(ctx):
        body = {**params, "count": True}
        response = expect(ctx.client.post("/api/v1/events/search", body, format="json"), 200, ctx, echoed)
        assert response.json()["count"] == _expected_events(params), params
    response = expect(ctx.client.get("/api/v1/events", {"export": "csv"}), 200, ctx)
    assert response.content.decode("utf-8-sig").count("\r\n") == 1 + _ev_a_events().count()


def ex_events_heatmap(ctx: Ctx) -> None:
    _ev_setup(ctx)
    for params, echoed in _door_ranges(ctx):
        for shape in ("square", "hex"):
            query = {**params, "zoom": 15, "shape": shape, "weight": "escalation"}
            body = expect(ctx.client.get("/api/v1/events/heatmap", query), 200, ctx, echoed).json()
            assert body["count"] == sum(b["count"] for b in body["bins"]) == _expected_events(params), params


def ex_events_clusters(ctx: Ctx) -> None:
    setup = _ev_setup(ctx)
    a_ids = set(_ev_a_events().values_list("pk", flat=True))
    for params, echoed in _door_ranges(ctx):
        body = expect(
            ctx.client.get("/api/v1/events/clusters", {**params, "zoom": 18}), 200, ctx, echoed
        ).json()
        assert body["count"] == _expected_events(params), params
        assert {c["id"] for c in body["clusters"] if "id" in c} <= a_ids
        assert setup["b_near"].pk not in {c.get("id") for c in body["clusters"]}


def ex_events_stats(ctx: Ctx) -> None:
    _ev_setup(ctx)
    for params, echoed in _door_ranges(ctx):
        expected = _expected_events(params)
        for by in (
            "district",
            "community",
            "grid",
            "category",
            "major",
            "source",
            "state",
            "department",
            "month",
        ):
            body = expect(
                ctx.client.get("/api/v1/events/stats", {**params, "by": by}), 200, ctx, echoed
            ).json()
            assert body["total"] == expected == sum(r["count"] for r in body["results"]), (params, by)
    for export in ("csv", "xlsx"):
        expect(ctx.client.get("/api/v1/events/stats", {"by": "grid", "export": export}), 200, ctx)


def ex_events_performance(ctx: Ctx) -> None:
    from accounts.permissions import SCOPES, Principal
    from accounts.scoping import Jurisdiction
    from events.services.lifecycle import event_transition

    setup = _ev_setup(ctx)
    system = Principal("system:walk", frozenset(SCOPES), Jurisdiction(nationwide=True))
    for key in ("a", "b"):
        for action in ("verify", "register", "dispatch", "handle"):
            department = setup["departments"][key].pk if action == "dispatch" else None
            event_transition(principal=system, event_id=setup[key].pk, action=action, note="走查",
                             department_id=department)  # fmt: skip
    b_department = setup["departments"]["b"].pk
    for params, echoed in _door_ranges(ctx):
        for by in ("department", "district", "subdistrict", "grid"):
            query = {**params, "by": by}
            rows = expect(ctx.client.get("/api/v1/events/performance", query), 200, ctx, echoed).json()[
                "results"
            ]
            assert b_department not in {r["key"] for r in rows if by == "department"}
            assert all(
                r["key"] is None or str(r["key"]).startswith(A_PREFIX) for r in rows if by != "department"
            )
    rows = expect(ctx.client.get("/api/v1/events/performance", {"by": "department"}), 200, ctx).json()[
        "results"
    ]
    assert setup["departments"]["a"].pk in {r["key"] for r in rows}
    expect(ctx.client.get("/api/v1/events/performance", {"by": "grid", "export": "xlsx"}), 200, ctx)


def ex_open311_discovery(ctx: Ctx) -> None:
    for fmt in ("json", "xml"):
        expect(ctx.client.get(f"/api/v1/open311/v2/discovery.{fmt}"), 200, ctx)


def ex_open311_services(ctx: Ctx) -> None:
    _ev_setup(ctx)
    for fmt in ("json", "xml"):
        expect(ctx.client.get(f"/api/v1/open311/v2/services.{fmt}"), 200, ctx)
    expect(ctx.client.get("/api/v1/open311/v2/services/E0102.json"), 200, ctx)


def ex_open311_requests(ctx: Ctx) -> None:
    setup = _ev_setup(ctx)
    url = "/api/v1/open311/v2/requests.json"
    rows = expect(ctx.client.get(url, {"extensions": "true"}), 200, ctx).json()
    ids = {int(r["service_request_id"]) for r in rows}
    assert setup["a"].pk in ids and not ids & {setup["b"].pk, setup["b_near"].pk}
    assert all(r["extended_attributes"]["district_code"] == A_CODE for r in rows)
    wanted = f"{setup['a'].pk},{setup['b'].pk},{setup['b_near'].pk}"
    rows = expect(ctx.client.get(url, {"service_request_id": wanted}), 200, ctx).json()
    assert [int(r["service_request_id"]) for r in rows] == [setup["a"].pk]
    expect(ctx.client.get(url.replace(".json", ".xml"), {"status": "open"}), 200, ctx)


def ex_open311_request(ctx: Ctx) -> None:
    setup = _ev_setup(ctx)
    for event in (setup["b"], setup["b_near"]):
        for fmt in ("json", "xml"):
            expect(ctx.client.get(f"/api/v1/open311/v2/requests/{event.pk}.{fmt}"), 404, ctx)
    rows = expect(ctx.client.get(f"/api/v1/open311/v2/requests/{setup['a'].pk}.json"), 200, ctx).json()
    assert rows[0]["service_request_id"] == str(setup["a"].pk)


# ------------------------------------------------------------------ civilization units and draws


def _civ(ctx: Ctx) -> APIClient:
    """A district-A caller with every civilization scope: the key, or a planner (文明办) of A."""
    if ctx.variant == "key":
        return ctx.client
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username="jiangyang_civ").first() or user_create(
        username="jiangyang_civ", password=PASSWORD, roles=["planner"], region_code="510502"
    )
    client = APIClient()
    client.force_authenticate(user)
    return client


def _civ_a_units():
    from civilization.models import CivilizationUnit

    return CivilizationUnit.objects.filter(grid_code__startswith=A_PREFIX)


def _civ_ranges(ctx: Ctx) -> list[tuple[dict, tuple[str, ...], bool]]:
    """(range params, B codes the request itself sends, whether nothing of A can be in it)."""
    bx, by = ctx.b_point
    b_box = Polygon.from_bbox(_extent(Region.objects.filter(code=B_CODE)))
    return [
        ({"region": B_CODE}, (B_CODE,), True),
        ({"region": B_PREFIX}, (B_PREFIX, B_CODE), True),
        ({"grid": ctx.b_grids[0]}, (ctx.b_grids[0],), True),
        ({"bbox": _bbox_param(b_box.extent)}, (), False),
        ({"lon": bx, "lat": by, "radius": 3000}, (), False),
        ({"polygon": b_box.wkt}, (), False),
        ({}, (), False),
    ]


def ex_civ_units(ctx: Ctx) -> None:
    url = "/api/v1/civilization/units"
    for client in (ctx.client, _civ(ctx)):
        for params, echoed, none in _civ_ranges(ctx):
            body = expect(client.get(url, {**params, "page_size": 1000}), 200, ctx, echoed).json()
            assert all(f["properties"]["district_code"] == A_CODE for f in body["features"]), params
            assert body["count"] == len(body["features"]) <= _civ_a_units().count()
            assert (body["count"] == 0) if none else True, params
        assert expect(client.get(url, {"count": "true"}), 200, ctx).json()["count"] == _civ_a_units().count()
    # a unit placed in B is refused (no B code in the answer), one in A is created
    for lon, lat, status in ((*ctx.b_point, 400), (*ctx.a_point, 201)):
        body = {"name": f"巡检单位{status}", "unit_type": "unit", "level": "city", "year_awarded": 2020}
        expect(_civ(ctx).post(url, {**body, "lon": lon, "lat": lat}, format="json"), status, ctx)


def ex_civ_unit_detail(ctx: Ctx) -> None:
    from civilization.models import CivilizationUnit

    b_unit = CivilizationUnit.objects.filter(grid_code__startswith=B_PREFIX).order_by("pk").first()
    a_unit = _civ_a_units().order_by("pk").first()
    assert a_unit and b_unit
    for method, body in (("get", None), ("patch", {"level": "national"}), ("delete", None)):
        response = getattr(_civ(ctx), method)(f"/api/v1/civilization/units/{b_unit.pk}", body, format="json")
        expect(response, 404, ctx)
    assert CivilizationUnit.objects.get(pk=b_unit.pk).level == b_unit.level
    expect(ctx.client.get(f"/api/v1/civilization/units/{a_unit.pk}"), 200, ctx)
    bx, by = ctx.b_point
    expect(
        _civ(ctx).patch(f"/api/v1/civilization/units/{a_unit.pk}", {"lon": bx, "lat": by}, format="json"),
        400,
        ctx,
    )


def ex_civ_units_heatmap(ctx: Ctx) -> None:
    for params, echoed, none in _civ_ranges(ctx):
        body = expect(
            ctx.client.get("/api/v1/civilization/units/heatmap", {**params, "zoom": 14}), 200, ctx, echoed
        )
        body = body.json()
        assert body["count"] == sum(b["count"] for b in body["bins"]) <= _civ_a_units().count()
        assert body["count"] == 0 or not none, params


def ex_civ_units_clusters(ctx: Ctx) -> None:
    a_ids = set(_civ_a_units().values_list("pk", flat=True))
    for params, echoed, none in _civ_ranges(ctx):
        body = expect(
            ctx.client.get("/api/v1/civilization/units/clusters", {**params, "zoom": 16}), 200, ctx, echoed
        )
        body = body.json()
        assert {c["id"] for c in body["clusters"] if "id" in c} <= a_ids
        assert body["count"] == 0 or not none, params


def ex_civ_units_stats(ctx: Ctx) -> None:
    total = _civ_a_units().count()
    for by in ("city", "district", "subdistrict", "community", "grid", "type", "level", "status", "year"):
        body = expect(ctx.client.get("/api/v1/civilization/units/stats", {"by": by}), 200, ctx).json()
        assert body["total"] == total == sum(r["count"] for r in body["results"]), by
    body = expect(
        ctx.client.get("/api/v1/civilization/units/stats", {"by": "district", "region": B_CODE}),
        200,
        ctx,
        (B_CODE,),
    ).json()
    assert body["total"] == 0
    for export in ("csv", "xlsx"):
        expect(
            ctx.client.get("/api/v1/civilization/units/stats", {"by": "community", "export": export}),
            200,
            ctx,
        )


def ex_civ_units_export(ctx: Ctx) -> None:
    for client in (ctx.client, _civ(ctx)):
        for params, echoed, none in _civ_ranges(ctx):
            response = expect(
                client.get("/api/v1/civilization/units/export", {**params, "format": "csv"}), 200, ctx, echoed
            )
            rows = list(csv.DictReader(io.StringIO(body_text(response).lstrip("\ufeff"))))
            assert all(r["区县"] == A_CODE for r in rows) and (not rows or not none), params
        expect(client.get("/api/v1/civilization/units/export", {"format": "xlsx"}), 200, ctx)


def ex_civ_units_import(ctx: Ctx) -> None:
    from civilization.models import CivilizationUnit

    before = CivilizationUnit.objects.count()
    for (lon, lat), name in ((ctx.b_point, "乙方单位"), (ctx.a_point, "甲方单位")):
        text = f"名称,类型,级别,授予年份,lon,lat\n{name},文明单位,市级,2020,{lon},{lat}\n"
        upload = SimpleUploadedFile("units.csv", text.encode("utf-8"), content_type="text/csv")
        response = _civ(ctx).post("/api/v1/civilization/units/import", {"file": upload, "commit": "true"})
        expect(response, 400 if name == "乙方单位" else 200, ctx)
    assert CivilizationUnit.objects.count() == before + 1
    if ctx.variant == "user":  # the operator reads units but may not write them
        upload = SimpleUploadedFile("units.csv", b"name\nx\n", content_type="text/csv")
        expect(
            ctx.client.post("/api/v1/civilization/units/import", {"file": upload}),
            403,
            ctx,
            code="missing_scope",
        )


def ex_civ_density(ctx: Ctx) -> None:
    for by in ("city", "district", "subdistrict", "community"):
        body = expect(ctx.client.get("/api/v1/civilization/density", {"by": by}), 200, ctx).json()
        assert all(r["code"].startswith(A_PREFIX) for r in body["results"]), by
        assert sum(r["count"] for r in body["results"]) == (_civ_a_units().count() if by != "city" else 0)
    body = expect(
        ctx.client.get("/api/v1/civilization/density", {"region": B_CODE}), 200, ctx, (B_CODE,)
    ).json()
    assert body["results"] == []


def ex_civ_near(ctx: Ctx) -> None:
    for lon, lat in (ctx.b_point, ctx.a_point):
        body = expect(
            ctx.client.get("/api/v1/civilization/near", {"lon": lon, "lat": lat, "limit": 50}), 200, ctx
        )
        body = body.json()
        assert body["city"]["count"] == _civ_a_units().count()
        assert all(f["properties"]["district_code"] == A_CODE for f in body["units"]["features"])


def _civ_draws(ctx: Ctx) -> dict[str, int]:
    """A draw of A (by the A caller), one of B and one over the whole city (by the services)."""
    from accounts.scoping import Jurisdiction
    from civilization.models import AssessmentDraw
    from civilization.services.draws import DrawInput, draw_create
    from civilization.services.frames import ListedSite

    def sites(prefix: str) -> list[ListedSite]:
        grids = UnitGrid.objects.filter(code__startswith=prefix).order_by("code")[:5]
        return [ListedSite("农贸市场", f"市场{g.code}", *g.geom.point_on_surface.coords) for g in grids]

    found = AssessmentDraw.objects.filter(title__startswith="巡检").order_by("pk")
    if found.count() == 3:
        return dict(found.values_list("title", "pk"))
    a = _civ(ctx).post(
        "/api/v1/civilization/draws",
        {"title": "巡检A", "poi_categories": ["学校"], "counts": {"学校": 1}, "reserves": 1, "seed": 5},
        format="json",
    )
    assert a.status_code == 201, a.content
    for title, where, listed in (
        ("巡检B", B_CODE, sites(B_PREFIX)),
        ("巡检市", CITY_CODE, sites(A_PREFIX) + sites(B_PREFIX)),
    ):
        draw_create(
            data=DrawInput(title=title, counts={"农贸市场": 2}, reserves=1, seed=5, sites=tuple(listed)),
            jurisdiction=Jurisdiction(region_code=where),
            actor="system:test",
        )
    return dict(found.values_list("title", "pk"))


def ex_civ_draws(ctx: Ctx) -> None:
    ids = _civ_draws(ctx)
    body = expect(ctx.client.get("/api/v1/civilization/draws"), 200, ctx).json()
    assert {d["id"] for d in body["results"]} & set(ids.values()) == {ids["巡检A"]}
    # a frame from POIs of A and B categories, and a list naming a B site: only A, or refused
    response = _civ(ctx).post(
        "/api/v1/civilization/draws",
        {"title": "跨区", "poi_categories": ["学校", "市场"], "counts": {"学校": 1}, "seed": 1},
        format="json",
    )
    assert {s["district"] for s in expect(response, 201, ctx).json()["strata"]} == {A_CODE}
    bx, by = ctx.b_point
    listed = [{"type": "市场", "name": "乙", "lon": bx, "lat": by}]
    response = _civ(ctx).post(
        "/api/v1/civilization/draws", {"title": "跨区", "sites": listed, "counts": {"市场": 1}}, format="json"
    )
    expect(response, 400, ctx, code="invalid_sites")


def ex_civ_draw_detail(ctx: Ctx) -> None:
    ids = _civ_draws(ctx)
    for title in ("巡检B", "巡检市"):
        expect(ctx.client.get(f"/api/v1/civilization/draws/{ids[title]}"), 404, ctx)
    body = expect(ctx.client.get(f"/api/v1/civilization/draws/{ids['巡检A']}"), 200, ctx).json()
    assert body["sites"] and all(s["district_code"] == A_CODE for s in body["sites"])


def _civ_draw_action(ctx: Ctx, action: str, body: dict | None = None) -> None:
    ids = _civ_draws(ctx)
    for title in ("巡检B", "巡检市"):
        expect(
            _civ(ctx).post(f"/api/v1/civilization/draws/{ids[title]}/{action}", body, format="json"), 404, ctx
        )
    from civilization.models import AssessmentDraw

    assert set(
        AssessmentDraw.objects.filter(title__in=["巡检B", "巡检市"]).values_list("state", flat=True)
    ) == {"drafted"}


def ex_civ_draw_confirm(ctx: Ctx) -> None:
    _civ_draw_action(ctx, "confirm")


def ex_civ_draw_void(ctx: Ctx) -> None:
    _civ_draw_action(ctx, "void", {"reason": "测试"})


def ex_civ_draw_replace(ctx: Ctx) -> None:
    from civilization.models import DrawSite

    ids = _civ_draws(ctx)
    b_site = DrawSite.objects.filter(draw_id=ids["巡检B"], role="base").first()
    _civ_draw_action(ctx, "replace", {"site": b_site.pk, "reason": "测试"})
    # a B site named in A's draw: not found there
    response = _civ(ctx).post(
        f"/api/v1/civilization/draws/{ids['巡检A']}/replace",
        {"site": b_site.pk, "reason": "x"},
        format="json",
    )
    expect(response, 404, ctx)


def ex_civ_draw_verify(ctx: Ctx) -> None:
    ids = _civ_draws(ctx)
    for title in ("巡检B", "巡检市"):
        expect(ctx.client.get(f"/api/v1/civilization/draws/{ids[title]}/verify"), 404, ctx)
    assert expect(ctx.client.get(f"/api/v1/civilization/draws/{ids['巡检A']}/verify"), 200, ctx).json()[
        "verified"
    ]


def ex_civ_draw_export(ctx: Ctx) -> None:
    ids = _civ_draws(ctx)
    for fmt in ("csv", "xlsx", "html"):
        for title in ("巡检B", "巡检市"):
            expect(
                ctx.client.get(f"/api/v1/civilization/draws/{ids[title]}/export", {"format": fmt}), 404, ctx
            )
        expect(ctx.client.get(f"/api/v1/civilization/draws/{ids['巡检A']}/export", {"format": fmt}), 200, ctx)


# ------------------------------------------------------------------ map exports (issue 9)


def _b_export():
    """A map export submitted in district B (made once per walk)."""
    from accounts.scoping import Jurisdiction
    from jobs.models import Job
    from jobs.selectors import JobCaller
    from webmap.export_jobs import KIND, map_export_start

    job = Job.objects.filter(kind=KIND, scope_code__startswith=B_PREFIX).first()
    if job is None:
        user = user_create(
            username="longmatan-export", password=PASSWORD, roles=["operator"], region_code=B_CODE
        )
        caller = JobCaller(jurisdiction=Jurisdiction(region_code=B_CODE), user_id=user.pk)
        job = map_export_start(
            caller=caller, scopes=frozenset({"events:read"}), layer="event_heatmap", fmt="html", params={}
        )
    return job


def ex_map_exports(ctx: Ctx) -> None:
    from jobs.runner import job_run

    b_job = _b_export()
    listed = expect(ctx.client.get("/api/v1/exports/maps"), 200, ctx).json()
    assert str(b_job.pk) not in json.dumps(listed)
    # the whole city, and B's region: the page holds A's events and outlines only
    city = _bbox_param(_extent(UnitGrid.objects.filter(code__startswith="5105")))
    for params, echoed in (({"bbox": city, "size": 300}, ()), ({"region": B_CODE, "size": 300}, (B_CODE,))):
        body = expect(
            ctx.client.post(
                "/api/v1/exports/maps", {"layer": "event_heatmap", "params": params}, format="json"
            ),
            202,
            ctx,
            echoed=echoed,
        ).json()
        assert job_run(job_id=UUID(body["id"])) == "succeeded"
        page = ctx.client.get(f"/api/v1/exports/maps/{body['id']}/file")
        assert page.status_code == 200, page
        text = assert_no_b(page, ctx, echoed)  # (a file: its content can be read once)
        api = expect(ctx.client.get("/api/v1/events/heatmap", params), 200, ctx, echoed=echoed).json()
        meta = re.search(r'id="export-meta">(.*?)</script>', text).group(1)
        assert json.loads(meta)["count"] == api["count"]


def ex_map_export(ctx: Ctx) -> None:
    url = f"/api/v1/exports/maps/{_b_export().pk}"
    expect(ctx.client.get(url), 404, ctx)
    expect(ctx.client.delete(url), 404, ctx)


def ex_map_export_cancel(ctx: Ctx) -> None:
    expect(ctx.client.post(f"/api/v1/exports/maps/{_b_export().pk}/cancel"), 404, ctx)


def ex_map_export_file(ctx: Ctx) -> None:
    expect(ctx.client.get(f"/api/v1/exports/maps/{_b_export().pk}/file"), 404, ctx)


# ------------------------------------------------------------------ grid staff and patrol tracks (issue 6)


def _tr_setup(ctx: Ctx) -> dict:
    """A person in A and one in B with fixes of yesterday, and a B department bound to a B grid.
    Written through the services, in the test's transaction."""
    import datetime as dt

    from django.utils import timezone

    from accounts.permissions import SCOPES, Principal
    from accounts.scoping import Jurisdiction
    from events.models import Department
    from grids.services.staff import StaffInput, grid_department_bind, staff_create
    from grids.services.tracks import positions_ingest

    nation = Jurisdiction(nationwide=True)
    system = Principal("system:walk", frozenset(SCOPES), nation)
    people = {}
    start = timezone.now() - dt.timedelta(days=1)
    for key, grid, (lon, lat) in (("a", ctx.a_grids[0], ctx.a_point), ("b", ctx.b_grids[0], ctx.b_point)):
        data = StaffInput(name=f"巡查{key}", role="full_time", grids=[(grid, "")])
        person = staff_create(data=data, jurisdiction=nation)
        fixes = [
            {"staff": person.pk, "t": start.timestamp() + i * 10, "lon": lon + i * 0.00008, "lat": lat}
            for i in range(30)
        ]
        assert positions_ingest(principal=system, items=fixes).accepted == 30
        people[key] = person
    b_department = Department.objects.get_or_create(name="龙马潭供电所", region_code=B_CODE)[0]
    grid_department_bind(grid_code=ctx.b_grids[0], department_id=b_department.pk, jurisdiction=nation)
    return {**people, "b_department": b_department, "day": timezone.localdate(start).isoformat()}


def _tr_manager(ctx: Ctx) -> APIClient:
    """District A with staff:manage and tracks:write: the key, or the A administrator."""
    return ctx.client if ctx.variant == "key" else ctx.writer


def ex_grid_staff(ctx: Ctx) -> None:
    setup = _tr_setup(ctx)
    body = expect(ctx.client.get("/api/v1/grid-staff", {"limit": 1000}), 200, ctx).json()
    ids = {s["id"] for s in body["results"]}
    assert setup["a"].pk in ids and setup["b"].pk not in ids
    assert all(s["region_code"].startswith(A_PREFIX) for s in body["results"])
    for params in ({"region": B_CODE}, {"grid": ctx.b_grids[0]}):
        echoed = tuple(params.values())
        assert expect(ctx.client.get("/api/v1/grid-staff", params), 200, ctx, echoed).json()["count"] == 0
    create = {"name": "新网格员", "role": "part_time", "grids": [{"grid": ctx.b_grids[0]}]}
    if ctx.variant == "user":  # the operator reads staff but does not manage them
        expect(ctx.client.post("/api/v1/grid-staff", create, format="json"), 403, ctx, code="missing_scope")
    manager = _tr_manager(ctx)
    expect(manager.post("/api/v1/grid-staff", create, format="json"), 404, ctx, echoed=(ctx.b_grids[0],))
    create["grids"] = [{"grid": ctx.a_grids[0]}]
    expect(manager.post("/api/v1/grid-staff", create, format="json"), 201, ctx)


def ex_grid_staff_detail(ctx: Ctx) -> None:
    setup = _tr_setup(ctx)
    url = f"/api/v1/grid-staff/{setup['b'].pk}"
    expect(ctx.client.get(url), 404, ctx)
    manager = _tr_manager(ctx)
    expect(manager.patch(url, {"status": "leave"}, format="json"), 404, ctx)
    expect(manager.delete(url), 404, ctx)
    a_url = f"/api/v1/grid-staff/{setup['a'].pk}"
    expect(ctx.client.get(a_url), 200, ctx)
    change = {"grids": [{"grid": ctx.b_grids[0]}]}  # moving an A person into B: refused
    expect(manager.patch(a_url, change, format="json"), 404, ctx, echoed=(ctx.b_grids[0],))
    response = manager.patch(a_url, {"status": "leave"}, format="json")
    assert expect(response, 200, ctx).json()["status"] == "leave"


def ex_staff_grids(ctx: Ctx) -> None:
    setup = _tr_setup(ctx)
    expect(ctx.client.get(f"/api/v1/staff/{setup['b'].pk}/grids"), 404, ctx)
    body = expect(ctx.client.get(f"/api/v1/staff/{setup['a'].pk}/grids"), 200, ctx).json()
    assert [g["grid"] for g in body["results"]] == [ctx.a_grids[0]]


def ex_grid_team(ctx: Ctx) -> None:
    setup = _tr_setup(ctx)
    for code in (ctx.b_grids[0], "510504001001999"):
        expect(ctx.client.get(f"/api/v1/grids/{code}/team"), 404, ctx, echoed=(code,))
    body = expect(ctx.client.get(f"/api/v1/grids/{ctx.a_grids[0]}/team"), 200, ctx).json()
    assert setup["a"].pk in [m["id"] for m in body["team"]]


def ex_grid_departments(ctx: Ctx) -> None:
    setup = _tr_setup(ctx)
    b_url = f"/api/v1/grids/{ctx.b_grids[0]}/departments"
    expect(ctx.client.get(b_url), 404, ctx, echoed=(ctx.b_grids[0],))
    manager = _tr_manager(ctx)
    department = setup["b_department"].pk
    expect(manager.delete(b_url + f"?department={department}"), 404, ctx, echoed=(ctx.b_grids[0],))
    a_url = f"/api/v1/grids/{ctx.a_grids[0]}/departments"
    # binding B's department to an A grid: refused without naming it
    expect(manager.post(a_url, {"department": department}, format="json"), 400, ctx)
    assert expect(ctx.client.get(a_url), 200, ctx).json()["results"] == []


def ex_positions(ctx: Ctx) -> None:
    import time

    setup = _tr_setup(ctx)
    a_lon, a_lat = ctx.a_point
    now = time.time()
    fixes = [
        {"staff": setup["b"].pk, "t": now - 30, "lon": a_lon, "lat": a_lat},
        {"staff": setup["a"].pk, "t": now - 20, "lon": a_lon, "lat": a_lat},
    ]
    if ctx.variant == "user":
        expect(ctx.client.post("/api/v1/positions", {"positions": fixes}, format="json"), 403, ctx)
    response = _tr_manager(ctx).post("/api/v1/positions", {"positions": fixes}, format="json")
    body = expect(response, 200, ctx).json()
    assert body["accepted"] == 1 and [r["code"] for r in body["rejected"]] == ["forbidden_staff"]


def ex_positions_upload(ctx: Ctx) -> None:
    import datetime as dt

    setup = _tr_setup(ctx)
    a_lon, a_lat = ctx.a_point
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    gpx = (
        f'<gpx><trk><trkseg><trkpt lat="{a_lat}" lon="{a_lon}"><time>{moment:%Y-%m-%dT%H:%M:%SZ}</time>'
        "</trkpt></trkseg></trk></gpx>"
    ).encode()
    manager = _tr_manager(ctx)
    for person, accepted in ((setup["b"], 0), (setup["a"], 1)):
        upload = SimpleUploadedFile("t.gpx", gpx)
        response = manager.post("/api/v1/positions/upload", {"file": upload, "staff": person.pk})
        assert expect(response, 200, ctx).json()["accepted"] == accepted


def ex_staff_track(ctx: Ctx) -> None:
    setup = _tr_setup(ctx)
    expect(ctx.client.get(f"/api/v1/staff/{setup['b'].pk}/track", {"from": setup["day"]}), 404, ctx)
    body = expect(ctx.client.get(f"/api/v1/staff/{setup['a'].pk}/track", {"from": setup["day"]}), 200, ctx)
    assert body.json()["points"] == 30


def ex_track_stats(ctx: Ctx) -> None:
    setup = _tr_setup(ctx)
    cases = (({}, ()), ({"region": B_CODE}, (B_CODE,)), ({"grid": ctx.b_grids[0]}, (ctx.b_grids[0],)))
    for by in ("grid", "staff"):
        for params, echoed in cases:
            query = {"by": by, "date": setup["day"], **params}
            rows = expect(ctx.client.get("/api/v1/track-stats", query), 200, ctx, echoed).json()["results"]
            if params:
                assert rows == []
            elif by == "grid":
                assert {r["code"][:6] for r in rows} == {A_PREFIX}
                assert next(r for r in rows if r["code"] == ctx.a_grids[0])["patrolled"] is True
            else:
                assert setup["b"].pk not in {r["staff"] for r in rows}
        for fmt in ("csv", "xlsx"):
            query = {"by": by, "export": fmt, "coverage": "false"}
            expect(ctx.client.get("/api/v1/track-stats", query), 200, ctx)


#: normalized route → how a district-A caller exercises it against district B
# ------------------------------------------------------------------ city components and cameras (issue 6)


def _comp_setup(ctx: Ctx) -> dict:
    """A component and a camera in A and in B (the demo city has more of both), written in the
    test's transaction through the services, nationwide."""
    from shapely.geometry import Point as ShapelyPoint

    from accounts.scoping import Jurisdiction
    from grids.services.cameras import CameraInput, camera_create
    from grids.services.components import ComponentInput, component_classes_load, component_create

    nation = Jurisdiction(nationwide=True)
    component_classes_load()
    out = {}
    for key, (lon, lat) in (("a", ctx.a_point), ("b", ctx.b_point)):
        out[key] = component_create(
            data=ComponentInput(class_code="0302", geom=ShapelyPoint(lon, lat), name=f"{key} 垃圾箱"),
            jurisdiction=nation,
        )
        out[f"{key}_camera"] = camera_create(
            data=CameraInput(
                name=f"{key} 枪机", category="traffic", lon=lon, lat=lat, direction=90.0, angle=60.0,
                range_m=100.0, stream_url="rtsp://10.0.0.9/live",
            ),
            jurisdiction=nation,
        )  # fmt: skip
    return out


def _a_components():
    from grids.assets import CityComponent

    return CityComponent.objects.filter(grid_code__startswith=A_PREFIX)


def _a_cameras():
    from grids.assets import Camera

    return Camera.objects.filter(grid_code__startswith=A_PREFIX)


def _expected_in(qs, params: dict, point_field: str = "geom") -> int:
    from gis_core.selectors.ranges import RangeFilter

    return RangeFilter.from_params(params).apply(qs, point_field=point_field, time_field="updated_at").count()


def ex_components(ctx: Ctx) -> None:
    setup = _comp_setup(ctx)
    url = "/api/v1/components"
    assert _a_components().exists()
    for params, echoed in _door_ranges(ctx):
        body = expect(ctx.client.get(url, {**params, "count": "true"}), 200, ctx, echoed).json()
        assert body["count"] == _expected_in(_a_components(), params, "point"), params
    page = expect(ctx.client.get(url, {"page_size": 1000, "class": "03"}), 200, ctx).json()
    assert page["count"] == _a_components().filter(component_class__major__code="03").count()
    assert all(f["properties"]["grid_code"].startswith(A_PREFIX) for f in page["features"])
    assert setup["b"].code not in {f["id"] for f in page["features"]}
    expect(ctx.client.get(url, {"export": "csv"}), 200, ctx)
    # creating one in B is refused without telling anything about B
    (b_lon, b_lat), (a_lon, a_lat) = ctx.b_point, ctx.a_point
    body = {"class_code": "0108", "geom": {"type": "Point", "coordinates": [b_lon, b_lat]}}
    expect(ctx.client.post(url, body, format="json"), 400, ctx, code="outside_jurisdiction")
    body["geom"]["coordinates"] = [a_lon, a_lat]
    expect(ctx.client.post(url, body, format="json"), 201, ctx)


def ex_components_heatmap(ctx: Ctx) -> None:
    _comp_setup(ctx)
    for params, echoed in _door_ranges(ctx):
        body = expect(
            ctx.client.get("/api/v1/components/heatmap", {**params, "zoom": 15}), 200, ctx, echoed
        ).json()
        assert body["count"] == _expected_in(_a_components(), params, "point"), params


def ex_components_clusters(ctx: Ctx) -> None:
    _comp_setup(ctx)
    for params, echoed in _door_ranges(ctx):
        body = expect(
            ctx.client.get("/api/v1/components/clusters", {**params, "zoom": 17}), 200, ctx, echoed
        ).json()
        assert body["count"] == _expected_in(_a_components(), params, "point"), params


def ex_components_stats(ctx: Ctx) -> None:
    _comp_setup(ctx)
    for params, echoed in _door_ranges(ctx):
        expected = _expected_in(_a_components(), params, "point")
        for by in ("district", "grid", "class"):
            body = expect(
                ctx.client.get("/api/v1/components/stats", {**params, "by": by}), 200, ctx, echoed
            ).json()
            assert body["total"] == expected == sum(r["count"] for r in body["results"]), (params, by)
    expect(ctx.client.get("/api/v1/components/stats", {"by": "district", "export": "xlsx"}), 200, ctx)


def ex_component_detail(ctx: Ctx) -> None:
    setup = _comp_setup(ctx)
    b_url, a_url = f"/api/v1/components/{setup['b'].code}", f"/api/v1/components/{setup['a'].code}"
    expect(ctx.client.get(b_url), 404, ctx, echoed=(setup["b"].code,), code="not_found")
    expect(ctx.client.patch(b_url, {"name": "改"}, format="json"), 404, ctx, echoed=(setup["b"].code,))
    assert expect(ctx.client.get(a_url), 200, ctx).json()["id"] == setup["a"].code
    expect(ctx.client.patch(a_url, {"maintainer": "环卫"}, format="json"), 200, ctx)


def ex_component_status(ctx: Ctx) -> None:
    setup = _comp_setup(ctx)
    b = setup["b"]
    url = f"/api/v1/components/{b.code}/status"
    expect(ctx.client.post(url, {"status": "lost"}, format="json"), 404, ctx, echoed=(b.code,))
    b.refresh_from_db()
    assert b.status == "intact"
    response = ctx.client.post(
        f"/api/v1/components/{setup['a'].code}/status", {"status": "damaged"}, format="json"
    )
    assert expect(response, 200, ctx).json()["properties"]["status"] == "damaged"


def ex_component_photo(ctx: Ctx) -> None:
    import tempfile

    from django.test import override_settings
    from PIL import Image

    from accounts.scoping import Jurisdiction
    from grids.services.components import component_status_set

    def photo() -> SimpleUploadedFile:
        buffer = io.BytesIO()
        Image.new("RGB", (32, 24), (9, 8, 7)).save(buffer, "PNG")
        return SimpleUploadedFile("p.png", buffer.getvalue())

    setup = _comp_setup(ctx)
    nation = Jurisdiction(nationwide=True)
    with tempfile.TemporaryDirectory() as media, override_settings(MEDIA_ROOT=media):
        for key in ("a", "b"):
            component_status_set(
                code=setup[key].code, status="damaged", jurisdiction=nation, photos=[photo()]
            )
        a_photo, b_photo = (setup[k].photos.get() for k in ("a", "b"))
        a, b = setup["a"].code, setup["b"].code
        for code, photo_id in ((b, b_photo.pk), (a, b_photo.pk)):
            expect(ctx.client.get(f"/api/v1/components/{code}/photos/{photo_id}"), 404, ctx, echoed=(b,))
        response = ctx.client.get(f"/api/v1/components/{a}/photos/{a_photo.pk}", {"thumbnail": "1"})
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
        assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"


def ex_component_classes(ctx: Ctx) -> None:
    _comp_setup(ctx)
    body = expect(ctx.client.get("/api/v1/component-classes"), 200, ctx).json()
    assert {"01", "07"} <= {c["code"] for c in body["results"]}


def ex_cameras(ctx: Ctx) -> None:
    setup = _comp_setup(ctx)
    url = "/api/v1/cameras"
    for params, echoed in _door_ranges(ctx):
        body = expect(ctx.client.get(url, {**params, "count": "true"}), 200, ctx, echoed).json()
        assert body["count"] == _expected_in(_a_cameras(), params), params
    page = expect(ctx.client.get(url, {"page_size": 1000}), 200, ctx).json()
    assert page["count"] == _a_cameras().count()
    assert setup["b_camera"].pk not in {f["id"] for f in page["features"]}
    assert all(f["properties"]["grid_code"].startswith(A_PREFIX) for f in page["features"])
    expect(ctx.client.get(url, {"export": "xlsx"}), 200, ctx)
    (b_lon, b_lat), (a_lon, a_lat) = ctx.b_point, ctx.a_point
    body = {
        "name": "新枪机",
        "category": "traffic",
        "lon": b_lon,
        "lat": b_lat,
        "direction": 0,
        "angle": 90,
        "range_m": 50,
    }
    expect(ctx.client.post(url, body, format="json"), 400, ctx, code="outside_jurisdiction")
    expect(ctx.client.post(url, {**body, "lon": a_lon, "lat": a_lat}, format="json"), 201, ctx)


def ex_cameras_seeing(ctx: Ctx) -> None:
    import math

    setup = _comp_setup(ctx)
    for camera in (setup["b_camera"], setup["a_camera"]):
        # a point 20 m east of the camera: inside its sector
        lon, lat = camera.geom.x + 20 / (111_320 * math.cos(math.radians(camera.geom.y))), camera.geom.y
        body = expect(ctx.client.get("/api/v1/cameras/seeing", {"lon": lon, "lat": lat}), 200, ctx).json()
        ids = {f["id"] for f in body["features"]}
        assert setup["b_camera"].pk not in ids
        assert (setup["a_camera"].pk in ids) == (camera is setup["a_camera"])
        assert all(f["properties"]["grid_code"].startswith(A_PREFIX) for f in body["features"])


def ex_cameras_near_event(ctx: Ctx) -> None:
    setup, events = _comp_setup(ctx), _ev_setup(ctx)
    for event in (events["b"], events["b_near"]):
        expect(ctx.client.get(f"/api/v1/cameras/near-event/{event.pk}"), 404, ctx, code="not_found")
    body = expect(
        ctx.client.get(f"/api/v1/cameras/near-event/{events['a'].pk}", {"radius": 500}), 200, ctx
    ).json()
    ids = {f["id"] for f in body["features"]}
    assert setup["a_camera"].pk in ids and setup["b_camera"].pk not in ids
    assert all(f["properties"]["grid_code"].startswith(A_PREFIX) for f in body["features"])


def ex_camera_detail(ctx: Ctx) -> None:
    setup = _comp_setup(ctx)
    b, a = setup["b_camera"], setup["a_camera"]
    expect(ctx.client.get(f"/api/v1/cameras/{b.pk}"), 404, ctx, code="not_found")
    expect(ctx.client.patch(f"/api/v1/cameras/{b.pk}", {"direction": 10}, format="json"), 404, ctx)
    assert expect(ctx.client.get(f"/api/v1/cameras/{a.pk}"), 200, ctx).json()["properties"]["stream_url"]
    expect(ctx.client.patch(f"/api/v1/cameras/{a.pk}", {"direction": 10}, format="json"), 200, ctx)


ROUTES: dict[str, Callable[[Ctx], None]] = {
    "api/v1/auth/login": ex_login,
    "api/v1/auth/logout": ex_logout,
    "api/v1/auth/me": ex_me,
    "api/v1/audit": ex_audit,
    "api/v1/locate": ex_locate,
    "api/v1/import/<str:layer>": ex_import,
    "api/v1/export/<str:layer>": ex_export,
    "api/v1/regions/?": ex_regions_list,
    r"api/v1/regions/(?P<code>\d{2,12})/?": ex_region_detail,
    "api/v1/grids/topology": ex_topology,
    "api/v1/grids/?": ex_grids_list,
    r"api/v1/grids/(?P<code>\d{15})/?": ex_grid_detail,
    "api/v1/geocode": ex_geocode,
    "api/v1/geocode/batch": ex_geocode_batch,
    "api/v1/geocode/suggest": ex_suggest,
    "api/v1/reverse": ex_reverse,
    "api/v1/geocode/jobs": ex_geocode_jobs,
    "api/v1/geocode/jobs/<uuid:job_id>": ex_geocode_job,
    "api/v1/geocode/jobs/<uuid:job_id>/cancel": ex_geocode_job_cancel,
    "api/v1/geocode/jobs/<uuid:job_id>/result": ex_geocode_job_result,
    "api/v1/doors": ex_doors,
    "api/v1/doors/heatmap": ex_doors_heatmap,
    "api/v1/doors/clusters": ex_doors_clusters,
    "api/v1/doors/stats": ex_doors_stats,
    "api/v1/events/search": ex_events_search,
    "api/v1/events/heatmap": ex_events_heatmap,
    "api/v1/events/clusters": ex_events_clusters,
    "api/v1/events/stats": ex_events_stats,
    "api/v1/events/performance": ex_events_performance,
    r"api/v1/open311/v2/discovery\.(?P<fmt>json|xml)": ex_open311_discovery,
    r"api/v1/open311/v2/services\.(?P<fmt>json|xml)": ex_open311_services,
    r"api/v1/open311/v2/services/(?P<code>[^/.]+)\.(?P<fmt>json|xml)": ex_open311_services,
    r"api/v1/open311/v2/requests\.(?P<fmt>json|xml)": ex_open311_requests,
    r"api/v1/open311/v2/requests/(?P<pk>\d+)\.(?P<fmt>json|xml)": ex_open311_request,
    "api/v1/events": ex_events,
    "api/v1/events/<int:pk>": ex_event_detail,
    "api/v1/events/<int:pk>/transitions": ex_event_transitions,
    "api/v1/events/<int:pk>/merge": ex_event_merge,
    "api/v1/events/<int:pk>/duplicates": ex_event_duplicates,
    "api/v1/events/<int:pk>/attachments/<int:attachment_id>": ex_event_attachment,
    "api/v1/event-categories": ex_event_categories,
    "api/v1/event-departments": ex_event_departments,
    "api/v1/notifications": ex_notifications,
    "api/v1/grid-staff": ex_grid_staff,
    "api/v1/grid-staff/<int:pk>": ex_grid_staff_detail,
    "api/v1/staff/<int:pk>/grids": ex_staff_grids,
    "api/v1/grids/<str:code>/team": ex_grid_team,
    "api/v1/grids/<str:code>/departments": ex_grid_departments,
    "api/v1/positions": ex_positions,
    "api/v1/positions/upload": ex_positions_upload,
    "api/v1/staff/<int:pk>/track": ex_staff_track,
    "api/v1/track-stats": ex_track_stats,
    "api/v1/civilization/units": ex_civ_units,
    "api/v1/civilization/units/<int:pk>": ex_civ_unit_detail,
    "api/v1/civilization/units/heatmap": ex_civ_units_heatmap,
    "api/v1/civilization/units/clusters": ex_civ_units_clusters,
    "api/v1/civilization/units/stats": ex_civ_units_stats,
    "api/v1/civilization/units/export": ex_civ_units_export,
    "api/v1/civilization/units/import": ex_civ_units_import,
    "api/v1/civilization/density": ex_civ_density,
    "api/v1/civilization/near": ex_civ_near,
    "api/v1/civilization/draws": ex_civ_draws,
    "api/v1/civilization/draws/<int:pk>": ex_civ_draw_detail,
    "api/v1/civilization/draws/<int:pk>/confirm": ex_civ_draw_confirm,
    "api/v1/civilization/draws/<int:pk>/void": ex_civ_draw_void,
    "api/v1/civilization/draws/<int:pk>/replace": ex_civ_draw_replace,
    "api/v1/civilization/draws/<int:pk>/verify": ex_civ_draw_verify,
    "api/v1/civilization/draws/<int:pk>/export": ex_civ_draw_export,
    "api/v1/component-classes": ex_component_classes,
    "api/v1/components": ex_components,
    "api/v1/components/heatmap": ex_components_heatmap,
    "api/v1/components/clusters": ex_components_clusters,
    "api/v1/components/stats": ex_components_stats,
    "api/v1/components/<str:code>": ex_component_detail,
    "api/v1/components/<str:code>/status": ex_component_status,
    "api/v1/components/<str:code>/photos/<int:photo_id>": ex_component_photo,
    "api/v1/cameras": ex_cameras,
    "api/v1/cameras/seeing": ex_cameras_seeing,
    "api/v1/cameras/near-event/<int:event_id>": ex_cameras_near_event,
    "api/v1/cameras/<int:pk>": ex_camera_detail,
    "api/v1/exports/maps": ex_map_exports,
    "api/v1/exports/maps/<uuid:job_id>": ex_map_export,
    "api/v1/exports/maps/<uuid:job_id>/cancel": ex_map_export_cancel,
    "api/v1/exports/maps/<uuid:job_id>/file": ex_map_export_file,
}


# ------------------------------------------------------------------ the tests


def test_the_walk_finds_the_api_and_both_pattern_kinds():
    routes = [route for route, _ in api_routes()]
    assert "api/v1/locate" in routes  # RoutePattern
    assert r"api/v1/regions/(?P<code>\d{2,12})/?" in routes  # RegexPattern of a DRF router
    assert not [r for r, _ in walk() if r.startswith("admin/") and r.startswith(API_PREFIX)]


def test_every_api_view_declares_required_scopes():
    for route, pattern in api_routes():
        cls = view_class(pattern)
        assert cls is not None, f"{route}: not a DRF view, its jurisdiction cannot be enforced"
        initkwargs = getattr(pattern.callback, "initkwargs", {}) or {}
        scopes = initkwargs.get("required_scopes", getattr(cls, "required_scopes", None))
        assert isinstance(scopes, dict) and scopes, f"{route}: {cls.__name__} declares no required_scopes"
        actions = getattr(pattern.callback, "actions", None)
        methods = (
            set(actions) - {"options", "head"}
            if actions
            else {m for m in cls.http_method_names if m not in ("options", "head") and hasattr(cls, m)}
        )
        for method in methods:
            assert scopes.get(method.upper()), (
                f"{route}: {cls.__name__} declares no scope for {method.upper()}"
            )


@pytest.fixture(params=["user", "key"])
def ctx(request, districts, operator_a, admin_a_api, auditor_a_api, settings, tmp_path) -> Ctx:
    settings.MEDIA_ROOT = tmp_path  # uploads of bulk jobs
    if request.param == "user":
        client = APIClient()
        client.force_authenticate(operator_a)
        writer, auditor, username = admin_a_api, auditor_a_api, "jiangyang"
    else:
        client = request.getfixturevalue("key_a_api")
        writer, auditor, username = request.getfixturevalue("import_key_a_api"), client, None
    return Ctx(
        variant=request.param, client=client, writer=writer, auditor=auditor,
        a_grids=districts.a_grids, b_grids=districts.b_grids,
        a_point=districts.a_grid_point, b_point=districts.b_grid_point, username=username,
    )  # fmt: skip


def test_no_route_under_api_v1_shows_district_b_to_district_a(ctx):
    routes = api_routes()
    assert routes, "the URLconf walk found no API route"
    uncovered = sorted({route for route, _ in routes} - set(ROUTES))
    assert not uncovered, f"route not covered by the jurisdiction test: {', '.join(uncovered)}"
    stale = sorted(set(ROUTES) - {route for route, _ in routes})
    assert not stale, f"routes in the table that no longer exist: {stale}"
    for route in dict.fromkeys(route for route, _ in routes):
        _flush_rate_limits()  # the whole walk sends more than a key may in a minute
        ROUTES[route](ctx)


def test_field_staff_see_only_their_grids(db, districts):
    mine = sorted(districts.a_grids)[:3]
    user = user_create(username="wanggeyuan", password=PASSWORD, roles=["field_staff"], grid_codes=mine)
    client = APIClient()
    client.force_authenticate(user)

    response = client.get("/api/v1/grids", {"page_size": 1000})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3
    assert sorted(f["id"] for f in body["features"]) == mine
    # another A grid and a B grid are not found; a point in another A grid is outside
    others = sorted(set(districts.a_grids) - set(mine))
    assert client.get(f"/api/v1/grids/{others[0]}").status_code == 404
    assert client.get(f"/api/v1/grids/{districts.b_grids[0]}").status_code == 404
    assert client.get("/api/v1/grids", {"region": A_CODE}).json()["count"] == 3
    lon, lat = districts.b_grid_point
    assert client.get("/api/v1/locate", {"lon": lon, "lat": lat}).json()["inside"] is False
