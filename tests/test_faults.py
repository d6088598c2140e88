"""Fault tests with real processes (issue 10): what the web processes do when PostgreSQL
restarts, Redis stops or the upload disk fills.

Each run builds its OWN stack, never the shared one under ``.run/``: a PostgreSQL cluster
(``initdb`` into a temporary directory, unix socket only) holding a copy of the test
database (the demo city, ``pg_dump | pg_restore``), a ``redis-server`` on its own socket,
a 2 MB tmpfs as MEDIA_ROOT (mounted when we are root; the disk test is skipped, saying
so, when mounting is impossible), and gunicorn with ``deploy/gunicorn.conf.py`` on a free
loopback port. The tests stop and start those servers under the running web processes.

Decisions tested here (README "## Production"):
* the database gone → JSON 503 with ``Retry-After``; each write is whole or absent; the
  processes reconnect by themselves;
* Redis gone → what does not need it keeps answering: the web UI (sessions live in
  PostgreSQL and are not rate limited: fail open), vector tiles (built instead of read
  from the cache); API-key requests are refused with 503 (rate limits fail closed: an
  unmetered key is worse than a short outage for a machine client);
* the upload disk full → 507 ``insufficient_storage``, no event row, no partial file.

The Celery side of the faults (a worker killed in the middle of a job; a row that kills
every worker) is in ``jobs/tests/test_restart.py``; the slow runs with the real
geocoding and seeding kinds are at the end, run by ``make faults`` (CIVGRID_SLOW_FAULTS=1).
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
import requests
from django.conf import settings
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent
PGBIN = max(Path("/usr/lib/postgresql").iterdir(), key=lambda p: float(p.name)) / "bin"
REDIS_SERVER = shutil.which("redis-server")
IS_ROOT = os.geteuid() == 0
DBNAME = "civgrid_faults"
PASSWORD = "Qx7-Vortex-Lantern-93"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: the postgres account runs it then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if IS_ROOT else cmd


def _wait(what: str, predicate, timeout: float = 30.0, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    pytest.fail(f"timed out waiting for {what}")


# ------------------------------------------------------------------ the throwaway servers
class Postgres:
    """A cluster of our own in a temporary directory (unix socket only, no fsync)."""

    def __init__(self, base: Path) -> None:
        self.base, self.data, self.sock = base, base / "data", base / "sock"

    def init(self) -> None:
        self.sock.mkdir(parents=True)
        if IS_ROOT:
            shutil.chown(self.base, "postgres")
            shutil.chown(self.sock, "postgres")
        subprocess.run(
            _as_postgres([str(PGBIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                          "-E", "UTF8", "--locale=C.UTF-8"]),
            check=True, capture_output=True, cwd="/",
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            # fsync off is safe for a server process crash (written data is in the OS's cache), and
            # fast; synchronous_commit stays on: with it off, a crash loses commits already answered
            # 201, which is exactly what the restart test checks never happens
            conf.write(
                f"listen_addresses = ''\nunix_socket_directories = '{self.sock}'\n"
                "fsync = off\nfull_page_writes = off\n"
            )
        self.start()

    def start(self) -> None:
        subprocess.run(
            _as_postgres([str(PGBIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "log"), "-w",
                          "-t", "60", "start"]),
            check=True, capture_output=True, cwd="/",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            _as_postgres([str(PGBIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]),
            check=False, capture_output=True, cwd="/",
        )  # fmt: skip

    def connect(self, dbname: str = DBNAME) -> psycopg.Connection:
        return psycopg.connect(host=str(self.sock), user="postgres", dbname=dbname, autocommit=True)

    @property
    def url(self) -> str:
        return f"postgis://postgres@{quote(str(self.sock), safe='')}/{DBNAME}"

    def copy_of(self, source: dict) -> None:
        """The database ``source`` (Django connection settings) as ``civgrid_faults`` here."""
        with self.connect("postgres") as conn:
            conn.execute(f'CREATE DATABASE "{DBNAME}"')
        dump = subprocess.Popen(
            [str(PGBIN / "pg_dump"), "-Fc", "-Z0", "-h", source["HOST"], "-U", source["USER"] or "postgres",
             "-d", source["NAME"]],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        restore = subprocess.run(
            [str(PGBIN / "pg_restore"), "--no-owner", "-h", str(self.sock), "-U", "postgres", "-d", DBNAME],
            stdin=dump.stdout, capture_output=True, text=True,
        )  # fmt: skip
        dump.stdout.close()
        assert dump.wait() == 0 and restore.returncode == 0, restore.stderr[-2000:]


class Redis:
    def __init__(self, base: Path) -> None:
        self.base, self.sock = base, base / "redis.sock"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", "0", "--unixsocket", str(self.sock), "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--dir", str(self.base)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait("redis to listen", self.sock.exists, timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.sock.unlink(missing_ok=True)

    @property
    def url(self) -> str:
        return f"unix://{self.sock}?db=0"


@dataclass
class Stack:
    pg: Postgres
    redis: Redis
    base_url: str
    token: str
    media: Path
    media_is_small_fs: bool
    web: subprocess.Popen
    log: Path
    points: list[tuple[float, float]] = field(default_factory=list)
    category: str = ""

    def key(self, **kw) -> dict:
        return {"Authorization": f"Bearer {self.token}", **kw}

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(self.base_url + path, timeout=30, **kw)

    def session(self) -> requests.Session:
        """A logged-in web user (session cookie and CSRF token, as the web pages send them)."""
        s = requests.Session()
        s.get(self.base_url + "/api/v1/auth/login", timeout=30)  # 405, but sets the CSRF cookie
        token = s.cookies["csrftoken"]
        s.headers.update({"X-CSRFToken": token, "Referer": self.base_url + "/"})
        r = s.post(
            self.base_url + "/api/v1/auth/login", json={"username": "faults-web", "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        s.headers["X-CSRFToken"] = s.cookies["csrftoken"]  # rotated at login
        return s


def _mount_small_fs(path: Path) -> bool:
    path.mkdir(parents=True)
    if not IS_ROOT:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


SETUP = f"""
from accounts.services import apikey_issue, user_create
from events.models import EventCategory
from grids.models import UnitGrid
from django.contrib.gis.db.models.functions import PointOnSurface
key = apikey_issue(name="faults", scopes=["locate:read", "events:read", "events:write", "grids:read"],
                   nationwide=True, rate_limit_per_minute=1_000_000)
