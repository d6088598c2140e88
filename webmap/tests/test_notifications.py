"""The command center's notification bell (js/notifications.js) in a real browser: the overdue
and escalation notices of the beat task's sweep (events.services.escalation) for the operators of
a district — the badge is the API's unread count, a notice opens its event in the detail panel
and brings it into view, 全部已读 clears the badge, and a notice of another district never reaches
the page."""

from __future__ import annotations

import json
import re

from playwright.sync_api import expect

from .test_panels import api_get

OPERATOR = "jiangyang_operator"
NOTICES = "/api/v1/notifications"
BELL = "#cg-bell"
DETAIL = "#cg-panels [data-pane=detail]"

# Run in the served copy (manage.py shell): the sweep once for the demo city's backlog, then one
# event 20 days old in 江阳区 and one in 龙马潭区 and the sweep again at the present moment — far
# past both deadlines, so each gets 超时 and 升级督办, the newest notices of all.
SEED = """
import datetime as dt, json
from django.utils import timezone
from accounts.permissions import SCOPES, Principal
from accounts.scoping import Jurisdiction
from events.services.escalation import events_escalate
from events.services.reporting import ReportInput, event_report
from grids.models import UnitGrid

root = Principal("user:webtest", frozenset(SCOPES), Jurisdiction(nationwide=True))
events_escalate(now=timezone.now())
at = timezone.now() - dt.timedelta(days=20)
ids = {}
for key, district in (("ours", "510502"), ("theirs", "510504")):
    grid = UnitGrid.objects.filter(code__startswith=district).order_by("code")[3]
    p = grid.geom.point_on_surface
    data = ReportInput(category="E0109", description="通知测试：道路遗撒", point=(p.x, p.y), reported_at=at)
    ids[key] = event_report(principal=root, data=data, now=at).event.pk
events_escalate(now=timezone.now())
print("SEED", json.dumps(ids))
"""


def seed(web_server) -> dict[str, int]:
    out = web_server.manage("shell", "-c", SEED).stdout
    line = next(line for line in out.splitlines() if line.startswith("SEED "))
    return json.loads(line[5:])


def badge_shows(page, unread: int) -> None:
    bell = page.locator(BELL)
    expect(bell).to_have_attribute("data-unread", str(unread))
    count = bell.locator("[data-role=count]")
    if unread:
        expect(count).to_be_visible()
        expect(count).to_have_text(str(unread) if unread <= 99 else "99+")
    else:
        expect(count).to_be_hidden()


def test_the_bell_lists_the_districts_notices(web_server, page_as, screenshot):
    ids = seed(web_server)
    page = page_as(OPERATOR, "/map/", wait_until="domcontentloaded")
    seen: list[dict] = []  # every notice list the page received

    def record(response) -> None:
        if response.url.split("?")[0].endswith(NOTICES) and response.request.method == "GET" and response.ok:
            seen.append(response.json())

    page.on("response", record)
    bell = page.locator(BELL)
    expect(bell).to_be_visible()
    expect(bell).to_have_attribute("data-loaded", "1", timeout=30_000)

    body = api_get(page, NOTICES, {"unread": 1, "limit": 1000})
    unread = body["unread"]
    assert unread >= 2  # ours: 超时 and 升级督办
    assert {n["event"] for n in body["results"]} >= {ids["ours"]}
    assert ids["theirs"] not in {n["event"] for n in body["results"]}
    assert all(n["region_code"].startswith("510502") for n in body["results"])
    badge_shows(page, unread)

    # open the list: the newest notices, ours first (the sweep's last), in Chinese
    button = page.get_by_role("button", name="超时与督办通知")
    expect(button).to_have_attribute("aria-expanded", "false")
    button.click()
    panel = page.locator("#cg-bell-panel")
    expect(panel).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "true")
    ours = panel.locator(f"li.cg-note[data-event='{ids['ours']}']")
    expect(ours).to_have_count(2)
    expect(ours.locator(".cg-note-kind")).to_have_text(["升级督办", "超时"])
    expect(ours.first.locator(".cg-note-msg")).to_contain_text(f"事件 {ids['ours']}")
    expect(ours.first.locator(".cg-note-msg")).to_contain_text("升级督办")
    expect(ours.last.locator(".cg-note-msg")).to_contain_text("已超时")
    expect(ours.first.locator(".cg-note-time")).to_have_text(re.compile(r"^(刚刚|\d+ 分钟前)$"))
    expect(panel.locator(f"li.cg-note[data-event='{ids['theirs']}']")).to_have_count(0)
    screenshot(page, "notifications-bell")

    # Escape closes and gives the focus back to the bell
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    expect(panel).to_be_visible()

    # a notice opens its event's detail (once the side panels listen), brings it into view, is read
    expect(page.locator("#cg-panels")).to_have_attribute("data-ready", "true", timeout=30_000)
    ours.first.locator("button").click()
    expect(panel).to_be_hidden()
    detail = page.locator(DETAIL)
    expect(detail).to_be_visible()
    expect(detail).to_have_attribute("data-event-id", str(ids["ours"]))
    expect(page.locator("path.cg-selected-event")).to_have_count(1)
    lon, lat = api_get(page, f"/api/v1/events/{ids['ours']}")["geometry"]["coordinates"]
    page.wait_for_function(
        "([lon, lat]) => { const s = window.civgrid.selectedEvent;"
        " return s && Math.abs(s[0] - lat) < 1e-6 && Math.abs(s[1] - lon) < 1e-6"
        " && window.civgrid.map.getBounds().contains(s); }",
        arg=[lon, lat],
    )
    badge_shows(page, unread - 1)
    expect(bell).not_to_have_attribute("data-loading", "true")
    assert api_get(page, NOTICES, {"unread": 1, "limit": 1})["unread"] == unread - 1

    # 全部已读: the badge goes away, for the server too
    button.click()
    read_all = panel.get_by_role("button", name="全部已读")
    expect(read_all).to_be_enabled()
    read_all.click()
    badge_shows(page, 0)
    expect(panel.locator(".cg-note-empty")).to_have_text("暂无未读通知")
    expect(read_all).to_be_disabled()
    assert api_get(page, NOTICES, {"unread": 1, "limit": 1})["unread"] == 0
    screenshot(page, "notifications-all-read")

    # 全部: the read notices are still there, greyed; 未读 empties the list again
    panel.get_by_role("button", name="全部", exact=True).click()
    expect(bell).to_have_attribute("data-show", "all")
    expect(ours).to_have_count(2)
    expect(ours.first).to_have_class(re.compile(r"\bis-read\b"))
    expect(panel.locator("li.cg-note:not(.is-read)")).to_have_count(0)
    expect(panel.locator(f"li.cg-note[data-event='{ids['theirs']}']")).to_have_count(0)
    badge_shows(page, 0)
    panel.get_by_role("button", name="未读", exact=True).click()
    expect(panel.locator(".cg-note-empty")).to_have_text("暂无未读通知")

    # jurisdiction: no answer the page received carried 龙马潭区's notice
    assert seen
    assert all(ids["theirs"] != n["event"] for answer in seen for n in answer["results"])
    theirs = api_get(page, NOTICES, {"limit": 1000})["results"]
    assert ids["theirs"] not in {n["event"] for n in theirs}
