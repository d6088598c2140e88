#!/usr/bin/env bash
# Backups of the project database and the uploaded files (MEDIA_ROOT), and their restore.
#
#   scripts/backup.sh backup             -> $BACKUP_DIR/<UTC time>/ (default backups/); prints the path
#   scripts/backup.sh restore PATH       checks, restores the database and the files, re-counts rows
#   scripts/backup.sh verify PATH        only checks the checksums of the manifest
#
# A backup directory holds
#   database.dump   pg_dump custom format (-Fc) of the whole database
#   media.tar       the files under MEDIA_ROOT
#   manifest.json   time, database, app version (git describe), sha256 and size of both files, and
#                   the row count of every table, counted in the very snapshot pg_dump dumps
#
# The database and MEDIA_ROOT are the ones Django is configured for (DATABASE_URL, DJANGO_MEDIA_ROOT,
# or the private PostGIS under .run/ of scripts/services.sh), read from the settings module
# DJANGO_SETTINGS_MODULE (default config.settings.local).
#
# Restore replaces the public schema as a whole, in ONE transaction: it drops the schema (tables,
# functions, triggers, the postgis extension), then runs the pg_restore script (--no-owner) and
# commits only if every statement succeeded; on any error the database is left as it was. Emptying
# the schema instead of `pg_restore --clean --if-exists` is deliberate: (1) --clean fails on the
# partitioned grids_position table ("cannot drop inherited constraint grids_position_default_pkey",
# pg_dump 15 emits a DROP CONSTRAINT for each partition); (2) it drops only what the dump holds, so
# tables and functions of migrations newer than the backup would survive next to a django_migrations
# table that does not know them, and re-running those migrations would fail. The append-only audit
# table is no obstacle either way: its triggers refuse UPDATE/DELETE/TRUNCATE, not DROP TABLE.
# Uploaded files are unpacked beside MEDIA_ROOT first and swapped in after the commit. Stop the web
# server and the workers first (make stop, then make services): a restore under live writes loses
# them. The database role needs the right to create the postgis extension (superuser on PG 15).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings.local}

PGBIN=/usr/lib/postgresql/$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)/bin
[ -x "$PGBIN/pg_dump" ] || PGBIN=$(dirname "$(command -v pg_dump)")

die() { echo "backup.sh: $*" >&2; exit 1; }

# The connection (as libpq PG* variables, which pg_dump, psql and psycopg all read) and MEDIA_ROOT,
# from the Django settings.
eval "$("$PY" - <<'PY'
import shlex

from django.conf import settings

db = settings.DATABASES["default"]
env = {
    "PGHOST": db.get("HOST") or "",
    "PGPORT": str(db.get("PORT") or ""),
    "PGUSER": db.get("USER") or "",
    "PGPASSWORD": db.get("PASSWORD") or "",
    "PGDATABASE": db["NAME"],
    "MEDIA_ROOT": str(settings.MEDIA_ROOT),
}
for key, value in env.items():
    if value:
        print(f"export {key}={shlex.quote(value)}")
    else:
        print(f"unset {key}")
PY
)"
: "${MEDIA_ROOT:?MEDIA_ROOT is not configured}"

# Row counts of every table (partitioned parents include their partitions), or with --snapshot the
# counts inside a REPEATABLE READ transaction whose exported snapshot pg_dump then dumps.
COUNTS_PY=$(cat <<'PY'
import json, subprocess, sys
import psycopg

SQL = """
SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' ORDER BY 1
"""


def counts(conn):
    tables = [row[0] for row in conn.execute(SQL)]
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


with psycopg.connect("") as conn:
    if len(sys.argv) > 1:  # pg_dump ARGS...: dump and count in one snapshot
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        subprocess.run([*sys.argv[1:], f"--snapshot={snapshot}"], check=True)
    print(json.dumps(counts(conn), sort_keys=True))
PY
)

sha256() { sha256sum "$1" | cut -d' ' -f1; }

