#!/usr/bin/env bash
# Private PostGIS and Redis for this checkout, under .run/ (unix sockets only:
# nothing listens on a TCP port, so nothing clashes with servers already
# running). Skipped for whichever of DATABASE_URL / REDIS_URL is set.
#   scripts/services.sh start|stop|status
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN="$ROOT/.run"
mkdir -p "$RUN"
PGBIN=/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -n | tail -1)/bin

as_pg() {  # PostgreSQL refuses to run as root: use the postgres account then
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

pg_dir() {
  # The data directory lives in .run/pg. When root runs us from a path the
  # postgres account cannot reach (e.g. under /root), it lives in /var/tmp
  # and .run/pg links to it.
  if [ "$(id -u)" = 0 ] && [ ! -e "$RUN/pg" ]; then
    if runuser -u postgres -- test -x "$RUN" 2>/dev/null; then
      mkdir -p "$RUN/pg"
    else
      local alt="/var/tmp/civgrid-$(echo "$ROOT" | sha1sum | cut -c1-12)"
      mkdir -p "$alt/pg"; ln -s "$alt/pg" "$RUN/pg"; chown postgres "$alt" "$alt/pg"
    fi
    chown postgres "$RUN/pg/"
  fi
  mkdir -p "$RUN/pg"
  readlink -f "$RUN/pg"  # the real path: the postgres account may not traverse $RUN
}

pg_start() {
  local d; d=$(pg_dir)
  local sock="$d/sock"
  if [ ! -f "$d/data/PG_VERSION" ]; then
    echo "==> initdb $d/data"
    as_pg mkdir -p "$d/data" "$sock"
    as_pg "$PGBIN/initdb" -D "$d/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$d/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$sock'
unix_socket_permissions = 0777
fsync = off
synchronous_commit = off
full_page_writes = off
# the bench city's 10 M events: their hot indexes and cell tables fit in memory, and a bulk
# load does not checkpoint every few seconds (BENCHMARKS.md, Events run 5)
shared_buffers = 3GB
max_wal_size = 8GB
work_mem = 32MB
maintenance_work_mem = 256MB
max_connections = 200
CONF
  fi
  if ! as_pg "$PGBIN/pg_ctl" -D "$d/data" status >/dev/null 2>&1; then
    as_pg "$PGBIN/pg_ctl" -D "$d/data" -l "$d/log" -w -t 60 start >/dev/null
  fi
  for _ in $(seq 1 50); do
    "$PGBIN/pg_isready" -q -h "$sock" -U postgres && break; sleep 0.2
  done
  if ! "$PGBIN/psql" -h "$sock" -U postgres -Atqc "select 1 from pg_database where datname='civgrid'" | grep -q 1; then
    "$PGBIN/createdb" -h "$sock" -U postgres civgrid
  fi
  PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -h "$sock" -U postgres -d civgrid -qc "create extension if not exists postgis" >/dev/null
}

pg_stop() {
  [ -e "$RUN/pg/data/PG_VERSION" ] || return 0
  as_pg "$PGBIN/pg_ctl" -D "$(readlink -f "$RUN/pg")/data" -m fast -w stop >/dev/null 2>&1 || true
}

redis_start() {
  mkdir -p "$RUN/redis"
  if [ -S "$RUN/redis.sock" ] && redis-cli -s "$RUN/redis.sock" ping >/dev/null 2>&1; then return 0; fi
  redis-server --daemonize yes --port 0 --unixsocket "$RUN/redis.sock" --unixsocketperm 700 \
    --dir "$RUN/redis" --pidfile "$RUN/redis.pid" --logfile "$RUN/redis/log" \
    --save 60 1000 --appendonly no >/dev/null
  for _ in $(seq 1 50); do redis-cli -s "$RUN/redis.sock" ping >/dev/null 2>&1 && break; sleep 0.1; done
}

redis_stop() {
  [ -S "$RUN/redis.sock" ] && redis-cli -s "$RUN/redis.sock" shutdown >/dev/null 2>&1 || true
}

case "${1:-start}" in
  start)
    [ -n "${DATABASE_URL:-}" ] || pg_start
    [ -n "${REDIS_URL:-}" ] || redis_start ;;
  stop) pg_stop; redis_stop ;;
  status)
    "$PGBIN/pg_isready" -h "$RUN/pg/sock" -U postgres || true
    redis-cli -s "$RUN/redis.sock" ping || true ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
