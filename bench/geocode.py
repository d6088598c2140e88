"""Forward geocoding: accuracy beside cpca and jionlp, batch throughput, HTTP p95.

* Accuracy: the evaluation set of :mod:`bench.geocode_eval` (about 2,500
  addresses over every province, seeded; plus 700 addresses of the demo city
  with their true points: door plates, door numbers left out of the gazetteer,
  POIs, buildings — taken from the plan the bench database was built from). The
  same texts go to civgrid (``geocoding.selectors.geocode.geocode_batch``),
  ``cpca.transform`` and ``jionlp.parse_location(town_village=True)`` in this
  process. A region level counts correct when the code the tool gives at that
  level equals the label. cpca returns an adcode: its chain counts, and so do
  its names (resolved in the division tables under the province/city it names),
  so an adcode from older data does not count against it; jionlp returns names
  only, resolved the same way. Point levels (ours only): door / interpolated
  (the left-out numbers) / poi / building count correct when placed within 30 m
  of the true point, grid when the unit grid is the true point's; the median
  and p90 placement errors are over the addresses that got a point.
* Throughput: ``geocode_batch`` on ≥10,000 other addresses from the same
  generator (a different seed) in batches of 10,000, this process pinned to one
  core (PostgreSQL runs beside it), median of ``BENCH_GEOCODE_REPEATS`` runs.
* Single request: ``GET /api/v1/geocode?q=…`` and ``GET /api/v1/geocode/suggest?q=<prefix>``
  against one gunicorn worker, a new connection per request, with an API key,
  on demo-city addresses (door addresses; the national set if the plan has no doors).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import statistics
import sys
import time
import traceback
from collections import Counter, defaultdict
from urllib.parse import quote

from bench.geocode_eval import (
    DEFAULT_SEED,
    LEVEL_NAMES,
    EvalItem,
    build_evalset,
    demo_items,
    load_divisions,
)
from bench.serving import api_key, gunicorn, percentiles, time_get
from gis_core.codes import InvalidCode, ancestor_codes, level_of, pad_code

REGION_LEVELS = ("province", "city", "district", "street")
# demo-city items placed within DOOR_RADIUS_M of their true point, by kind (``meta["kind"]``)
POINT_LEVELS = {"door": "door", "interpolated": "door_gap", "poi": "poi", "building": "building"}
LEVELS = (*REGION_LEVELS, *POINT_LEVELS, "grid")
TOOLS = ("civgrid", "cpca", "jionlp")
# the other tools that reach each region level (cpca stops at the district)
REACHES = {
    "province": ("cpca", "jionlp"),
    "city": ("cpca", "jionlp"),
    "district": ("cpca", "jionlp"),
    "street": ("jionlp",),
}
DOOR_RADIUS_M = 30.0
BATCH_LIMIT = 10_000
# variants broken down at district and street level
BREAKDOWN_TAGS = (
    "clean", "full", "omit_province", "omit_city", "omit_province_city", "short", "typo_district",
    "typo_street", "fullwidth", "cn_numeral", "crossing", "traditional", "separators", "place_road",
    "shared_district", "shared_town", "municipality", "direct_town", "province_direct_county",
)  # fmt: skip


# ---------------------------------------------------------------- the three tools


def _geocode_batch():
    """Our batch geocoder, or None (with the reason) while it does not exist."""
    try:
        from geocoding.selectors.geocode import geocode_batch
    except ImportError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return geocode_batch, ""


def _codes_from_regions(regions) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in regions or ():
        level = r.get("level")
        if level in LEVEL_NAMES and r.get("code"):
            out[LEVEL_NAMES[level]] = {r["code"]}
    return out


def ours_predict(geocode_batch, texts: list[str]) -> list[dict]:
    preds: list[dict] = []
    for start in range(0, len(texts), BATCH_LIMIT):
        for res in geocode_batch(texts[start : start + BATCH_LIMIT]):
            loc = res.get("location") or None
            grid = res.get("grid") or None
            preds.append(
                {
                    "codes": _codes_from_regions(res.get("regions")),
                    "point": (loc["lon"], loc["lat"]) if loc else None,
                    "grid": grid.get("code") if isinstance(grid, dict) else grid,
                    "status": res.get("status"),
                    "match_level": res.get("match_level"),
                    "confidence": res.get("confidence"),
                }
            )
    return preds


def _chain_of_adcode(adcode) -> dict[str, str]:
    if adcode is None or (isinstance(adcode, float) and math.isnan(adcode)):
        return {}
    text = str(adcode).split(".")[0].strip()
    if not text.isdigit():
        return {}
    text = text.ljust(6, "0")[:6]
    # 510500 is a city, 510000 a province: trim the zero segments before padding
    for width in (6, 4, 2):
        if text[width - 2 : width] != "00" or width == 2:
            text = text[:width]
            break
    try:
        return {LEVEL_NAMES[level_of(c)]: c for c in ancestor_codes(pad_code(text))}
    except InvalidCode:
        return {}


def _clean(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value).strip() or None


def cpca_predict(texts: list[str]) -> tuple[list[dict], float]:
    import cpca

    cpca.transform(["四川省泸州市江阳区"])  # load its tables outside the timing
    t = time.perf_counter()
    df = cpca.transform(texts)
    elapsed = time.perf_counter() - t
    div = load_divisions()
    preds = []
    for prov, city, area, adcode in zip(df["省"], df["市"], df["区"], df["adcode"], strict=True):
        codes: dict[str, set[str]] = defaultdict(set)
        for level, code in _chain_of_adcode(adcode).items():
            codes[level].add(code)
        for level, code in div.resolve_names([_clean(prov), _clean(city), _clean(area)]).items():
            codes[level].add(code)
        preds.append({"codes": dict(codes), "point": None})
    return preds, elapsed


def _jionlp():
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        import jionlp

    return jionlp


def jionlp_predict(texts: list[str]) -> tuple[list[dict], float]:
    jio = _jionlp()
    div = load_divisions()
    preds = []
    elapsed = 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        jio.parse_location("四川省泸州市江阳区南城街道", town_village=True)  # load its dictionaries
    for text in texts:
        t = time.perf_counter()
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                res = jio.parse_location(text, town_village=True)
        except Exception:
            res = {}
        elapsed += time.perf_counter() - t
        names = [_clean(res.get(k)) for k in ("province", "city", "county", "town")]
        codes = {level: {code} for level, code in div.resolve_names(names).items()}
        preds.append({"codes": codes, "point": None})
    return preds, elapsed


# ---------------------------------------------------------------- scoring


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def _hit(item: EvalItem, pred: dict, level: str) -> bool:
    if level in POINT_LEVELS:
        return pred.get("point") is not None and _metres(item.point, pred["point"]) <= DOOR_RADIUS_M
    if level == "grid":
        return pred.get("grid") == item.meta["grid_code"]
    return item.expected[level] in pred["codes"].get(level, ())


def _has(item: EvalItem, level: str) -> bool:
    if level in POINT_LEVELS:
        return item.point is not None and item.meta.get("kind") == POINT_LEVELS[level]
    if level == "grid":
        return bool(item.meta.get("grid_code"))
    return level in item.expected


def score(items: list[EvalItem], preds: list[dict]) -> dict:
    levels = {}
    for level in LEVELS:
        idx = [i for i, it in enumerate(items) if _has(it, level)]
        hits = sum(_hit(items[i], preds[i], level) for i in idx)
        levels[level] = {"n": len(idx), "correct": hits, "accuracy": hits / len(idx) if idx else None}
    by_tag: dict[str, dict] = {}
    for tag in BREAKDOWN_TAGS:
        row = {}
        for level in ("district", "street"):
            idx = [i for i, it in enumerate(items) if tag in it.tags and level in it.expected]
            hits = sum(_hit(items[i], preds[i], level) for i in idx)
            row[level] = {"n": len(idx), "accuracy": hits / len(idx) if idx else None}
        by_tag[tag] = row
    return {"levels": levels, "by_tag": by_tag}


def placement_errors(items: list[EvalItem], preds: list[dict]) -> dict:
    """Per kind of demo-city item: median and p90 distance to the true point, and match levels."""
    out = {}
    for level, kind in POINT_LEVELS.items():
        errors, unplaced, kinds = [], 0, Counter()
        for it, p in zip(items, preds, strict=True):
            if it.point is None or it.meta.get("kind") != kind:
                continue
            kinds[p.get("match_level") or "none"] += 1
            if p.get("point") is None:
                unplaced += 1
            else:
                errors.append(_metres(it.point, p["point"]))
        errors.sort()
        out[level] = {
            "median_m": statistics.median(errors) if errors else None,
            "p90_m": errors[int(0.9 * (len(errors) - 1))] if errors else None,
            "placed": len(errors),
            "unplaced": unplaced,
            "match_levels": dict(kinds.most_common()),
        }
    return out


def _pct(cell: dict | None) -> str:
    if not cell or cell.get("accuracy") is None:
        return "—"
    return f"{100 * cell['accuracy']:.1f}"


def print_table(results: dict, items: list[EvalItem]) -> None:
    n_demo = sum(it.point is not None for it in items)
    national = len(items) - n_demo
    print(f"geocoding accuracy on {len(items):,} addresses ({national:,} national, {n_demo} demo city), %")
    print(
        f"  (door/interpolated/poi/building: placed within {DOOR_RADIUS_M:.0f} m; grid: the true unit grid)"
    )
    header = f"  {'level':<13}{'N':>6}" + "".join(f"{t:>10}" for t in TOOLS)
    print(header)
    for level in LEVELS:
        n = next((r["levels"][level]["n"] for r in results.values() if r and "levels" in r), 0)
        cells = []
        for tool in TOOLS:
            r = results.get(tool)
            if not r or "levels" not in r:
                cells.append("n/a")
            elif tool != "civgrid" and tool not in REACHES.get(level, ()):
                cells.append("—")  # the tool does not reach this level
            else:
                cells.append(_pct(r["levels"][level]))
        print(f"  {level:<13}{n:>6}" + "".join(f"{c:>10}" for c in cells))
    print("  by variant (district / street accuracy, %):")
    for tag in BREAKDOWN_TAGS:
        first = next((r for r in results.values() if r and "by_tag" in r), None)
        if not first:
            break
        nd, ns = first["by_tag"][tag]["district"]["n"], first["by_tag"][tag]["street"]["n"]
        cells = []
        for tool in TOOLS:
            r = results.get(tool)
            if not r or "by_tag" not in r:
                cells.append("n/a")
                continue
            street = _pct(r["by_tag"][tag]["street"]) if tool in ("civgrid", *REACHES["street"]) else "—"
            cells.append(f"{_pct(r['by_tag'][tag]['district'])}/{street}")
        print(f"    {tag:<24}N {nd:>4}/{ns:<4}" + "".join(f"{c:>13}" for c in cells))


# ---------------------------------------------------------------- speed


@contextlib.contextmanager
def _one_core():
    try:
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(before)})
    except (AttributeError, OSError):
        yield None
        return
    try:
        yield min(before)
    finally:
        os.sched_setaffinity(0, before)


def throughput(geocode_batch, texts: list[str], repeats: int) -> dict:
    with _one_core() as core:
        geocode_batch(texts[:200])  # load the in-memory gazetteer once
        runs = []
        for _ in range(repeats):
            t = time.perf_counter()
            for start in range(0, len(texts), BATCH_LIMIT):
                geocode_batch(texts[start : start + BATCH_LIMIT])
            runs.append(time.perf_counter() - t)
    med = statistics.median(runs)
    result = {"addresses": len(texts), "seconds": runs, "addresses_per_s": len(texts) / med, "core": core}
    print(
        f"batch geocode_batch on one core (cpu {core}): {len(texts) / med:,.0f} addresses/s "
        f"({len(texts):,} addresses, median of {repeats} runs: {med:.2f} s)"
    )
    return result


def _route_exists(path: str) -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def http_single(texts: list[str], n: int) -> dict:
    import random

    from accounts.permissions import SCOPES

    out: dict = {}
    routes = {"geocode": "/api/v1/geocode", "suggest": "/api/v1/geocode/suggest"}
    missing = [name for name, path in routes.items() if not _route_exists(path)]
    for name in missing:
        print(f"single GET {routes[name]}: not available (no such route yet)")
        out[name] = None
    if len(missing) == len(routes):
        return out
    rng = random.Random(DEFAULT_SEED)
    picks = [texts[rng.randrange(len(texts))] for _ in range(n)]
    prefixes = []
    for text in picks:
        stop = rng.randint(2, max(2, len(text) - 1))
        prefixes.append(text[:stop])
    token = api_key(sorted(SCOPES))
    with gunicorn() as port:
        for name, queries in (("geocode", picks), ("suggest", prefixes)):
            if name in missing:
                continue
            paths = [f"{routes[name]}?q={quote(q)}" for q in queries]
            samples, statuses = time_get(port, paths, token, warmup=50)
            out[name] = {**percentiles(samples), "statuses": dict(statuses)}
            server_errors = sum(v for k, v in statuses.items() if k >= 500)
            print(
                f"single GET {routes[name]} over HTTP: p50 {out[name]['p50_ms']:.2f} ms, "
                f"p95 {out[name]['p95_ms']:.2f} ms, p99 {out[name]['p99_ms']:.2f} ms "
                f"({out[name]['requests']} requests; statuses {dict(sorted(statuses.items()))}"
                + (f", {server_errors} server errors" if server_errors else "")
                + ")"
            )
    return out


# ---------------------------------------------------------------- the run


def demo_plan():
    """The plan the bench database's demo city was built from (same seed and scale)."""
    scale = os.environ.get("BENCH_SCALE", "large")
    try:
        from demo.services import demo_city_plan
    except ImportError:  # before demo_city_plan existed
        from demo.citygen import build_city
        from demo.services import _divisions

        return build_city(city=_divisions(), seed=1, scale=scale)
    return demo_city_plan(seed=1, scale=scale)


