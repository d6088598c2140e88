"""`make loadtest` (``python -m loadtest``): serve the large demo city and load it with locust.

The database is ``civgrid_bench`` (``config.settings.bench``; ``BENCH_DATABASE_URL``
overrides it), built by `make bench`; this never rebuilds it. It adds a little: one API
key per run, and the events and positions the simulated users report (events described
"[压测] …").

Runs, each on a fresh gunicorn (deploy/gunicorn.conf.py) and one Celery worker on its own
queue, all on 127.0.0.1:

* ``--users 50,200,500`` for ``--duration`` seconds each after the ramp (stats reset
  when every user is running), bounded by ``--max-requests`` too;
* ``--scaling 1,2,4``: the same mix without think time (closed loop, ``--scaling-users``
  users) on 1, 2 and 4 web processes: throughput against processes;
* ``--soak 600``: ``--soak-users`` users for that many seconds, sampling the RSS of every
  web worker; growth between the second and the last sample is reported.

Figures are printed and written to ``.run/loadtest/<time>/results.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.executable).parent
TARGET_USERS, TARGET_P99_MS = 200, 500
EXCLUDE_TAGS: list[str] = []  # --exclude-tags: tasks of the mix left out (loadtest/locustfile.py)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.bench",
        "CIVGRID_CELERY_QUEUE": "civgrid-loadtest",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def _answers(url: str, token: str) -> bool:
    import urllib.request

    request = urllib.request.Request(
        url + "/api/v1/locate?lon=0&lat=0", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def serving(workers: int, out: Path, token: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """gunicorn (deploy/gunicorn.conf.py, ``workers`` processes) and a Celery worker; yields the URL."""
    port = _free_port()
    env = _env(
        WEB_CONCURRENCY=str(workers), GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_MAX_REQUESTS="0",
        GUNICORN_ERROR_LOG=str(out / f"web-{workers}.log"),
    )  # fmt: skip
    web = subprocess.Popen(
        [str(VENV / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "config.wsgi:application"],
        cwd=ROOT,
        env=env,
    )
    celery = subprocess.Popen(
        [
            str(VENV / "celery"), "-A", "config", "worker", "--concurrency", "1",
            "--queues", "civgrid-loadtest", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
            "--logfile", str(out / "celery.log"),
        ],
        cwd=ROOT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        # ready = answering: gunicorn listens at once, but a worker accepts only once it has built
        # its in-process indexes (post_worker_init in deploy/gunicorn.conf.py)
        deadline = time.monotonic() + 300
        while not _answers(url, token):
            if time.monotonic() > deadline or web.poll() is not None:
                raise SystemExit("gunicorn did not start; see " + str(out))
            time.sleep(0.5)
        yield url, web
    finally:
        for proc in (web, celery):
            proc.terminate()
        for proc in (web, celery):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


class RssSampler(threading.Thread):
    """The resident memory (MiB) of each gunicorn worker, every ``every`` seconds."""

    def __init__(self, master_pid: int, every: float) -> None:
        super().__init__(daemon=True)
        self.master_pid, self.every = master_pid, every
        self.samples: list[tuple[float, dict[int, float]]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        import psutil

        t0 = time.monotonic()
        while not self.stop.is_set():
            try:
                children = psutil.Process(self.master_pid).children()
                rss = {c.pid: c.memory_info().rss / 2**20 for c in children}
            except psutil.Error:
                rss = {}
            self.samples.append((time.monotonic() - t0, rss))
            self.stop.wait(self.every)

    def summary(self) -> dict:
        usable = [(t, s) for t, s in self.samples if s]
        if len(usable) < 3:
            return {"samples": len(usable)}
        first, last = usable[1], usable[-1]  # the first sample may precede the warm-up
        pids = set(first[1]) & set(last[1])
        growth = {pid: last[1][pid] - first[1][pid] for pid in pids}
        return {
            "samples": len(usable),
            "seconds": round(last[0] - first[0], 1),
            "workers_rss_mib_start": [round(first[1][p], 1) for p in sorted(pids)],
            "workers_rss_mib_end": [round(last[1][p], 1) for p in sorted(pids)],
            "max_growth_mib": round(max(growth.values()), 1) if growth else None,
            # the whole curve, to tell a warm-up that levels off from a leak
            "curve_mib": [[round(t), [round(s[p], 1) for p in sorted(pids) if p in s]] for t, s in usable],
            "workers_replaced": len(set(first[1]) ^ set(last[1])),
        }


def locust(
    url: str, users: int, seconds: int, out: Path, tag: str, *, think: float, max_requests: int
) -> dict:
    """One headless locust run; per-endpoint stats from its CSV."""
    prefix = out / tag
    spawn = max(5, users // 10)
    cmd = [
        str(VENV / "locust"), "-f", str(ROOT / "loadtest/locustfile.py"), "--headless", "--host", url,
        "-u", str(users), "-r", str(spawn), "-t", f"{seconds + users // spawn + 2}s", "--reset-stats",
        "--csv", str(prefix), "--only-summary", "--stop-timeout", "10", "--loglevel", "WARNING",
    ]  # fmt: skip
    if EXCLUDE_TAGS:
        cmd += ["--exclude-tags", *EXCLUDE_TAGS]
    env = {
        **os.environ,
        "LOADTEST_FIXTURE": str(out / "fixture.json"),
        "LOADTEST_THINK": str(think),
        "LOADTEST_MAX_REQUESTS": str(max_requests),
    }
    load_before = os.getloadavg()[0]
    with (out / f"{tag}.log").open("wb") as log:
        subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    rows = list(csv.DictReader((out / f"{tag}_stats.csv").open(encoding="utf-8")))
    failures = list(csv.DictReader((out / f"{tag}_failures.csv").open(encoding="utf-8")))

    def row(r: dict) -> dict:
        n = int(r["Request Count"])
        return {
            "requests": n,
            "errors": int(r["Failure Count"]),
            "rps": round(float(r["Requests/s"]), 1),
            "p50_ms": float(r["50%"]) if n else None,
            "p95_ms": float(r["95%"]) if n else None,
            "p99_ms": float(r["99%"]) if n else None,
        }

    load_after = os.getloadavg()[0]
    endpoints = {f"{r['Type']} {r['Name']}": row(r) for r in rows if r["Name"] != "Aggregated"}
    total = next((row(r) for r in rows if r["Name"] == "Aggregated"), {})
    return {
        "users": users,
        "total": total,
        "endpoints": endpoints,
        "failures": [{k: f[k] for k in ("Method", "Name", "Error", "Occurrences")} for f in failures][:20],
        # the machine's 1-minute load average before and after: other work on the same cores
        "loadavg": [round(load_before, 1), round(load_after, 1)],
    }


def _print_run(title: str, result: dict) -> None:
    t = result["total"]
    print(
        f"\n{title}: {t.get('rps')} req/s, {t.get('requests')} requests, {t.get('errors')} errors, "
        f"p50 {t.get('p50_ms')} ms, p95 {t.get('p95_ms')} ms, p99 {t.get('p99_ms')} ms "
        f"(load average {result['loadavg'][0]} → {result['loadavg'][1]} on {os.cpu_count()} cores)"
    )
    print(f"  {'endpoint':<48} {'req':>7} {'err':>5} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6}")
    for name, r in sorted(result["endpoints"].items()):
        print(
            f"  {name:<48} {r['requests']:>7} {r['errors']:>5} {r['rps']:>7} "
            f"{r['p50_ms'] or 0:>6.0f} {r['p95_ms'] or 0:>6.0f} {r['p99_ms'] or 0:>6.0f}"
        )
    for f in result["failures"]:
        print(f"  failure: {f['Method']} {f['Name']} ×{f['Occurrences']}: {f['Error'][:160]}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__.split("\n\n")[0])
    ints = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
    p.add_argument("--users", type=ints, default=[50, 200, 500])
    p.add_argument("--duration", type=int, default=60, help="seconds per user level (after the ramp)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="web processes of the user runs")
    p.add_argument("--max-requests", type=int, default=500_000, help="requests per run at most")
    p.add_argument("--scaling", type=ints, default=[], help="web process counts of the throughput runs")
    p.add_argument("--scaling-users", type=int, default=32)
    p.add_argument("--scaling-duration", type=int, default=45)
    p.add_argument("--soak", type=int, default=0, help="seconds of the soak run (0: none)")
    p.add_argument("--soak-users", type=int, default=TARGET_USERS)
    p.add_argument("--exclude-tags", default="", help="tasks left out of the mix, e.g. heatmap")
    args = p.parse_args(argv)
    # TERM (and Ctrl-C) unwind through the ``serving`` blocks: gunicorn and Celery are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    EXCLUDE_TAGS[:] = [t for t in args.exclude_tags.split(",") if t]

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
    os.environ.setdefault("CIVGRID_CELERY_QUEUE", "civgrid-loadtest")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    from bench.__main__ import ensure_city

    from .prepare import prepare

    ensure_city()  # on a fresh machine: the bench database and its large city, built once

    out = ROOT / ".run" / "loadtest" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out.mkdir(parents=True, exist_ok=True)
    db = settings.DATABASES["default"]
    print(f"==> load test on database {db['NAME']} ({db['HOST'] or 'localhost'}); output in {out}")
    fixture = prepare()
    (out / "fixture.json").write_text(json.dumps(fixture, ensure_ascii=False), encoding="utf-8")
    print(
        f"    {len(fixture['points'])} grid points, {len(fixture['addresses'])} addresses, "
        f"{len(fixture['staff'])} staff, {len(fixture['categories'])} categories; {os.cpu_count()} cores"
    )
    results: dict = {
        "database": db["NAME"],
        "cores": os.cpu_count(),
        "excluded": EXCLUDE_TAGS,
        "users": [],
        "scaling": [],
        "soak": None,
    }

    try:
        if args.users:
            with serving(args.workers, out, fixture["token"]) as (url, _web):
                locust(url, 10, 10, out, "warmup", think=1, max_requests=args.max_requests)
                for users in args.users:
                    r = locust(
                        url, users, args.duration, out, f"u{users}", think=1, max_requests=args.max_requests
                    )
                    r["web_workers"] = args.workers
                    results["users"].append(r)
                    _print_run(f"{users} users, {args.workers} web processes", r)

        for workers in args.scaling:
            with serving(workers, out, fixture["token"]) as (url, _web):
                locust(url, 10, 5, out, f"warm-w{workers}", think=0, max_requests=args.max_requests)
                r = locust(
                    url, args.scaling_users, args.scaling_duration, out, f"w{workers}", think=0,
                    max_requests=args.max_requests,
                )  # fmt: skip
                r["web_workers"] = workers
                results["scaling"].append(r)
                _print_run(f"closed loop, {args.scaling_users} users, {workers} web process(es)", r)

        if args.soak:
            with serving(args.workers, out, fixture["token"]) as (url, web):
                sampler = RssSampler(web.pid, every=15)
                sampler.start()
                r = locust(url, args.soak_users, args.soak, out, "soak", think=1, max_requests=10**9)
                sampler.stop.set()
                sampler.join()
                r["rss"] = sampler.summary()
                results["soak"] = r
                _print_run(f"soak: {args.soak_users} users for {args.soak} s", r)
                print(f"  web worker RSS: {r['rss']}")

    finally:  # the run's key is of no use afterwards: revoke it (nationwide, every scope of the mix)
        from accounts.services import apikey_revoke

        apikey_revoke(prefix=fixture["token"].split("_")[1])
    (out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    for r in results["users"]:
        if r["users"] == TARGET_USERS:
            t = r["total"]
            ok = t.get("errors") == 0 and (t.get("p99_ms") or 1e9) < TARGET_P99_MS
            print(
                f"\ntarget {TARGET_USERS} users: p99 {t.get('p99_ms')} ms (< {TARGET_P99_MS}), "
                f"{t.get('errors')} errors (0): {'met' if ok else 'NOT met'}"
            )
    print(f"results: {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
