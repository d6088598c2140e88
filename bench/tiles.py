"""Vector tiles over HTTP: 500 fixed tiles at zooms 10–18 over the large demo city.

Per layer: uncached p50/p95 (a fresh Redis namespace, so every first request
builds its tile), then the same tiles again from the cache (tiles per second,
several client threads against two gunicorn workers: with gunicorn's defaults and a new
connection per tile, then with the production settings, ``deploy/gunicorn.conf.py``, over
kept connections as a browser fetches them — each fetched by Python threads, whose own
CPU is taken from the same two cores, and by wrk, a C load generator, for
``WRK_SECONDS`` each: the figure the target is read from), and TiPg — a vector-tile
server for PostGIS (FastAPI + asyncpg) — run as a subprocess on another port
against the same tables and the same tiles — each tile asked of both, one right after the
other (uncached pass) — with the ratio of the p50s and p95s and the median per-tile ratio.

Layers: events, grids, door plates and one region level (``BENCH_TILE_LAYERS=grids,doors``
runs some of them). The cached pass also reports the web processes' CPU time per tile, which
a busy machine inflates far less than wall time. Events: the p95 below and from the zoom where
points replace counted cells are reported apart (the target is on the points, z≥16).

What differs, stated in the output: TiPg applies no jurisdiction scoping and no
aggregation (below our threshold it sends raw points, up to its 10,000-feature
limit per tile), and has no category join; ours adds authentication, the
scoping, the change-stamp query and the Redis lookup to every tile.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from urllib.parse import quote

from .serving import ROOT, api_key, free_port, gunicorn, percentiles

__all__ = ["run"]

N_TILES = int(os.environ.get("BENCH_TILES", 500))
#: the cached tiles over kept connections are fetched this many times (500 take under a second)
KEPT_ROUNDS = 4
#: the wrk passes: seconds each, connections open at once
WRK_SECONDS = 8
WRK_CONNECTIONS = 8
ZOOMS = range(10, 19)
# our layer → (TiPg collection, its properties): the same table and comparable attributes
LAYERS = {
    "events": ("public.events_event", "id,state,kind,source,grid_code,escalation_level,reported_at"),
    "grids": ("public.grids_unitgrid", "code,name,kind,community_code,households,population"),
    "doors": ("public.geocoding_doorplate", "id,number,suffix,grid_code"),
    # one level of the region table (TiPg: the same rows through a CQL2 filter on the level)
    "regions-community": ("public.gis_core_region", "code,name,level"),
}
TIPG_FILTERS = {"regions-community": "&filter=level=5"}
#: BENCH_TILE_LAYERS=grids,doors: only those layers (default: all of LAYERS)
ONLY = [n for n in os.environ.get("BENCH_TILE_LAYERS", ",".join(LAYERS)).split(",") if n in LAYERS]
#: the zoom from which the events target applies (points, not the aggregated cells below it)
EVENT_POINTS_FROM = 16


def fixed_tiles(n: int = N_TILES, seed: int = 1) -> list[tuple[int, int, int]]:
    """``n`` distinct tiles at zooms 10–18, each around a point of a random unit grid."""
    from grids.models import UnitGrid
    from tiles.tilemath import lonlat_to_tile

    rng = random.Random(seed)
    points = [g.geom.point_on_surface for g in UnitGrid.objects.only("geom").order_by("code")]
    tiles: dict[tuple[int, int, int], None] = {}
    attempt = 0
    while len(tiles) < n:  # zooms in turn; a city has few low-zoom tiles, so those repeat and are skipped
        p = rng.choice(points)
        z = ZOOMS[attempt % len(ZOOMS)]
        attempt += 1
        t = lonlat_to_tile(p.x + rng.uniform(-0.002, 0.002), p.y + rng.uniform(-0.002, 0.002), z)
        tiles[(t.z, t.x, t.y)] = None
    return list(tiles)


def _timed(port: int, paths: list[str], token: str, check=None) -> tuple[list[float], dict[int, int]]:
    """Seconds per GET, a new connection each (as ``serving.time_get``, but a low-zoom tile over a
    million events may take longer than its 10-second timeout, and nothing is left out)."""
    samples, statuses = [], {}
    for path in paths:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        t = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        body = resp.read()
        samples.append(time.perf_counter() - t)
        conn.close()
        statuses[resp.status] = statuses.get(resp.status, 0) + 1
        if check is not None:
            check(resp.status, body)
    return samples, statuses


def _timed_side_by_side(
    port: int, paths: list[str], token: str, check, other_port: int, other_paths: list[str]
) -> tuple[list[float], list[float], dict[int, int]]:
    """Seconds per GET of each tile from ours and from the other server (TiPg), and the other's
    statuses; each tile asked of both one right after the other, which first alternating tile
    by tile: both see the same moment of a shared, noisy machine, and neither always finds the
    rows the other has just brought into memory."""
    ours, theirs, statuses = [], [], {}

    def other_get(path: str) -> None:
        samples, answered = _timed(other_port, [path], token)
        theirs.extend(samples)
        for status, n in answered.items():
            statuses[status] = statuses.get(status, 0) + n

    for k, (path, other) in enumerate(zip(paths, other_paths, strict=True)):
        if k % 2:
            other_get(other)
        ours.extend(_timed(port, [path], token, check=check)[0])
        if not k % 2:
            other_get(other)
    return ours, theirs, statuses


def _throughput(port: int, paths: list[str], token: str, threads: int = 4, keepalive: bool = False) -> float:
    """Tiles per second, ``threads`` clients each on its own connections: a new one per tile,
    or (``keepalive``) one kept for all its tiles, as a browser keeps its few per host."""
    chunks = [paths[i::threads] for i in range(threads)]
    done = [0] * threads

    def client(k: int) -> None:
        conn = None
        for path in chunks[k]:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            resp = conn.getresponse()
            resp.read()
            if not keepalive or resp.will_close:
                conn.close()
                conn = None
            done[k] += 1
        if conn is not None:
            conn.close()

    workers = [threading.Thread(target=client, args=(k,)) for k in range(threads)]
    t = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(done) / (time.perf_counter() - t)


def _wrk(
    port: int, paths: list[str], token: str, *, keepalive: bool, seconds: int = WRK_SECONDS
) -> dict | None:
    """Cached tiles per second measured by wrk (a load generator in C, so the client takes a
    sliver of the two cores the Python client above shares with the server): ``WRK_CONNECTIONS``
    connections cycling through ``paths``, kept (as a browser keeps its few per host) or one
    per tile (``Connection: close``). None when wrk is not installed (scripts/setup.sh installs it)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    listed = ",".join(json.dumps(p) for p in paths)
    script = f"""paths = {{{listed}}}
wrk.headers["Authorization"] = {json.dumps("Bearer " + token)}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
response = function(status, headers, body)
  if status ~= 200 then error("HTTP " .. status) end
end
"""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    cpu0 = _server_cpu_s(port)
    try:
        close = [] if keepalive else ["-H", "Connection: close"]
        args = [wrk, "-t2", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", f.name, *close]
        done = subprocess.run(
            [*args, f"http://127.0.0.1:{port}/"], capture_output=True, text=True, timeout=seconds + 60
        )
    finally:
        os.unlink(f.name)
    text = done.stdout
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    if done.returncode != 0 or rate is None or total is None:
        raise RuntimeError(f"wrk failed: {done.stdout}{done.stderr}")
    if "Non-2xx" in text or "Socket errors" in text:
        raise RuntimeError(f"wrk saw errors: {text}")
    latency = dict(re.findall(r"^\s+(50|90|99)%\s+([0-9.]+\w+)", text, re.M))
    return {
        "tiles_per_s": float(rate.group(1)),
        "requests": int(total.group(1)),
        "web_cpu_ms_per_tile": (_server_cpu_s(port) - cpu0) / int(total.group(1)) * 1000,
        "latency": latency,
    }


def _server_cpu_s(port: int) -> float:
    """CPU seconds (user + system) used so far by the gunicorn processes bound to ``port`` — the
    master and its forked workers share its command line. Load on the machine stretches wall
    time, not much CPU time, so CPU per tile is the steadier figure of a busy box."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                if f"127.0.0.1:{port}".encode() not in fh.read():
                    continue
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime (fields 14, 15)
    return total


def _tipg(port: int):
    from django.conf import settings

    db = settings.DATABASES["default"]
    host, user = db["HOST"] or "localhost", db["USER"] or "postgres"
    auth = f"{user}:{db['PASSWORD']}" if db["PASSWORD"] else user
    if host.startswith("/"):  # a unix socket: its directory, percent-encoded, as the host (asyncpg)
        url = f"postgresql://{auth}@{quote(host, safe='')}/{db['NAME']}"
    else:
        url = f"postgresql://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": '["' + '","'.join(c for c, _ in LAYERS.values()) + '"]',
    }
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tipg.main:app", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip


def _wait(port: int, path: str, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            ok = conn.getresponse().status == 200
            conn.close()
            if ok:
                return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def run() -> dict:
    from django.db import connection

    from events.models import Event
    from tiles.registry import get_layer

    with connection.cursor() as cur:
        cur.execute("ANALYZE events_event, grids_unitgrid, geocoding_doorplate, gis_core_region")
    counts = {"events": Event.objects.count()}
    print(f"events in the bench city: {counts['events']:,} (whatever the events generator has made)")
    tiles = fixed_tiles()
    token = api_key(["regions:read", "grids:read", "events:read", "geocode:read"], name="bench-tiles")
    os.environ["CIVGRID_TILE_CACHE_NAMESPACE"] = uuid.uuid4().hex  # every first request misses
    out: dict = {"tiles": len(tiles), "zooms": [ZOOMS.start, ZOOMS.stop - 1], **counts, "layers": {}}
    tipg_port = free_port()
    tipg = _tipg(tipg_port)
    try:
        tipg_up = _wait(tipg_port, "/collections")
        if not tipg_up:
            print("TiPg did not start: its column is left empty")
        with gunicorn(workers=2) as port, gunicorn(workers=2, deployed=True) as deployed:
            for name, (collection, props) in LAYERS.items():
                if name not in ONLY:
                    continue
                layer = get_layer(name)
                paths = [f"/tiles/{name}/{z}/{x}/{y}.mvt" for z, x, y in tiles]
                sizes: list[int] = []

                def check(status: int, body: bytes, name=name, sizes=sizes) -> None:
                    if status != 200:
                        raise RuntimeError(f"{name}: HTTP {status}: {body[:200]!r}")
                    sizes.append(len(body))

                split, zooms = layer.aggregate_below or EVENT_POINTS_FROM, [z for z, _, _ in tiles]
                # warm the workers (imports, connections) on other cache keys, then measure
                if "region" in layer.accepted_params:
                    warm = [p + "?region=51" for p in paths[:20]]
                else:  # the same zooms on the other side of the globe: other keys, empty tiles
                    warm = [
                        f"/tiles/{name}/{z}/{x}/{(y + (1 << z) // 2) % (1 << z)}.mvt"
                        for z, x, y in tiles[:20]
                    ]
                _timed(port, warm, token)
                _timed(deployed, warm, token)
                tp = [
                    f"/collections/{collection}/tiles/WebMercatorQuad/{z}/{x}/{y}?properties={props}"
                    + TIPG_FILTERS.get(name, "")
                    for z, x, y in tiles
                ]
                if tipg_up:  # ours and TiPg's, tile by tile
                    _timed(tipg_port, tp[:20], token)  # warm-up, as for ours
                    uncached, tipg_samples, tipg_statuses = _timed_side_by_side(
                        port, paths, token, check, tipg_port, tp
                    )
                else:
                    uncached, _ = _timed(port, paths, token, check=check)
                cpu0 = _server_cpu_s(port)
                cached_tps = _throughput(port, paths, token)
                cached_cpu_ms = (_server_cpu_s(port) - cpu0) / len(paths) * 1000
                # the same cached tiles from the production server settings over kept connections
                cpu0 = _server_cpu_s(deployed)
                kept_tps = _throughput(deployed, paths * KEPT_ROUNDS, token, keepalive=True)
                kept_cpu_ms = (_server_cpu_s(deployed) - cpu0) / (len(paths) * KEPT_ROUNDS) * 1000
                wrk_close = _wrk(port, paths, token, keepalive=False)
                wrk_kept = _wrk(deployed, paths, token, keepalive=True)
                row = {
                    "uncached": percentiles(uncached),
                    "wrk": {"new_connections": wrk_close, "kept_connections": wrk_kept},
                    "cached_tiles_per_s": cached_tps,
                    # the web processes' CPU per cached tile (not PostgreSQL's or Redis's)
                    "cached_cpu_ms_per_tile": cached_cpu_ms,
                    "cached_kept_tiles_per_s": kept_tps,
                    "cached_kept_cpu_ms_per_tile": kept_cpu_ms,
                    "uncached_by_zoom": {
                        "below": percentiles([t for t, z in zip(uncached, zooms, strict=True) if z < split]),
                        "from": percentiles([t for t, z in zip(uncached, zooms, strict=True) if z >= split]),
                        "split_zoom": split,
                    },
                    "mean_kb": sum(sizes) / len(sizes) / 1024,
                    "max_kb": max(sizes) / 1024,
                    "aggregated_below_zoom": layer.aggregate_below,
                }
                if tipg_up:
                    row["tipg"] = percentiles(tipg_samples)
                    row["tipg_statuses"] = tipg_statuses
                    row["ratio_p50"] = row["tipg"]["p50_ms"] / row["uncached"]["p50_ms"]
                    row["ratio_p95"] = row["tipg"]["p95_ms"] / row["uncached"]["p95_ms"]
                    # the same tile, the same moment: the median of the per-tile ratios, and how
                    # many tiles ours built at least as fast
                    paired = sorted(t / o for t, o in zip(tipg_samples, uncached, strict=True))
                    row["ratio_per_tile_median"] = paired[len(paired) // 2]
                    row["ours_as_fast_share"] = sum(r >= 1 for r in paired) / len(paired)
                out["layers"][name] = row
                u = row["uncached"]
                line = (
                    f"{name:7s} uncached p50 {u['p50_ms']:.1f} ms p95 {u['p95_ms']:.1f} ms · "
                    f"cached {cached_tps:,.0f} tiles/s ({cached_cpu_ms:.2f} ms web CPU each), "
                    f"kept connections {kept_tps:,.0f} tiles/s ({kept_cpu_ms:.2f} ms) · "
                    f"mean {row['mean_kb']:.1f} kB max {row['max_kb']:.1f} kB"
                )
                if wrk_close and wrk_kept:
                    line += (
                        f" · wrk: {wrk_close['tiles_per_s']:,.0f} tiles/s one connection each, "
                        f"{wrk_kept['tiles_per_s']:,.0f} kept "
                        f"({wrk_kept['web_cpu_ms_per_tile']:.2f} ms web CPU)"
                    )
                if layer.aggregate_below is not None:
                    by = row["uncached_by_zoom"]
                    below, above = by["below"]["p95_ms"], by["from"]["p95_ms"]
                    line += f" · p95 z<{split} {below:.1f} ms, z≥{split} {above:.1f} ms"
                if "tipg" in row:
                    t = row["tipg"]
                    line += (
                        f" · TiPg p50 {t['p50_ms']:.1f} ms p95 {t['p95_ms']:.1f} ms "
                        f"(TiPg/ours {row['ratio_p50']:.2f}× / {row['ratio_p95']:.2f}×; per tile, "
                        f"median {row['ratio_per_tile_median']:.2f}×, ours as fast on "
                        f"{row['ours_as_fast_share']:.0%})"
                    )
                print(line)
                sys.stdout.flush()
    finally:
        tipg.terminate()
        tipg.wait(10)
    return out