def evaluation_set(plan=None) -> tuple[list[EvalItem], str]:
    items = build_evalset(seed=DEFAULT_SEED, n=int(os.environ.get("BENCH_GEOCODE_ITEMS", 2000)))
    note = ""
    demo = demo_items(plan, seed=DEFAULT_SEED) if plan is not None else None
    if not demo:
        note = "the demo plan has no door plates (CityPlan.doors): door-level addresses skipped"
        print(f"note: {note}")
    else:
        items += demo
    return items, note


def accuracy(items: list[EvalItem]) -> tuple[dict, dict]:
    texts = [it.text for it in items]
    results: dict = {}
    preds: dict = {}
    geocode_batch, why = _geocode_batch()
    if geocode_batch is None:
        print(f"civgrid: not available ({why})")
        results["civgrid"] = {"available": False, "reason": why}
    else:
        try:
            geocode_batch(["四川省泸州市江阳区南城街道"])  # load the in-memory gazetteer outside the timing
            t = time.perf_counter()
            preds["civgrid"] = ours_predict(geocode_batch, texts)
        except Exception as exc:
            traceback.print_exc()
            print(f"civgrid: failed ({type(exc).__name__}: {exc})")
            results["civgrid"] = {"available": False, "reason": f"{type(exc).__name__}: {exc}"}
        else:
            results["civgrid"] = {**score(items, preds["civgrid"]), "seconds": time.perf_counter() - t}
            results["civgrid"]["placement"] = placement_errors(items, preds["civgrid"])
    for tool, predict in (("cpca", cpca_predict), ("jionlp", jionlp_predict)):
        try:
            preds[tool], seconds = predict(texts)
        except ImportError as exc:
            print(f"{tool}: not available ({exc}); `make bench` installs requirements-bench.txt")
            results[tool] = {"available": False, "reason": str(exc)}
            continue
        results[tool] = {**score(items, preds[tool]), "seconds": seconds}
    return results, preds


