"""A scratch database beside the test database, for tests that must run real tools (migrate,
pg_dump, scripts/backup.sh) against a whole database of their own rather than inside the
transaction pytest-django wraps each test in.

Its name derives from the test database's (``CIVGRID_TEST_DB``) so parallel runs do not collide;
it is created empty with PostGIS and dropped afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import psycopg
from django.conf import settings

__all__ = ["ScratchDatabase"]

ROOT = Path(__file__).resolve().parent.parent


class ScratchDatabase:
    def __init__(self, suffix: str) -> None:
        db = settings.DATABASES["default"]
        base = (db.get("TEST") or {}).get("NAME") or f"test_{db['NAME']}"
        worker = os.environ.get("PYTEST_XDIST_WORKER", "")
        self.name = "_".join(p for p in (base, worker, suffix) if p)
        self._db = db

    # ------------------------------------------------------------------ connecting
    def conninfo(self, dbname: str | None = None) -> dict:
        params = {
            "dbname": dbname or self.name,
            "host": self._db.get("HOST") or None,
            "port": self._db.get("PORT") or None,
            "user": self._db.get("USER") or None,
            "password": self._db.get("PASSWORD") or None,
        }
        return {k: v for k, v in params.items() if v}

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(**self.conninfo(), **kwargs)

    def libpq_env(self) -> dict[str, str]:
        """The environment of a libpq client (pg_dump, psql) that should use this database."""
        names = {"dbname": "PGDATABASE", "host": "PGHOST", "port": "PGPORT", "user": "PGUSER"}
        names["password"] = "PGPASSWORD"
        return {**os.environ, **{names[k]: str(v) for k, v in self.conninfo().items()}}

    @property
    def url(self) -> str:
        """DATABASE_URL for a child process (the host may be a unix socket directory)."""
        user = quote(self._db.get("USER") or "", safe="")
        password = self._db.get("PASSWORD") or ""
        auth = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
        host = quote(self._db.get("HOST") or "", safe="")
        port = f":{self._db['PORT']}" if self._db.get("PORT") else ""
        return f"postgis://{auth}{host}{port}/{self.name}"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a child process that should use this database."""
        return {
            **os.environ,
            "DATABASE_URL": self.url,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            **extra,
        }

    # ------------------------------------------------------------------ life cycle
    def _admin(self, sql: str) -> None:
        with psycopg.connect(**self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(sql)

    def create(self) -> None:
        self.drop()
        self._admin(f'CREATE DATABASE "{self.name}"')
        with self.connect(autocommit=True) as conn:
            conn.execute("SET client_min_messages = warning")
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def manage(self, *args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
        """``manage.py ARGS`` against this database; raises with its output when it fails."""
        proc = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc
