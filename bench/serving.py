"""What the HTTP benchmarks share: a gunicorn worker on loopback, an API key, and
timing GET requests one new connection at a time (as a client without keep-alive
would), with percentiles."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["ROOT", "api_key", "free_port", "gunicorn", "percentiles", "time_get"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentiles(samples: list[float]) -> dict:
    """p50/p95/p99 in milliseconds of durations in seconds."""
    if not samples:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "requests": 0}
    q = np.percentile(np.array(samples) * 1000, [50, 95, 99])
    return {"p50_ms": q[0], "p95_ms": q[1], "p99_ms": q[2], "requests": len(samples)}


def api_key(scopes: list[str], name: str = "bench") -> str:
    """A nationwide key with ``scopes`` and no practical rate limit."""
    from accounts.services import apikey_issue

    return apikey_issue(name=name, scopes=scopes, nationwide=True, rate_limit_per_minute=10_000_000).token


@contextlib.contextmanager
def gunicorn(workers: int = 1, *, deployed: bool = False) -> Iterator[int]:
    """A gunicorn serving config.wsgi on a free loopback port (bench settings); yields the port.

    ``deployed``: with the production settings file (``deploy/gunicorn.conf.py``: gthread
    workers, keep-alive) instead of gunicorn's defaults (sync workers, one request per
    connection)."""
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.bench"}
    if deployed:
        env.setdefault("GUNICORN_MAX_REQUESTS", "0")  # no worker recycled in the middle of a measure
    config = ["-c", str(ROOT / "deploy/gunicorn.conf.py")] if deployed else []
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            *config,
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(10)


def time_get(
    port: int,
    paths: Iterable[str],
    token: str,
    *,
    warmup: int = 50,
    check: Callable[[int, bytes], None] | None = None,
) -> tuple[list[float], Counter]:
    """Seconds per GET (new connection each), the first ``warmup`` left out; and the status counts.

    ``check(status, body)`` may raise to stop on an unexpected answer.
    """
    samples: list[float] = []
    statuses: Counter = Counter()
    for k, path in enumerate(paths):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        t = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        body = resp.read()
        elapsed = time.perf_counter() - t
        conn.close()
        statuses[resp.status] += 1
        if check is not None:
            check(resp.status, body)
        if k >= warmup:  # first requests warm the worker
            samples.append(elapsed)
    return samples, statuses