def run() -> dict:
    sys.stdout.flush()
    plan = demo_plan()
    items, note = evaluation_set(plan)
    results, _ = accuracy(items)
    print_table(results, items)
    for tool in TOOLS:
        r = results.get(tool) or {}
        if "seconds" in r:
            print(
                f"  {tool}: {len(items) / r['seconds']:,.0f} addresses/s over the evaluation set (not pinned)"
            )
    out: dict = {"items": len(items), "note": note, "accuracy": results}
    for level, err in ((results.get("civgrid") or {}).get("placement") or {}).items():
        if not err["placed"] and not err["unplaced"]:
            continue
        med = "—" if err["median_m"] is None else f"{err['median_m']:.1f} m"
        p90 = "—" if err["p90_m"] is None else f"{err['p90_m']:.1f} m"
        print(
            f"{level} addresses: median placement error {med}, p90 {p90} "
            f"({err['placed']} placed, {err['unplaced']} without a point; match levels {err['match_levels']})"
        )
    geocode_batch, _ = _geocode_batch()
    if geocode_batch is None:
        print("batch throughput: not available")
        out["throughput"] = None
    else:
        more = build_evalset(
            seed=DEFAULT_SEED + 1, n=int(os.environ.get("BENCH_GEOCODE_BATCH", 10_000)), hard=False
        )
        texts = [it.text for it in more] + [it.text for it in items if it.point is not None]
        out["throughput"] = throughput(geocode_batch, texts, int(os.environ.get("BENCH_GEOCODE_REPEATS", 3)))
    demo_texts = [it.text for it in items if it.point is not None] or [it.text for it in items]
    out["single"] = http_single(demo_texts, int(os.environ.get("BENCH_GEOCODE_REQUESTS", 1000)))
    out["targets"] = targets(out)
    return out


def targets(out: dict) -> dict:
    """The issue's targets, met or not (printed; BENCHMARKS.md records them)."""
    acc = out["accuracy"]
    ours = acc.get("civgrid") or {}
    checks: dict[str, bool | None] = {}
    if "levels" in ours:
        for level in REGION_LEVELS:
            others = [
                acc[t]["levels"][level]["accuracy"]
                for t in REACHES[level]
                if "levels" in acc.get(t, {}) and acc[t]["levels"][level]["accuracy"] is not None
            ]
            mine = ours["levels"][level]["accuracy"]
            if others and mine is not None:
                checks[f"{level}: at least the better of {'/'.join(REACHES[level])}"] = bool(
                    mine >= max(others)
                )
        street = ours["levels"]["street"]["accuracy"]
        checks["street: at least 95 %"] = None if street is None else street >= 0.95
    thr = out.get("throughput")
    checks["batch: at least 1,000 addresses/s on one core"] = (
        bool(thr["addresses_per_s"] >= 1000) if thr else None
    )
    single = (out.get("single") or {}).get("geocode")
    checks["single GET /geocode: p95 under 20 ms"] = bool(single["p95_ms"] < 20) if single else None
    suggest = (out.get("single") or {}).get("suggest")
    checks["suggest: p95 under 30 ms"] = bool(suggest["p95_ms"] < 30) if suggest else None
    print("targets:")
    for name, ok in checks.items():
        print(f"  {name}: {'met' if ok else 'NOT met' if ok is False else 'not measured'}")
    return checks
