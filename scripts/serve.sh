#!/usr/bin/env bash
# Start/stop the web server (gunicorn) and a Celery worker in the background.
#   scripts/serve.sh start [HOST] [PORT] [WORKERS] | stop
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=.run
mkdir -p "$RUN/log"

stop_pid() {
  local f=$1 pid
  pid=$(cat "$f" 2>/dev/null) || true
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"  # the process may remove its own pid file as it exits: wait on the pid read once
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$f"
}

case "${1:-start}" in
  start)
    HOST=${2:-127.0.0.1}; PORT=${3:-8000}; WORKERS=${4:-3}
    stop_pid "$RUN/web.pid"
    stop_pid "$RUN/celery.pid"
    .venv/bin/gunicorn config.wsgi:application --bind "$HOST:$PORT" --workers "$WORKERS" \
      --pid "$RUN/web.pid" --daemon --access-logfile "$RUN/log/web-access.log" \
      --error-logfile "$RUN/log/web.log" --timeout 120
    # --beat: the periodic tasks of CELERY_BEAT_SCHEDULE (the overdue sweep) run in this worker
    .venv/bin/celery -A config worker --detach --concurrency 2 --loglevel INFO \
      --beat --schedule "$RUN/celerybeat-schedule" \
      --pidfile "$RUN/celery.pid" --logfile "$RUN/log/celery.log"
    for _ in $(seq 1 100); do
      curl -fsS -o /dev/null "http://$HOST:$PORT/api/schema/" && break; sleep 0.2
    done
    cat <<MSG

civgrid 演示城市（泸州）已启动：
  指挥中心   http://$HOST:$PORT/ （用上表的演示账号登录：指挥中心、轨迹回放、文明创建、网格员页面）
  API 文档   http://$HOST:$PORT/api/docs/
  管理后台   http://$HOST:$PORT/admin/   （演示账号见上表）
  点位定位   http://$HOST:$PORT/api/v1/locate?lon=105.44&lat=28.87 （先在管理后台登录，或带 API 密钥）
  离线底图   http://$HOST:$PORT/basemap/demo/ （MapProxy：WMTS、TMS/XYZ、WMS；先登录）
  矢量切片   http://$HOST:$PORT/tiles/ （图层列表与 TileJSON）
  日志       $RUN/log/    停止：make stop
MSG
    ;;
  stop)
    stop_pid "$RUN/web.pid"
    stop_pid "$RUN/celery.pid" ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