user_create(username="faults-web", password={PASSWORD!r}, roles=["operator"], nationwide=True)
centres = UnitGrid.objects.annotate(c=PointOnSurface("geom")).values_list("c", flat=True)[:20]
category = EventCategory.objects.filter(parent__isnull=False, active=True).order_by("code")[0].code
print(repr((key.token, [(p.x, p.y) for p in centres], category)))
"""


# the stack copies the test database: the marker makes pytest-django set it up (and point Django at it)
# even when no other selected test uses the database
needs_test_database = pytest.mark.django_db


@pytest.fixture(scope="module")
def stack(django_db_setup) -> Iterator[Stack]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    # not under pytest's tmp_path: its parents are private to us, and the postgres account must reach it
    base = Path(tempfile.mkdtemp(prefix="civgrid-faults-"))
    base.chmod(0o755)
    pg, redis = Postgres(base / "pg"), Redis(base)
    media = base / "media"
    small_fs = _mount_small_fs(media)
    web = None
    try:
        pg.init()
        pg.copy_of(settings.DATABASES["default"] | {"NAME": settings.DATABASES["default"]["TEST"]["NAME"]})
        redis.start()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": pg.url,
            "REDIS_URL": redis.url,
            "DJANGO_MEDIA_ROOT": str(media),
            "PYTHONUNBUFFERED": "1",
        }
        out = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", SETUP],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        token, points, category = eval(out.stdout.strip().splitlines()[-1])  # our own repr
        port = _free_port()
        log = base / "web.log"
        web = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "-c", "deploy/gunicorn.conf.py", "config.wsgi"],
            cwd=ROOT,
            env={
                **env, "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "2", "GUNICORN_BIND": f"127.0.0.1:{port}",
                "GUNICORN_ERROR_LOG": str(log), "GUNICORN_LOG_LEVEL": "info",
            },
        )  # fmt: skip
        s = Stack(pg, redis, f"http://127.0.0.1:{port}", token, media, small_fs, web, log, points, category)

        def up() -> bool:
            try:
                return s.get("/api/v1/locate?lon=0&lat=0", headers=s.key()).status_code == 200
            except requests.RequestException:  # not listening yet, or its workers still warming up
                return False

        _wait("gunicorn to answer", up, timeout=180, every=0.3)
        yield s
    finally:
        if web is not None:
            web.terminate()
            try:
                web.wait(40)  # graceful: gunicorn's graceful_timeout is 30 s
            except subprocess.TimeoutExpired:
                web.kill()
                web.wait(10)
        redis.stop()
        pg.stop("immediate")
        if small_fs:
            subprocess.run(["umount", "-l", str(media)], check=False)
        shutil.rmtree(base, ignore_errors=True)


def _report(s: Stack, requester, marker: str, k: int, files=None) -> requests.Response:
    lon, lat = s.points[k % len(s.points)]
    data = {"category": s.category, "description": f"{marker} {k}", "lon": lon, "lat": lat}
    if files is None:
        return requester.post(s.base_url + "/api/v1/events", json=data, headers=s.key(), timeout=30)
    return requester.post(s.base_url + "/api/v1/events", data=data, files=files, headers=s.key(), timeout=30)


# ------------------------------------------------------------------ PostgreSQL restarts
@needs_test_database
def test_a_postgres_restart_answers_503_and_the_processes_recover(stack):
    marker = f"[faults-{uuid.uuid4().hex[:8]}]"
    answers: list[tuple[str, int, dict, str]] = []  # (kind, status, body, Retry-After)
    stop = threading.Event()

    def traffic(kind: str) -> None:
        k = 0
        with requests.Session() as http:
            while not stop.is_set():
                k += 1
                try:
                    if kind == "write":
                        r = _report(stack, http, marker, k)
                    else:
                        lon, lat = stack.points[k % len(stack.points)]
                        url = f"{stack.base_url}/api/v1/locate?lon={lon}&lat={lat}"
                        r = http.get(url, headers=stack.key(), timeout=30)
                except requests.RequestException as exc:  # the web process itself must not drop us
                    answers.append((kind, 0, {"exception": repr(exc)}, ""))
                    continue
                body = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else {}
                answers.append((kind, r.status_code, body, r.headers.get("Retry-After", "")))
                time.sleep(0.02)

    threads = [threading.Thread(target=traffic, args=(kind,)) for kind in ("write", "write", "read")]
    for t in threads:
        t.start()
    try:
        _wait("some traffic", lambda: sum(1 for a in answers if a[1] in (200, 201)) >= 10)
        stack.pg.stop("immediate")  # a crash: every connection cut at once
        _wait("the web processes to notice", lambda: any(a[1] == 503 for a in answers))
        time.sleep(1.0)
        stack.pg.start()
        restarted = len(answers)
        recovered = lambda: {a[0] for a in answers[restarted:] if a[1] in (200, 201)} == {"write", "read"}  # noqa: E731
        _wait("writes and reads to succeed again", recovered, timeout=30)
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(30)

    statuses = {a[1] for a in answers}
    assert statuses <= {200, 201, 503}, [a for a in answers if a[1] not in (200, 201, 503)][:5]
    down = [a for a in answers if a[1] == 503]
    assert down and all(a[2]["error"]["code"] == "database_unavailable" and a[3] == "5" for a in down), down[
        :3
    ]
    # once it answered again it kept answering (each process recovered without a restart of its own)
    tail = answers[restarted:]
    first_ok = next(i for i, a in enumerate(tail) if a[1] in (200, 201))
    assert all(a[1] in (200, 201) for a in tail[first_ok + 3 :]), tail[first_ok:][:10]

    # no half-written event: every acknowledged report is there whole (its first transition too);
    # a report cut at its commit may be stored without its answer, never partly
    created = {a[2]["properties"]["description"] if "properties" in a[2] else a[2].get("description")
               for a in answers if a[0] == "write" and a[1] == 201}  # fmt: skip
    failed_writes = sum(1 for a in answers if a[0] == "write" and a[1] != 201)
    with stack.pg.connect() as conn:
        rows = conn.execute(
            "SELECT e.description, count(t.id) FROM events_event e LEFT JOIN events_eventtransition t"
            " ON t.event_id = e.id WHERE e.description LIKE %s GROUP BY e.id, e.description",
            [marker + "%"],
        ).fetchall()
    stored = {d for d, _ in rows}
    assert created <= stored
    assert len(stored - created) <= failed_writes
    assert all(n >= 1 for _, n in rows)


# ------------------------------------------------------------------ Redis stops
@needs_test_database
def test_with_redis_stopped_the_web_ui_and_tiles_answer_and_api_keys_fail_closed(stack):
    web = stack.session()
    lon, lat = stack.points[0]
    tile = "/tiles/grids/14/{}/{}.mvt"
    import math

    x = int((lon + 180) / 360 * 2**14)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**14)
    tile = tile.format(x, y)
    assert stack.get(f"/api/v1/locate?lon={lon}&lat={lat}", headers=stack.key()).status_code == 200
    stack.redis.stop()
    try:
        # the web UI: session users are not rate limited, and their sessions live in PostgreSQL
        r = web.get(f"{stack.base_url}/api/v1/locate?lon={lon}&lat={lat}", timeout=30)
        assert r.status_code == 200, r.text
        r = web.get(stack.base_url + tile, timeout=30)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(
            "application/vnd.mapbox-vector-tile"
        )
        r = web.get(f"{stack.base_url}/api/v1/events?lon={lon}&lat={lat}&radius=500&count=true", timeout=30)
        assert r.status_code == 200, r.text
        # API keys: no rate limit can be counted, so none is served (503, never unmetered)
        r = stack.get(f"/api/v1/locate?lon={lon}&lat={lat}", headers=stack.key())
        assert r.status_code == 503 and r.json()["error"]["code"] == "rate_limit_unavailable"
        # a bad key cannot be counted against its address either: refused the same way, not let through
        r = stack.get("/api/v1/locate?lon=0&lat=0", headers={"Authorization": "Bearer cg_nope_nope"})
        assert r.status_code == 503
    finally:
        stack.redis.start()
    _wait(
        "API keys to be served again",
        lambda: stack.get(f"/api/v1/locate?lon={lon}&lat={lat}", headers=stack.key()).status_code == 200,
        timeout=30,
    )


# ------------------------------------------------------------------ the upload disk fills
def _jpeg(size_px: int) -> bytes:
    import numpy as np
    from PIL import Image

    noise = np.random.default_rng(1).integers(0, 255, (size_px, size_px, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(noise).save(out, "JPEG", quality=95)
    return out.getvalue()


@needs_test_database
def test_a_full_upload_disk_is_a_507_with_no_event_and_no_partial_file(stack):
    if not stack.media_is_small_fs:
        pytest.skip("cannot mount a small file system here (not root): the disk-full case is not run")
    marker = f"[disk-{uuid.uuid4().hex[:8]}]"
    photo = _jpeg(400)  # ~0.4 MB
    assert (
        _report(stack, requests, marker, 1, files={"files": ("a.jpg", photo, "image/jpeg")}).status_code
        == 201
    )
    filler = stack.media / "filler.bin"
    with filler.open("wb") as f:  # leave less room than one more photo needs
        free = shutil.disk_usage(stack.media).free
        f.write(b"\0" * max(0, free - len(photo) // 2))
    try:
        before = sorted(p.relative_to(stack.media) for p in stack.media.rglob("*") if p.is_file())
        r = _report(stack, requests, marker, 2, files={"files": ("b.jpg", photo, "image/jpeg")})
        assert r.status_code == 507, r.text
        assert r.json()["error"]["code"] == "insufficient_storage"
        after = sorted(p.relative_to(stack.media) for p in stack.media.rglob("*") if p.is_file())
        assert after == before  # no partial file, no thumbnail left behind
        with stack.pg.connect() as conn:
            stored = [d for (d,) in conn.execute(
                "SELECT description FROM events_event WHERE description LIKE %s", [marker + "%"]
            ).fetchall()]  # fmt: skip
        assert stored == [f"{marker} 1"]  # the refused report left no row
        # and with room again the same report goes through
        filler.unlink()
        assert (
            _report(stack, requests, marker, 3, files={"files": ("c.jpg", photo, "image/jpeg")}).status_code
            == 201
        )
    finally:
        filler.unlink(missing_ok=True)


# ------------------------------------------------------------------ in-process checks
def test_a_csrf_failure_on_login_is_the_json_error_shape(db):
    client = Client(enforce_csrf_checks=True)
    r = client.post("/api/v1/auth/login", {"username": "x", "password": "y"}, content_type="application/json")
    assert r.status_code == 403 and r["Content-Type"] == "application/json"
    assert r.json()["error"]["code"] == "csrf_failed"
    # the admin keeps Django's own page
    r = client.post("/admin/login/", {"username": "x", "password": "y"})
    assert r.status_code == 403 and r["Content-Type"].startswith("text/html")


def test_the_media_storage_leaves_no_partial_file_when_the_disk_fills(tmp_path, monkeypatch):
    """Without a small file system to fill: ENOSPC raised by the write itself, mid-file."""
    from django.core.files.base import ContentFile

    from config.storage import MediaStorage

    storage = MediaStorage(location=str(tmp_path))
    real_fdopen = os.fdopen

    class Full(io.RawIOBase):
        def __init__(self, f) -> None:
            self.f, self.n = f, 0

        def write(self, b) -> int:
            if self.n:
                raise OSError(28, "No space left on device")
            self.n += self.f.write(b[:10])
            raise OSError(28, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *a) -> None:
            self.f.close()

    monkeypatch.setattr(os, "fdopen", lambda fd, mode="r", *a, **k: Full(real_fdopen(fd, mode, *a, **k)))
    with pytest.raises(OSError) as raised:
        storage.save("x/photo.jpg", ContentFile(b"y" * 100_000))
    assert raised.value.errno == 28
    monkeypatch.setattr(os, "fdopen", real_fdopen)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    assert storage.save("x/photo.jpg", ContentFile(b"y" * 10)) == "x/photo.jpg"
