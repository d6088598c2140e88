"""Track playback (/map/track/) in a real browser: pick a person with a track, play it — the marker
moves, the slider advances, the mileage, duration and stops of the API are shown."""

from __future__ import annotations

from playwright.sync_api import expect


def _now(page) -> dict:
    return page.eval_on_selector("#track-now", "n => ({...n.dataset})")


def _at(now: dict, vertex: list[float]) -> bool:
    return abs(float(now["lon"]) - vertex[0]) < 1e-6 and abs(float(now["lat"]) - vertex[1]) < 1e-6


def test_play_a_track(page_as, screenshot):
    page = page_as("jiangyang_operator", "/map/track/")
    expect(page.locator(".topnav a.active")).to_have_text("轨迹回放")
    options = page.locator("#track-staff option")
    expect(options.first).to_contain_text("最近定位")  # people with a track come first
    staff_id = page.locator("#track-staff").input_value()
    day = page.locator("#track-date").input_value()
    with page.expect_response(lambda r: f"/api/v1/staff/{staff_id}/track" in r.url) as answer:
        page.click("#track-load")
    track = answer.value.json()
    assert answer.value.status == 200 and len(track["path"]) > 10, track.get("error")
    assert track["start"].startswith(day)

    km = f"{track['mileage_m'] / 1000:.2f} 公里"
    expect(page.locator("#track-mileage")).to_contain_text(km)
    expect(page.locator("#track-stops-count")).to_have_text(f"{len(track['stops'])} 处")
    expect(page.locator("#track-patrols")).to_have_text(f"{len(track['patrols'])} 次")
    expect(page.locator("#track-list li")).to_have_count(len(track["stops"]) + len(track["patrols"]))
    expect(page.locator(".track-marker")).to_have_count(1)
    start = _now(page)
    assert start["t"] == "0"
    assert _at(start, track["path"][0])

    page.select_option("#track-speed", "64")
    page.click("#track-play")
    expect(page.locator("#track-play")).to_have_attribute("aria-pressed", "true")
    page.wait_for_function("Number(document.getElementById('track-slider').value) > 120")
    page.click("#track-play")  # pause
    expect(page.locator("#track-play")).to_have_attribute("aria-pressed", "false")
    moved = _now(page)
    assert int(moved["t"]) > 120
    assert (moved["lon"], moved["lat"]) != (start["lon"], start["lat"])
    assert int(page.locator("#track-slider").input_value()) == int(moved["t"])
    paused = _now(page)
    page.wait_for_timeout(400)
    assert _now(page) == paused  # paused stays put

    # the slider seeks: the end of the window is the last vertex
    end = int(page.locator("#track-slider").get_attribute("max"))
    page.locator("#track-slider").fill(str(end))
    last = _now(page)
    assert _at(last, track["path"][-1])
    page.locator("#track-slider").fill(str(int(moved["t"])))
    screenshot(page, "track-playback")
