"""The command center's speed in a real browser on the large city (issue 9 "Speed"; not pass/fail).

Chromium (headless, Playwright) opens /map/ served by gunicorn (config.settings.bench) and reads
the page's own timings (``window.civgrid.timing``, ms since the navigation started):

- first map render: the base map's visible tiles all drawn (its first ``load``);
- all visible tiles loaded: every layer switched on at start (base map, district and street
  boundaries, unit grids, events — aggregated cells or points) has drawn its visible tiles.

For two users: the nationwide administrator (the whole city in view: aggregated event cells) and
the 指挥中心 of one district. The first load of each runs on empty caches (a fresh MapProxy
directory and vector-tile cache namespace: every base-map tile rendered, every tile queried);
the next ``BENCH_WEBMAP_RUNS`` loads are warm (server caches filled; each in a new browser
context, so nothing comes from the browser's cache). Reference in the same run: a page with
Leaflet and the same base map alone, over the same view (what our layers add on top of a map).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid

from bench.serving import gunicorn

__all__ = ["run"]

CHROMIUM = os.environ.get("CIVGRID_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1600, "height": 900}
PASSWORD = "Bench-Webmap-2026"
USERS = {
    "bench_web_admin": {"roles": ["admin"], "nationwide": True, "superuser": True},
    "bench_web_operator": {"roles": ["operator"], "region_code": "510502"},
}

# the base map alone, over the view the command center opened on (the reference)
BASELINE_JS = """async (bounds) => {
  const t0 = performance.now();
  document.body.innerHTML = '<div id="ref" style="position:fixed;inset:0"></div>';
  const map = L.map('ref', {minZoom: 4, maxZoom: 19});
  const base = L.tileLayer('/basemap/tiles/basemap/webmercator/{z}/{x}/{y}.png', {maxZoom: 19});
  const loaded = new Promise((resolve) => base.once('load', resolve));
  base.addTo(map);
  map.fitBounds(bounds, {padding: [8, 8]});
  await loaded;
  return performance.now() - t0;
}"""


def _users() -> None:
    from django.contrib.auth import get_user_model

    from accounts.services import user_create

    existing = set(get_user_model().objects.filter(username__in=USERS).values_list("username", flat=True))
    for username, spec in USERS.items():
        if username not in existing:
            user_create(username=username, password=PASSWORD, **spec)


def _login(context, base: str, username: str) -> None:
    context.request.get(f"{base}/login/")
    token = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
    response = context.request.post(
        f"{base}/api/v1/auth/login",
        data={"username": username, "password": PASSWORD},
        headers={"X-CSRFToken": token, "Referer": f"{base}/login/"},
    )
    if not response.ok:
        raise RuntimeError(f"login of {username} failed: {response.text()}")


def _load_center(browser, base: str, username: str) -> dict:
    """One fresh browser context: open /map/, wait for every visible tile, return the timings."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    try:
        _login(context, base, username)
        page = context.new_page()
        page.goto(f"{base}/map/")
        page.wait_for_function("window.civgrid && civgrid.timing.allLoaded !== null", timeout=180_000)
        timing = page.evaluate("civgrid.timing")
        view = page.evaluate(
            "(() => { const b = civgrid.map.getBounds(); return {zoom: civgrid.map.getZoom(), "
            "bounds: [[b.getSouth(), b.getWest()], [b.getNorth(), b.getEast()]]}; })()"
        )
        stats = page.evaluate(
            "Object.fromEntries(Object.entries(civgrid.layers).map(([k, l]) => [k, l.stats || null]))"
        )
        baseline = _load_basemap_only(browser, base, username, view["bounds"])
        return {
            "first_render_ms": timing["baseLoaded"],
            "all_tiles_ms": timing["allLoaded"],
            "first_tile_ms": timing["firstTile"],
            "layer_loaded_ms": timing["layers"],
            "basemap_only_ms": baseline,
            "zoom": view["zoom"],
            "tiles": {k: v["loaded"] for k, v in stats.items() if v},
            "features": {k: v["features"] for k, v in stats.items() if v},
            "outside_127": [u for u in requests if not u.startswith(base) and not u.startswith("data:")],
        }
    finally:
        context.close()


def _load_basemap_only(browser, base: str, username: str, bounds) -> float:
    """The reference: Leaflet and the base map alone over the same view, in its own fresh context
    (nothing from the browser's cache)."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    try:
        _login(context, base, username)
        page = context.new_page()
        page.goto(f"{base}/login/")
        return page.evaluate(BASELINE_JS, bounds)
    finally:
        context.close()


def run() -> dict:
    from django.db import connections
    from playwright.sync_api import sync_playwright

    _users()
    connections.close_all()
    runs = int(os.environ.get("BENCH_WEBMAP_RUNS", 5))
    results: dict = {"runs_warm": runs}
    with tempfile.TemporaryDirectory(prefix="civgrid-bench-basemap-") as basemap_dir:
        # empty caches for the first load: a fresh base-map directory and tile-cache namespace
        os.environ["CIVGRID_BASEMAP_DIR"] = basemap_dir
        os.environ["CIVGRID_TILE_CACHE_NAMESPACE"] = f"bench-webmap-{uuid.uuid4().hex[:8]}"
        with gunicorn(workers=2) as port, sync_playwright() as pw:
            base = f"http://127.0.0.1:{port}"
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
            )
            try:
                for username in USERS:
                    t = time.perf_counter()
                    cold = _load_center(browser, base, username)
                    warm = [_load_center(browser, base, username) for _ in range(runs)]
                    summary = {
                        key: statistics.median(r[key] for r in warm)
                        for key in ("first_render_ms", "all_tiles_ms", "first_tile_ms", "basemap_only_ms")
                    }
                    summary["ratio_all_tiles_vs_basemap_only"] = (
                        summary["all_tiles_ms"] / summary["basemap_only_ms"]
                    )
                    results[username] = {"cold": cold, "warm_median": summary, "warm": warm}
                    print(
                        f"  {username}: zoom {cold['zoom']}, "
                        f"cold first render {cold['first_render_ms']:.0f} ms, "
                        f"all tiles {cold['all_tiles_ms']:.0f} ms; warm median first render "
                        f"{summary['first_render_ms']:.0f} ms, all tiles {summary['all_tiles_ms']:.0f} ms, "
                        f"base map alone {summary['basemap_only_ms']:.0f} ms "
                        f"({time.perf_counter() - t:.0f} s)"
                    )
                    print(f"    tiles {cold['tiles']}, features drawn {cold['features']}")
            finally:
                browser.close()
        for name in ("CIVGRID_BASEMAP_DIR", "CIVGRID_TILE_CACHE_NAMESPACE"):
            os.environ.pop(name, None)
    return results
