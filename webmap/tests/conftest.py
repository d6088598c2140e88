"""The browser-test harness: the real server in front of a real Chromium.

- ``web_server`` (session): a copy of the test database (``CREATE DATABASE … TEMPLATE``, so the
  demo city comes along in seconds) with the demo users, served by gunicorn on a free port of
  127.0.0.1 (``config.settings.test``, 2 workers) plus a Celery worker on the copy's own queue.
- ``browser`` (session): Debian's Chromium (``/usr/bin/chromium``, apt package ``chromium``)
  headless, driven by Playwright's sync API — never ``playwright install``.
- ``page_as(username, path="/map/")``: a new browser context signed in as a demo user (the
  session login of the API), its page opened at ``path``. Every request the browser makes is
  recorded; after the test, any request to a host other than 127.0.0.1 fails it, and so do an
  uncaught JavaScript error on the page and a 500 answer of the server (the API never answers 500;
  a deliberate 503 — database or upstream down — is allowed).
- ``screenshot(page, name)`` saves ``artifacts/screenshots/<name>.png`` (gitignored).

The tests talk to the server only over HTTP (browser, or ``page.request`` for the API): what they
compare is what a user gets. The copy is dropped at the end of the session.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from tests.scratchdb import ScratchDatabase

# Playwright's sync API runs an event loop in this thread; Django's ORM would refuse to run here
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(settings.BASE_DIR)
VENV_BIN = ROOT / ".venv" / "bin"
CHROMIUM = os.environ.get("CIVGRID_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
ALLOWED_HOSTS = {"127.0.0.1"}
VIEWPORT = {"width": 1600, "height": 900}


def pytest_collection_modifyitems(items) -> None:
    """A browser test needs the test database built (its copy is what the server serves): marking
    it as a database test is what makes pytest-django set that database up."""
    for item in items:
        if "web_server" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("django_db"):
            item.add_marker(pytest.mark.django_db)


def demo_password(username: str) -> str:
    from demo.services import DEMO_USERS

    return next(password for name, password, _role, _district in DEMO_USERS if name == username)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(what: str, check: Callable[[], bool], logs: list[Path], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    tails = "\n".join(f"--- {log}\n{log.read_text(errors='replace')[-3000:]}" for log in logs if log.exists())
    raise AssertionError(f"timed out waiting for {what}\n{tails}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@dataclass
class WebServer:
    url: str
    database: str
    env: dict[str, str]
    logs: list[Path] = field(default_factory=list)
    procs: list[subprocess.Popen] = field(default_factory=list)

    def manage(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        """``manage.py ARGS`` against the served copy (e.g. to add data the page should show)."""
        proc = subprocess.run(
            [str(VENV_BIN / "python"), "manage.py", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if proc.returncode:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def start(self, name: str, cmd: list[str], log: Path) -> subprocess.Popen:
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs.append(proc)
        self.logs.append(log)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _copy_test_database(copy: ScratchDatabase) -> None:
    """The copy is made from the test database as a template: nobody may be connected to it."""
    from django.db import connection, connections

    template = connection.settings_dict["NAME"]
    connections.close_all()
    copy.drop()
    copy._admin(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{template}' AND pid <> pg_backend_pid()"
    )
    copy._admin(f'CREATE DATABASE "{copy.name}" TEMPLATE "{template}"')


@pytest.fixture(scope="session")
def web_server(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[WebServer]:
    copy = ScratchDatabase("web")
    with django_db_blocker.unblock():
        _copy_test_database(copy)
    tmp = tmp_path_factory.mktemp("web_server")
    port = _free_port()
    env = copy.env(
        # its own Celery queue (config.settings.test names it after CIVGRID_TEST_DB) and tile cache keys
        CIVGRID_TEST_DB=copy.name,
        CIVGRID_TILE_CACHE_NAMESPACE=copy.name,
        DJANGO_MEDIA_ROOT=str(tmp / "media"),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        CIVGRID_BASEMAP_DIR=str(tmp / "basemap"),
        PYTHONUNBUFFERED="1",
    )
    server = WebServer(url=f"http://127.0.0.1:{port}", database=copy.name, env=env)
    try:
        server.manage("demo_users")
        server.start(
            "gunicorn",
            [
                str(VENV_BIN / "gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
                "--workers", "2", "--timeout", "120", "--access-logfile", "-",
            ],
            tmp / "gunicorn.log",
        )  # fmt: skip
        worker_log = tmp / "celery.log"
        server.start(
            "celery",
            [
                str(VENV_BIN / "celery"), "-A", "config", "worker", "--loglevel", "INFO",
                "--concurrency", "1",
                "--queues", f"civgrid-{copy.name}", "--hostname", f"webtest-{port}@%h",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
            ],
            worker_log,
        )  # fmt: skip
        _wait_for("gunicorn", lambda: _answers(f"{server.url}/login/"), server.logs)
        _wait_for("the Celery worker", lambda: b" ready." in worker_log.read_bytes(), server.logs)
        yield server
    finally:
        server.stop()
        copy.drop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh (apt package chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        yield browser
        browser.close()


class BrowserSession:
    """One signed-in browser context, with every request it made and every page error."""

    def __init__(self, browser, server: WebServer, username: str | None) -> None:
        self.server = server
        self.username = username
        self.requests: list[str] = []
        self.page_errors: list[str] = []
        self.context = browser.new_context(
            base_url=server.url, viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        self.context.set_default_timeout(20_000)
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.server_errors: list[str] = []
        self.context.on(
            "response",
            lambda r: self.server_errors.append(f"{r.status} {r.url}") if r.status == 500 else None,
        )
        if username:
            self.login(username)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def login(self, username: str) -> None:
        """The session login of the API (what the login page posts), with the CSRF cookie it needs."""
        self.context.request.get("/login/")
        token = next(c["value"] for c in self.context.cookies() if c["name"] == "csrftoken")
        response = self.context.request.post(
            "/api/v1/auth/login",
            data={"username": username, "password": demo_password(username)},
            headers={"X-CSRFToken": token, "Referer": f"{self.server.url}/login/"},
        )
        assert response.ok, response.text()

    def external_requests(self) -> list[str]:
        outside = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob", "about"):
                continue
            if parts.hostname not in ALLOWED_HOSTS:
                outside.append(url)
        return outside

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def browser_sessions(browser, web_server) -> Iterator[list[BrowserSession]]:
    sessions: list[BrowserSession] = []
    yield sessions
    outside = [url for s in sessions for url in s.external_requests()]
    errors = [f"{s.username}: {e}" for s in sessions for e in s.page_errors]
    server_errors = [f"{s.username}: {e}" for s in sessions for e in s.server_errors]
    for s in sessions:
        s.close()
    assert not outside, f"the browser sent requests outside 127.0.0.1: {outside[:10]}"
    assert not errors, f"uncaught JavaScript errors: {errors[:10]}"
    assert not server_errors, f"the server answered 500: {server_errors[:10]}"


@pytest.fixture
def page_as(browser, web_server, browser_sessions):
    """page_as("jiangyang_operator", "/map/") → a Playwright page signed in as that demo user.

    ``page.cg`` is its :class:`BrowserSession` (``requests``, ``page_errors``, ``context``).
    ``page_as(None, "/login/")`` opens a page without signing in."""

    def open_page(username: str | None, path: str | None = "/map/", wait_until: str = "load"):
        session = BrowserSession(browser, web_server, username)
        browser_sessions.append(session)
        page = session.page
        page.cg = session
        if path:
            page.goto(path, wait_until=wait_until)
        return page

    return open_page


@pytest.fixture
def screenshot() -> Callable:
    """screenshot(page, "center-operator") → artifacts/screenshots/center-operator.png"""

    def take(page, name: str, full_page: bool = False) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
