"""gunicorn settings of a civgrid web host (``gunicorn -c deploy/gunicorn.conf.py config.wsgi``).

Every value can be overridden from the environment, so the systemd unit, `make loadtest`
and a container use the same file.

* ``WEB_CONCURRENCY`` worker processes: one per core. The work is CPU-bound in Python
  (serialising GeoJSON, building tiles' SQL, geocoding) and in PostgreSQL, so more
  processes than cores only add queueing (see BENCHMARKS.md "## Load").
* ``gthread`` workers with ``GUNICORN_THREADS`` threads each: a thread waiting on
  PostGIS or Redis lets another request of the same process use the core, and one slow
  request (an export, a large heatmap) does not block its process's other clients.
  Each thread holds its own database connection (``CONN_MAX_AGE``): a host opens at
  most workers × threads connections; size PostgreSQL's ``max_connections`` (or a
  PgBouncer pool in transaction mode) for every host together.
* ``max_requests`` with jitter recycles a worker after that many requests: a safety net
  against slow leaks in C libraries (GDAL, GEOS), not a cure; the soak run of
  `make loadtest` checks there is no growth without it (``GUNICORN_MAX_REQUESTS=0``).
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
# longer than any client or proxy keeps an idle connection (nginx upstream keepalive_timeout 60 s):
# the client side closes first, so a request is never sent on a connection the server has just
# closed (with 5 s, 8 of 19,548 POSTs of the soak failed with "connection closed")
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
backlog = 2048
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10
# the app is loaded in each worker, not the master: a worker's database and Redis connections
# are its own, and a reload (HUP) picks up new code
preload_app = False
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
# behind the reverse proxy (nginx) on the same host only
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker) -> None:
    """Build the in-process indexes before the worker takes traffic: the address gazetteer
    (geocoding) and the point locator are loaded on first use, which costs the first
    requests of every new worker seconds on a large city (p99 of a fresh worker)."""
    try:
        import numpy as np

        from geocoding.selectors.geocode import gazetteer
        from gis_core.selectors.locate import locate_points_raw

        gazetteer()
        locate_points_raw(np.array([0.0]), np.array([0.0]))
    except Exception:  # a cold cache is slow, not fatal
        worker.log.exception("could not warm the in-process indexes")
    finally:
        from django.db import connections

        connections.close_all()  # the request threads open their own
