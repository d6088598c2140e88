"""The simulated users of `make loadtest` (locust). No Django here: what the users need
(API key, real points, addresses, staff, categories) comes from the JSON the driver
wrote (``LOADTEST_FIXTURE``, see :mod:`loadtest.prepare`).

Three kinds of users, in the proportions of a city's day:

* **Dispatchers** (指挥中心, 5 of 10): pan the map — vector tiles of events and grids at
  zoom 12–16 — and look at heatmaps and range queries (circle counts, event pages).
* **Field staff** (网格员, 3 of 10): their phones send positions in small batches, report
  an event now and then, and locate where they stand.
* **Other systems** (2 of 10, by API key): geocode, reverse-geocode, suggest, locate.

Think times are a person's (a few seconds); ``LOADTEST_THINK=0`` removes them (closed
loop, for the throughput-vs-processes runs). ``LOADTEST_MAX_REQUESTS`` bounds a run's
request count as ``-t`` bounds its time. Only loopback hosts are accepted. The heatmap task is
tagged ``heatmap`` (``--exclude-tags heatmap`` leaves it out: see BENCHMARKS.md "## Load").
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path
from urllib.parse import quote, urlparse

from locust import FastHttpUser, between, constant, events, tag, task

FIX = json.loads(Path(os.environ["LOADTEST_FIXTURE"]).read_text(encoding="utf-8"))
AUTH = {"Authorization": f"Bearer {FIX['token']}"}
THINK = float(os.environ.get("LOADTEST_THINK", "1"))
MAX_REQUESTS = int(os.environ.get("LOADTEST_MAX_REQUESTS", "0"))
_count = 0


def _wait(lo: float, hi: float):
    return between(lo * THINK, hi * THINK) if THINK > 0 else constant(0)


@events.init.add_listener
def _loopback_only(environment, **kwargs) -> None:
    host = urlparse(environment.host or "").hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"the load test runs on loopback only, not against {environment.host!r}")


@events.request.add_listener
def _bound(**kwargs) -> None:
    global _count
    _count += 1
    if MAX_REQUESTS and _count >= MAX_REQUESTS:
        from locust.runners import STATE_STOPPED, STATE_STOPPING

        runner = _bound.environment.runner
        if runner is not None and runner.state not in (STATE_STOPPING, STATE_STOPPED):
            runner.quit()


@events.init.add_listener
def _keep_environment(environment, **kwargs) -> None:
    _bound.environment = environment


def _point(spread_m: float = 150.0) -> tuple[float, float]:
    """A real place of the city (inside some grid), moved up to ``spread_m``."""
    lon, lat = random.choice(FIX["points"])
    d = spread_m / 111_320
    return lon + random.uniform(-d, d) / math.cos(math.radians(lat)), lat + random.uniform(-d, d)


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _bbox(lon: float, lat: float, half_km: float) -> str:
    dy = half_km / 111.32
    dx = dy / math.cos(math.radians(lat))
    return f"{lon - dx:.6f},{lat - dy:.6f},{lon + dx:.6f},{lat + dy:.6f}"


class Dispatcher(FastHttpUser):
    weight = 5
    wait_time = _wait(1, 4)

    @task(6)
    def map_tiles(self) -> None:
        lon, lat = _point()
        z = random.randint(12, 16)
        x, y = _tile(lon, lat, z)
        for layer in ("events", "grids"):
            self.client.get(
                f"/tiles/{layer}/{z}/{x}/{y}.mvt", headers=AUTH, name=f"/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt"
            )

    @tag("heatmap")
    @task(2)
    def heatmap(self) -> None:
        lon, lat = _point()
        zoom = random.choice((12, 13, 14))
        bbox = _bbox(lon, lat, 40 / 2 ** (zoom - 11))
        self.client.get(
            f"/api/v1/events/heatmap?bbox={bbox}&zoom={zoom}&bin_px=32",
            headers=AUTH,
            name="/api/v1/events/heatmap",
        )

    @task(2)
    def circle_count(self) -> None:
        lon, lat = _point()
        radius = random.choice((200, 500, 1000, 3000))
        self.client.get(
            f"/api/v1/events?count=true&lon={lon:.6f}&lat={lat:.6f}&radius={radius}",
            headers=AUTH, name="/api/v1/events?count (circle)",
        )  # fmt: skip

    @task(1)
    def events_page(self) -> None:
        lon, lat = _point()
        self.client.get(
            f"/api/v1/events?lon={lon:.6f}&lat={lat:.6f}&radius=500&page_size=50",
            headers=AUTH, name="/api/v1/events (page, circle)",
        )  # fmt: skip


class FieldStaff(FastHttpUser):
    weight = 3
    wait_time = _wait(5, 15)

    def on_start(self) -> None:
        self.staff = random.choice(FIX["staff"])
        # a grid's own point: a report must fall inside the city (a point moved 150 m from a grid on
        # the city's edge can leave it, and the report is then refused with 400, rightly)
        self.lon, self.lat = _point(spread_m=0)

    @task(5)
    def positions(self) -> None:
        now = time.time()
        fixes = []
        for k in range(10, 0, -1):  # the last ten seconds, walking
            self.lon += random.uniform(-1, 1) * 1e-5
            self.lat += random.uniform(-1, 1) * 1e-5
            fixes.append({"staff": self.staff, "t": round(now - k, 3), "lon": self.lon, "lat": self.lat})
        self.client.post(
            "/api/v1/positions", json={"positions": fixes}, headers=AUTH, name="/api/v1/positions"
        )

    @task(1)
    def report(self) -> None:
        body = {
            "category": random.choice(FIX["categories"]),
            "description": "[压测] 井盖破损",
            "lon": round(self.lon, 6),
            "lat": round(self.lat, 6),
        }
        self.client.post("/api/v1/events", json=body, headers=AUTH, name="/api/v1/events (report)")

    @task(2)
    def locate(self) -> None:
        self.client.get(
            f"/api/v1/locate?lon={self.lon:.6f}&lat={self.lat:.6f}", headers=AUTH, name="/api/v1/locate"
        )


class OtherSystem(FastHttpUser):
    weight = 2
    wait_time = _wait(0.5, 2)

    @task(3)
    def geocode(self) -> None:
        q = quote(random.choice(FIX["addresses"]))
        self.client.get(f"/api/v1/geocode?q={q}", headers=AUTH, name="/api/v1/geocode")

    @task(1)
    def suggest(self) -> None:
        text = random.choice(FIX["addresses"])
        q = quote(text[: random.randint(2, max(2, len(text) - 2))])
        self.client.get(f"/api/v1/geocode/suggest?q={q}", headers=AUTH, name="/api/v1/geocode/suggest")

    @task(2)
    def reverse(self) -> None:
        lon, lat = _point()
        self.client.get(f"/api/v1/reverse?lon={lon:.6f}&lat={lat:.6f}", headers=AUTH, name="/api/v1/reverse")

    @task(3)
    def locate(self) -> None:
        lon, lat = _point()
        self.client.get(f"/api/v1/locate?lon={lon:.6f}&lat={lat:.6f}", headers=AUTH, name="/api/v1/locate")
