"""The login page: signing in goes to the page asked for; a wrong password shows the server's message."""

from __future__ import annotations

from playwright.sync_api import expect

from .conftest import demo_password


def test_root_redirects_to_login_then_to_the_map(page_as, screenshot):
    page = page_as(None, "/")
    expect(page).to_have_url(f"{page.cg.server.url}/login/?next=/map/")
    expect(page.locator("h1")).to_have_text("civgrid 网格化管理指挥平台")
    screenshot(page, "login")
    page.fill("#username", "jiangyang_operator")
    page.fill("#password", demo_password("jiangyang_operator"))
    page.click("#login-submit")
    page.wait_for_url("**/map/")
    expect(page.locator(".topbar .user-name")).to_have_text("jiangyang_operator")
    expect(page.locator(".topbar .user-where")).to_have_text("江阳区")
    expect(page.locator(".topnav a.active")).to_have_text("指挥中心")


def test_wrong_password_shows_the_server_message(page_as):
    page = page_as(None, "/login/?next=/map/")
    page.fill("#username", "jiangyang_operator")
    page.fill("#password", "not-the-password-1")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_have_text("用户名或密码错误")
    expect(page).to_have_url(f"{page.cg.server.url}/login/?next=/map/")


def test_pages_need_a_login_and_their_scope(page_as, screenshot):
    anonymous = page_as(None, "/map/")
    expect(anonymous).to_have_url(f"{anonymous.cg.server.url}/login/?next=/map/")
    auditor = page_as("jiangyang_auditor", "/map/")
    expect(auditor.locator("h1")).to_contain_text("无权使用")
    expect(auditor.locator(".topnav a")).to_have_count(0)
    screenshot(auditor, "forbidden-auditor")


def test_logout(page_as):
    page = page_as("jiangyang_planner", "/map/")
    expect(page.locator(".topnav a")).to_have_text(["指挥中心", "文明创建"])
    page.click("#logout")
    page.wait_for_url("**/login/")
    page.goto("/map/")
    expect(page).to_have_url(f"{page.cg.server.url}/login/?next=/map/")