do_backup() {
  local root=${BACKUP_DIR:-backups}
  local stamp; stamp=$(date -u +%Y%m%dT%H%M%SZ)
  local dir="$root/$stamp"
  [ ! -e "$dir" ] || die "$dir exists already"
  tmp="$root/.$stamp.partial"  # global: the EXIT trap removes it when the backup fails
  mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT

  # database first, then the files: a file uploaded meanwhile is at worst an orphan in the archive,
  # never a row whose file is missing
  local counts
  counts=$("$PY" -c "$COUNTS_PY" "$PGBIN/pg_dump" -Fc -f "$tmp/database.dump")
  if [ -d "$MEDIA_ROOT" ]; then
    tar -C "$MEDIA_ROOT" -cf "$tmp/media.tar" .
  else
    tar -cf "$tmp/media.tar" --files-from /dev/null
  fi

  local version; version=$(git describe --tags --always --dirty 2>/dev/null || echo unknown)
  local server; server=$("$PGBIN/psql" -X -Atqc "SHOW server_version")
  COUNTS=$counts VERSION=$version SERVER=$server "$PY" - "$tmp" <<'PY'
import datetime, hashlib, json, os, sys, tarfile
from pathlib import Path

out = Path(sys.argv[1])


def describe(name):
    h = hashlib.sha256()
    with open(out / name, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"sha256": h.hexdigest(), "bytes": (out / name).stat().st_size}


with tarfile.open(out / "media.tar") as tar:
    media_files = sum(1 for m in tar if m.isfile())
manifest = {
    "format": 1,
    "created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    "app_version": os.environ["VERSION"],
    "database": {
        "name": os.environ["PGDATABASE"],
        "host": os.environ.get("PGHOST", ""),
        "server_version": os.environ["SERVER"],
    },
    "media_root": os.environ["MEDIA_ROOT"],
    "files": {
        "database.dump": describe("database.dump"),
        "media.tar": {**describe("media.tar"), "files": media_files},
    },
    "tables": json.loads(os.environ["COUNTS"]),
}
(out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
PY
  mv "$tmp" "$dir"
  trap - EXIT
  echo "$dir"
}

manifest_sha() {  # manifest_sha DIR FILE -> the sha256 the manifest records for FILE
  "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["files"][sys.argv[2]]["sha256"])' \
    "$1/manifest.json" "$2"
}

do_verify() {
  local dir=$1 name want got
  [ -f "$dir/manifest.json" ] || die "$dir/manifest.json not found"
  for name in database.dump media.tar; do
    [ -f "$dir/$name" ] || die "$dir/$name not found"
    want=$(manifest_sha "$dir" "$name")
    got=$(sha256 "$dir/$name")
    [ "$want" = "$got" ] || die "$dir/$name: sha256 $got does not match the manifest ($want); not restoring"
  done
  "$PGBIN/pg_restore" -l "$dir/database.dump" >/dev/null || die "$dir/database.dump is not a pg_dump archive"
  echo "checksums ok: $dir"
}

do_restore() {
  local dir=${1:-}
  [ -n "$dir" ] || die "usage: scripts/backup.sh restore PATH  (make restore BACKUP=PATH)"
  dir=${dir%/}
  do_verify "$dir"

  # the files: unpacked beside MEDIA_ROOT (same file system, so the swap is a rename)
  local media=${MEDIA_ROOT%/}
  local old="$media.old-$$"
  staging="$media.restore-$$"  # global: the EXIT trap removes it when the restore fails
  mkdir -p "$(dirname "$media")"
  rm -rf "$staging"; mkdir -p "$staging"
  trap 'rm -rf "$staging"' EXIT
  tar -C "$staging" -xf "$dir/media.tar"

  # the database, in one transaction: COMMIT is sent only when pg_restore produced its whole script;
  # if it fails half-way, psql reaches the end of its input with the transaction open and the server
  # rolls it back when psql disconnects
  echo "==> restoring database $PGDATABASE from $dir/database.dump"
  {
    printf '%s\n' "SET client_min_messages = warning;" "BEGIN;" \
      "DROP SCHEMA IF EXISTS public CASCADE;" "CREATE SCHEMA public;" \
      "ALTER SCHEMA public OWNER TO pg_database_owner;" "GRANT USAGE ON SCHEMA public TO PUBLIC;"
    "$PGBIN/pg_restore" --no-owner -f - "$dir/database.dump" && echo "COMMIT;"
  } | "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -o /dev/null
  "$PGBIN/psql" -X -qc "ANALYZE" >/dev/null

  echo "==> restoring uploaded files into $media"
  if [ -e "$media" ]; then mv "$media" "$old"; fi
  mv "$staging" "$media"
  rm -rf "$old"
  trap - EXIT

  # the rows now in the database against the manifest
  "$PY" -c "$COUNTS_PY" | "$PY" -c '
import json, sys
want = json.load(open(sys.argv[1]))["tables"]
got = json.load(sys.stdin)
bad = [f"{t}: manifest {want.get(t)}, database {got.get(t)}"
       for t in sorted(set(want) | set(got)) if want.get(t) != got.get(t)]
if bad:
    sys.exit("row counts differ after restore:\n  " + "\n  ".join(bad))
print(f"row counts match the manifest ({len(want)} tables, {sum(want.values())} rows)")
' "$dir/manifest.json"
}

case "${1:-}" in
  backup) do_backup ;;
  restore) do_restore "${2:-}" ;;
  verify) do_verify "${2:-}" ;;
  *) echo "usage: $0 backup | restore PATH | verify PATH" >&2; exit 2 ;;
esac
