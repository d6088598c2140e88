"""scripts/backup.sh (make backup / make restore): a real round trip on a scratch database.

Migrated scratch database + rows (a user, a region with its geometry, append-only audit entries,
a GPS position in the partitioned table) + uploaded files → backup → the data damaged in every way
a restore must undo (rows deleted and added, audit entries appended, a table that the backup does
not know, a file changed, deleted and added) → restore → row counts, values and files as backed up.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.scratchdb import ROOT, ScratchDatabase

SCRIPT = ROOT / "scripts" / "backup.sh"
REGION_WKT = "MULTIPOLYGON(((105.40 28.85,105.46 28.85,105.46 28.90,105.40 28.90,105.40 28.85)))"

AUDIT_SQL = """
INSERT INTO accounts_auditentry (at, actor, source, path, action, object_type, object_id, region_code)
VALUES (now(), 'jiangyang_admin', 'api', '/api/v1/events', 'create', 'events.event', %s, '510502')
"""


@pytest.fixture(scope="module")
def scratch():
    db = ScratchDatabase("backup")
    db.create()
    db.manage("migrate", "--noinput", "--skip-checks", "-v", "0")
    yield db
    db.drop()


def run(db: ScratchDatabase, media: Path, *args: str, backup_dir: Path | None = None):
    env = db.env(DJANGO_MEDIA_ROOT=str(media), BACKUP_DIR=str(backup_dir or media.parent / "backups"))
    return subprocess.run(
        ["bash", str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_of(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}


def count(conn, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def write_data(conn) -> None:
    conn.execute(
        "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, "
        "is_staff, is_active, date_joined) VALUES ('x', false, %s, '', '', '', false, true, now())",
        ["jiangyang_operator"],
    )
    conn.execute(
        "INSERT INTO gis_core_region (code, name, short_name, aliases, level, geom, created_at, updated_at) "
        "VALUES ('510502', '江阳区', '江阳', '{}', 3, ST_GeomFromText(%s, 4326), now(), now())",
        [REGION_WKT],
    )
    for object_id in ("1", "2"):
        conn.execute(AUDIT_SQL, [object_id])
    conn.execute(
        "INSERT INTO grids_position (staff_id, recorded_at, geom, cum_m) "
        "VALUES (1, '2026-05-01 08:00+08', ST_SetSRID(ST_MakePoint(105.44, 28.87), 4326), 0)"
    )


def test_backup_and_restore_round_trip(scratch, tmp_path):
    media = tmp_path / "media"
    (media / "events" / "2026").mkdir(parents=True)
    (media / "events" / "2026" / "现场照片.jpg").write_bytes(bytes(range(256)) * 40)
    (media / "imports").mkdir()
    (media / "imports" / "grids.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    with scratch.connect() as conn:
        write_data(conn)
    before_files = files_of(media)

    # ---- backup
    proc = run(scratch, media, "backup")
    assert proc.returncode == 0, proc.stderr
    backup = Path(proc.stdout.strip().splitlines()[-1])
    assert backup.parent == tmp_path / "backups"
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["database"]["name"] == scratch.name
    assert manifest["app_version"]
    for name in ("database.dump", "media.tar"):
        assert manifest["files"][name]["sha256"] == sha256(backup / name)
    assert manifest["files"]["media.tar"]["files"] == 2
    tables = manifest["tables"]
    with scratch.connect() as conn:
        assert tables == {t: count(conn, t) for t in tables}
        expected_rows = {
            "public.auth_user": 1,
            "public.gis_core_region": 1,
            "public.accounts_auditentry": 2,
            "public.grids_position": 1,
        }
        assert {t: tables[t] for t in expected_rows} == expected_rows
        assert tables["public.django_migrations"] > 0
        geom_before = conn.execute("SELECT ST_AsEWKT(geom) FROM gis_core_region").fetchone()[0]

    # ---- damage: rows deleted, added and appended, a table the backup does not know, files changed
    with scratch.connect() as conn:
        conn.execute("DELETE FROM gis_core_region")
        conn.execute("DELETE FROM grids_position")
        conn.execute("UPDATE auth_user SET username = 'renamed'")
        conn.execute(AUDIT_SQL, ["3"])  # the audit table only grows: the restore must shrink it
        conn.execute("CREATE TABLE later_migration_table (id int)")
    (media / "events" / "2026" / "现场照片.jpg").write_bytes(b"overwritten")
    (media / "imports" / "grids.geojson").unlink()
    (media / "stray.txt").write_text("uploaded after the backup")

    # ---- a damaged backup is refused before anything is touched
    broken = tmp_path / "broken"
    shutil.copytree(backup, broken)
    with open(broken / "media.tar", "r+b") as f:
        f.seek(600)
        f.write(b"X")
    proc = run(scratch, media, "restore", str(broken))
    assert proc.returncode != 0
    assert "does not match the manifest" in proc.stderr
    assert (media / "stray.txt").exists()

    # ---- a dump that breaks off half-way (checksums made to match) rolls back: nothing changes
    (broken / "media.tar").write_bytes((backup / "media.tar").read_bytes())
    dump = (backup / "database.dump").read_bytes()
    (broken / "database.dump").write_bytes(dump[: len(dump) * 2 // 3])
    bent = json.loads((broken / "manifest.json").read_text())
    bent["files"]["database.dump"]["sha256"] = sha256(broken / "database.dump")
    (broken / "manifest.json").write_text(json.dumps(bent))
    proc = run(scratch, media, "restore", str(broken))
    assert proc.returncode != 0
    with scratch.connect() as conn:
        assert count(conn, "accounts_auditentry") == 3
        assert conn.execute("SELECT to_regclass('later_migration_table')").fetchone()[0] is not None
    assert (media / "stray.txt").exists()

    # ---- restore
    proc = run(scratch, media, "restore", str(backup))
    assert proc.returncode == 0, proc.stderr
    assert "row counts match the manifest" in proc.stdout
    with scratch.connect() as conn:
        assert {t: count(conn, t) for t in tables} == tables
        assert conn.execute("SELECT to_regclass('later_migration_table')").fetchone()[0] is None
        assert conn.execute("SELECT username FROM auth_user").fetchone()[0] == "jiangyang_operator"
        assert conn.execute("SELECT ST_AsEWKT(geom) FROM gis_core_region").fetchone()[0] == geom_before
        # the audit trail is append-only again after the restore
        with (
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="审计记录只能追加"),
            conn.transaction(),
        ):
            conn.execute("DELETE FROM accounts_auditentry")
        # sequences continue after the restored rows
        conn.execute(AUDIT_SQL, ["4"])
        assert count(conn, "accounts_auditentry") == 3
    assert files_of(media) == before_files
    assert not list(tmp_path.glob("media.*-*")), "staging or old media directories left behind"
