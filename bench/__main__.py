"""`make bench`: build the large demo city in its own database, then run every
benchmark and print medians and ratios. Results also go to bench/out/*.json.

``python -m bench [part ...]`` runs only the named parts (locate, geocode, tiles, tracks, events,
civilization, webmap);
``make bench BENCH=geocode`` does the same through make.

Not a test: nothing here asserts a speed; BENCHMARKS.md records the figures.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")


def _ensure_database() -> None:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    params = {
        "dbname": "postgres",
        "user": db["USER"] or None,
        "host": db["HOST"] or None,
        "port": db["PORT"] or None,
        "password": db["PASSWORD"] or None,
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def _predates_door_plates() -> bool:
    """The bench database's demo city was built before the generator made door plates."""
    import dataclasses

    from demo.citygen import CityPlan
    from geocoding.models import DoorPlate

    has_doors = any(f.name == "doors" for f in dataclasses.fields(CityPlan))
    return has_doors and not DoorPlate.objects.exists()


def machine() -> dict:
    cpu = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def ensure_city() -> None:
    """The bench database, migrated, with the large demo city (built once): used by every
    benchmark part and by ``make loadtest``. Django must be set up."""
    _ensure_database()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from demo.services import demo_city_build

    scale = os.environ.get("BENCH_SCALE", "large")
    t0 = time.perf_counter()
    if demo_city_build(seed=1, scale=scale) is not None:
        print(f"built the {scale} demo city in {time.perf_counter() - t0:.1f} s")
    elif _predates_door_plates():
        demo_city_build(seed=1, scale=scale, force=True)
        print(f"rebuilt the {scale} demo city (it had no door plates) in {time.perf_counter() - t0:.1f} s")


PARTS = ("locate", "geocode", "tiles", "tracks", "events", "civilization", "webmap")


def main(argv: list[str] | None = None) -> int:
    parts = list(dict.fromkeys(sys.argv[1:] if argv is None else argv)) or list(PARTS)
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        print(
            f"unknown benchmark part(s): {', '.join(unknown)}; choose from {', '.join(PARTS)}",
            file=sys.stderr,
        )
        return 2
    import importlib

    import django

    django.setup()
    ensure_city()

    results = {"machine": machine(), "when": time.strftime("%Y-%m-%d %H:%M:%S %z")}
    if "events" in parts:  # the city's events, once: BENCH_EVENTS (default 1,000,000) in all
        from bench.events import ensure_events

        results["events_generated"] = ensure_events(int(os.environ.get("BENCH_EVENTS", 1_000_000)))
    print(json.dumps(results["machine"], ensure_ascii=False))
    for part in parts:
        print(f"== {part}")
        sys.stdout.flush()
        results[part] = importlib.import_module(f"bench.{part}").run()
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    name = "results.json" if parts == list(PARTS) else f"results-{'-'.join(parts)}.json"
    (out / name).write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str))
    print(f"results written to {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
