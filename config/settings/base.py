"""Settings shared by every environment; values come from environment variables.

Without DATABASE_URL / REDIS_URL the project talks to the private PostGIS and
Redis that ``scripts/services.sh`` runs under ``.run/`` of the checkout.
"""

from pathlib import Path
from urllib.parse import quote, unquote

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
RUN_DIR = BASE_DIR / ".run"

env = environ.Env()
env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

# ------------------------------------------------------------------ core
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "zh-hans"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# ------------------------------------------------------------------ apps
DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "rest_framework_gis",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "leaflet",
    "axes",
]
LOCAL_APPS = [
    "accounts",
    "gis_core",
    "grids",
    "geocoding",
    "jobs",
    "events",
    "civilization",
    "tiles",
    "demo",
    "webmap",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tiles.fastpath.CachedTileMiddleware",  # cached vector tiles, before sessions and DRF (tiles/fastpath.py)
    "config.middleware.DependencyFailureMiddleware",  # database down: JSON 503; disk full: 507
    "config.db_router.ReplicaReadsMiddleware",  # map/statistics GETs read from the replica, if any
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.audit.AuditContextMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ------------------------------------------------------------------ database
_default_db = "postgis://postgres@{}/civgrid".format(quote(str(RUN_DIR / "pg" / "sock"), safe=""))
DATABASES = {"default": env.db_url("DATABASE_URL", default=_default_db)}
# a unix-socket directory is percent-encoded in the URL's host part
DATABASES["default"]["HOST"] = unquote(DATABASES["default"]["HOST"] or "")
DATABASES["default"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# JIT off for our connections: PostGIS functions are costed so high (the spheroid ST_DWithin of
# every range count) that short queries cross jit_above_cost and spend 0.4-1 s compiling what
# runs in 0.1-0.2 s (BENCHMARKS.md, "Events"); the queries we send are not long analytic ones.
# (Set before the replica below copies these settings.)
# random_page_cost: the planner's default (4) assumes spinning disks; on SSDs (and with the
# tables in the page cache) 1.1 lets it read the pre-aggregated event cells through their key
# index instead of scanning all of them (a range count over 10 M events: 140 -> 55 ms for that part)
# max_parallel_workers_per_gather 0: no parallel query on our connections. A parallel plan
# starts background worker processes for every query (~10 ms before the first row, more than
# the whole of a 500 m range page or count) and, with every core already serving other
# requests, gains nothing: at 200 users it took p99 from 460 ms to 0.9-1.1 s (BENCHMARKS.md,
# "Load", run F). A host running long reports on an otherwise idle database may raise it.
_PAGE_COST = env.float("CIVGRID_PG_RANDOM_PAGE_COST", default=1.1)
_PARALLEL = env.int("CIVGRID_PG_PARALLEL_WORKERS", default=0)
DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
    f"-c jit=off -c random_page_cost={_PAGE_COST:g} -c max_parallel_workers_per_gather={_PARALLEL:d}"
)
# a PostGIS read replica for map tiles, heatmaps and statistics (config.db_router; none by default)
if env("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = {**DATABASES["default"], **env.db_url("DATABASE_REPLICA_URL")}
    DATABASES["replica"]["HOST"] = unquote(DATABASES["replica"]["HOST"] or "")
    DATABASES["replica"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
    DATABASE_ROUTERS = ["config.db_router.ReplicaRouter"]
# GET requests under these paths read the map's data from the replica when there is one. Not
# /tiles/: a tile is cached under the change stamp read from the primary, so it must be built
# from the primary too (a lagging replica would store an old tile under a new stamp)
CIVGRID_REPLICA_PATHS = [
    "/api/v1/events/heatmap", "/api/v1/events/clusters", "/api/v1/events/stats",
    "/api/v1/events/performance", "/api/v1/components/heatmap", "/api/v1/components/clusters",
    "/api/v1/components/stats", "/api/v1/civilization/units/heatmap", "/api/v1/civilization/units/clusters",
    "/api/v1/civilization/units/stats", "/api/v1/civilization/density", "/api/v1/track-stats",
]  # fmt: skip

# ------------------------------------------------------------------ redis, cache, celery
REDIS_URL = env("REDIS_URL", default=f"unix://{RUN_DIR / 'redis.sock'}?db=0")
CACHES = {
    "default": {
        "BACKEND": "config.cache.RedisCache",  # Django's, keeping its Redis clients (config/cache.py)
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "civgrid",
    }
}


def _celery_url(url: str) -> str:
    """Celery (kombu) spells a unix-socket Redis URL ``redis+socket://``."""
    return "redis+socket://" + url[len("unix://") :] if url.startswith("unix://") else url


CELERY_BROKER_URL = _celery_url(REDIS_URL)
CELERY_RESULT_BACKEND = _celery_url(REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
# a task whose worker process dies is redelivered, not acknowledged (jobs resume; see jobs.runner)
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TRACK_STARTED = True
CELERY_TIMEZONE = TIME_ZONE
# periodic tasks (run by `celery -A config beat`, or a worker started with --beat)
CELERY_BEAT_SCHEDULE = {
    # re-enqueue bulk jobs whose worker died or whose message was lost
    "jobs-recover": {"task": "jobs.recover", "schedule": 300.0},
    "events-escalate-overdue": {
        "task": "events.escalate_overdue",
        "schedule": env.float("CIVGRID_ESCALATE_EVERY_S", default=300.0),
    },
    # drop tile change-log rows older than any cached tile (tiles.cache)
    "tiles-prune-changes": {"task": "tiles.prune_changes", "schedule": 3600.0},
    # monthly position partitions made ahead (and old ones detached when a retention is set)
    "grids-positions-partitions": {"task": "grids.positions_partitions", "schedule": 6 * 3600.0},
}

# ------------------------------------------------------------------ static and media
STATIC_URL = "/static/"
STATIC_ROOT = env("DJANGO_STATIC_ROOT", default=str(BASE_DIR / ".run" / "static"))
# front-end packages pinned in package.json (npm), served as /static/vendor/<package>/…: each
# package's own dist folder, never the whole node_modules (webmap pages; no CDN)
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    ("vendor/leaflet", NODE_MODULES / "leaflet" / "dist"),
    ("vendor/leaflet-geoman", NODE_MODULES / "@geoman-io" / "leaflet-geoman-free" / "dist"),
    ("vendor/leaflet-minimap", NODE_MODULES / "leaflet-minimap" / "dist"),
    ("vendor/echarts", NODE_MODULES / "echarts" / "dist"),
    ("vendor/gcoord", NODE_MODULES / "gcoord" / "dist"),  # GCJ-02 ↔ WGS84 for the field page
    # ES modules (no dist folder of their own), mapped by the import map of webmap/base.html
    ("vendor/pbf", NODE_MODULES / "pbf"),
    ("vendor/vector-tile", NODE_MODULES / "@mapbox" / "vector-tile"),
    ("vendor/point-geometry", NODE_MODULES / "@mapbox" / "point-geometry"),
    ("vendor/turf-area", NODE_MODULES / "@turf" / "area" / "dist" / "esm"),
    ("vendor/turf-helpers", NODE_MODULES / "@turf" / "helpers" / "dist" / "esm"),
    ("vendor/turf-meta", NODE_MODULES / "@turf" / "meta" / "dist" / "esm"),
]
MEDIA_URL = "/media/"
MEDIA_ROOT = env("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / ".run" / "media"))
# uploads are written whole or not at all (a full disk leaves no partial file: config.storage)
STORAGES = {
    "default": {"BACKEND": "config.storage.MediaStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024

# ------------------------------------------------------------------ REST framework
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "gis_core.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "gis_core.api.pagination.FeaturePagination",
    # API keys first: its WWW-Authenticate header makes a missing login a 401
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.RequireScope"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.ratelimit.ApiKeyRateThrottle"],
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "civgrid API",
    "DESCRIPTION": "网格化管理与文明创建 GIS 服务 — regions, unit grids, point location, import/export.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # security schemes per operation come from accounts/schema.py (session cookie, bearer key,
    # Open311's api_key parameter)
    # choice sets that share a field name ("status", "kind") get the name of their choices class
    "ENUM_NAME_OVERRIDES": {
        "ComponentStatusEnum": "grids.assets.ComponentStatus",
        "EventKindEnum": "events.models.EventKind",
        "JobStatusEnum": "jobs.models.JobStatus",
        "StaffStatusEnum": "grids.models.StaffStatus",
    },
}

# ------------------------------------------------------------------ authentication
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked accounts and addresses
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.validators.CharacterClassValidator"},
]
# idle timeout: the session expires this long after the last request
SESSION_COOKIE_AGE = env.int("CIVGRID_SESSION_IDLE_MINUTES", default=30) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the web pages read it to send X-CSRFToken
CSRF_FAILURE_VIEW = "config.middleware.csrf_failure"  # the API's JSON error shape, not an HTML 403
# django-axes: lock the account and, separately, the source address after 5 failures
AXES_FAILURE_LIMIT = env.int("CIVGRID_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("CIVGRID_LOCKOUT_MINUTES", default=30) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.lockout_response"
AXES_VERBOSE = False

# ------------------------------------------------------------------ maps (admin widget; no external tiles)
LEAFLET_CONFIG = {
    "DEFAULT_CENTER": (28.87, 105.44),
    "DEFAULT_ZOOM": 11,
    "TILES": [],
    "ATTRIBUTION_PREFIX": "civgrid",
}

# ------------------------------------------------------------------ civgrid
CIVGRID = {
    # Requests carrying more points / features than this are refused with 413.
    "LOCATE_MAX_POINTS": env.int("CIVGRID_LOCATE_MAX_POINTS", default=10_000),
    # Max vertices of one subdivided part in the point-location table.
    "LOCATOR_MAX_VERTICES": 64,
    # Topology check: gaps and overlaps smaller than this (m²) are slivers.
    "SLIVER_MAX_AREA_M2": env.float("CIVGRID_SLIVER_MAX_AREA_M2", default=10.0),
    "IMPORT_MAX_BYTES": env.int("CIVGRID_IMPORT_MAX_BYTES", default=200 * 1024 * 1024),
    # API keys: requests per minute unless the key sets its own limit
    "API_KEY_RATE_PER_MINUTE": env.int("CIVGRID_API_KEY_RATE_PER_MINUTE", default=600),
    # failed API-key authentications per source address and window before 429
    "AUTH_FAILURES_PER_WINDOW": env.int("CIVGRID_AUTH_FAILURES_PER_WINDOW", default=20),
    "AUTH_FAILURE_WINDOW_S": env.int("CIVGRID_AUTH_FAILURE_WINDOW_S", default=600),
    # geocoding: longest address accepted, addresses per batch call, reverse search radius (m)
    "GEOCODE_MAX_CHARS": 500,
    "GEOCODE_BATCH_MAX": env.int("CIVGRID_GEOCODE_BATCH_MAX", default=10_000),
    "REVERSE_RADIUS_M": env.float("CIVGRID_REVERSE_RADIUS_M", default=200.0),
    "REVERSE_MAX_RADIUS_M": 5000.0,
    # bulk jobs: rows per upload for geocoding (the file size cap is IMPORT_MAX_BYTES), rows per
    # committed chunk, and seconds without progress after which a running job counts as abandoned
    "GEOCODE_JOB_MAX_ROWS": env.int("CIVGRID_GEOCODE_JOB_MAX_ROWS", default=200_000),
    "JOB_CHUNK_ROWS": env.int("CIVGRID_JOB_CHUNK_ROWS", default=500),
    "JOB_STALE_AFTER_S": env.int("CIVGRID_JOB_STALE_AFTER_S", default=60),
    # headless Chromium that prints map exports to PNG/PDF (gis_core/mapexport.py; Debian package chromium)
    "CHROMIUM_PATH": env("CIVGRID_CHROMIUM", default="/usr/bin/chromium"),
    # a job whose runs die this many times in a row without committing a chunk (a row that kills
    # its worker: out of memory, a crash in a C library) fails instead of being redelivered forever
    "JOB_MAX_ATTEMPTS": env.int("CIVGRID_JOB_MAX_ATTEMPTS", default=3),
    # events: possible duplicates are open events of the same category within this ground
    # distance (m) reported within this many days; attachments per request and their size caps
    "EVENT_DUPLICATE_RADIUS_M": env.float("CIVGRID_EVENT_DUPLICATE_RADIUS_M", default=50.0),
    "EVENT_DUPLICATE_WINDOW_DAYS": env.float("CIVGRID_EVENT_DUPLICATE_WINDOW_DAYS", default=7.0),
    # an event reported by a point gets the address the reverse geocoder reads within this distance
    "EVENT_REVERSE_RADIUS_M": env.float("CIVGRID_EVENT_REVERSE_RADIUS_M", default=100.0),
    "EVENT_ATTACHMENTS_MAX": env.int("CIVGRID_EVENT_ATTACHMENTS_MAX", default=9),
    "EVENT_IMAGE_MAX_BYTES": env.int("CIVGRID_EVENT_IMAGE_MAX_BYTES", default=10 * 1024 * 1024),
    "EVENT_AUDIO_MAX_BYTES": env.int("CIVGRID_EVENT_AUDIO_MAX_BYTES", default=20 * 1024 * 1024),
    "EVENT_IMAGE_MAX_PIXELS": 50_000_000,  # larger images are refused (decompression bombs)
    "EVENT_THUMBNAIL_PX": 320,
    # a report sent late from an offline phone may carry its own time, at most this old
    "EVENT_REPORT_MAX_AGE_DAYS": env.int("CIVGRID_EVENT_REPORT_MAX_AGE_DAYS", default=30),
    # daily working periods (local time) that working-day and working-hour time limits count
    "WORK_PERIODS": [("08:30", "12:00"), ("14:00", "17:30")],
    # range queries (gis_core.selectors.ranges): largest drawn polygon or line buffer (km², on the
    # ground), largest circle radius and line-buffer distance (m), vertices of one drawn shape,
    # and bins one heatmap or cluster answer may hold
    "RANGE_MAX_AREA_KM2": env.float("CIVGRID_RANGE_MAX_AREA_KM2", default=20_000.0),
    "RANGE_MAX_RADIUS_M": env.float("CIVGRID_RANGE_MAX_RADIUS_M", default=50_000.0),
    "RANGE_MAX_BUFFER_M": env.float("CIVGRID_RANGE_MAX_BUFFER_M", default=5_000.0),
    "RANGE_MAX_VERTICES": env.int("CIVGRID_RANGE_MAX_VERTICES", default=10_000),
    "RANGE_MAX_BINS": env.int("CIVGRID_RANGE_MAX_BINS", default=50_000),
    # vector tiles (tiles/): cells across a tile when a point layer aggregates at low zoom, points
    # per tile beyond which the rest are thinned away, seconds a tile stays in Redis (and the change
    # log is kept), seconds for answers that move with the clock (overdue), a key namespace
    "TILE_CELLS": env.int("CIVGRID_TILE_CELLS", default=32),
    "TILE_MAX_FEATURES": env.int("CIVGRID_TILE_MAX_FEATURES", default=10_000),
    "TILE_CACHE_TTL_S": env.int("CIVGRID_TILE_CACHE_TTL_S", default=86_400),
    "TILE_VOLATILE_TTL_S": env.int("CIVGRID_TILE_VOLATILE_TTL_S", default=60),
    "TILE_CACHE_NAMESPACE": env("CIVGRID_TILE_CACHE_NAMESPACE", default=""),
    # cached tiles answered before sessions and DRF (tiles/fastpath.py); false: always the full view
    "TILE_LEAN_PATH": env.bool("CIVGRID_TILE_LEAN_PATH", default=True),
    # base map (tiles/basemap): MapProxy's configuration and file cache (shared by every web
    # process and the seeding worker), the CJK font of the renderer, optional online upstreams
    # (Tianditu key; JSON list of {"name", "title", "url", "crs": "wgs84"|"gcj02"} XYZ sources)
    "BASEMAP_DIR": env("CIVGRID_BASEMAP_DIR", default=str(RUN_DIR / "basemap")),
    "BASEMAP_FONT": env("CIVGRID_BASEMAP_FONT", default="/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    "TIANDITU_KEY": env("CIVGRID_TIANDITU_KEY", default=""),
    "TIANDITU_URL": env("CIVGRID_TIANDITU_URL", default="http://t0.tianditu.gov.cn"),
    "BASEMAP_UPSTREAMS": env.json("CIVGRID_BASEMAP_UPSTREAMS", default=[]),
    "BASEMAP_SEED_MAX_TILES": env.int("CIVGRID_BASEMAP_SEED_MAX_TILES", default=500_000),
    # where MapProxy stores every base-map cache (tiles/basemap/service.py, checked at start-up):
    # "file" (BASEMAP_DIR/cache_data, the processes of one machine), "redis://host:port/db[?prefix=
    # civgrid:basemap&ttl=0]" or "s3://bucket/prefix" (needs boto3) shared by several machines;
    # the S3 endpoint for MinIO-style object stores (empty: AWS)
    "BASEMAP_CACHE": env("CIVGRID_BASEMAP_CACHE", default="file"),
    "BASEMAP_S3_ENDPOINT": env("CIVGRID_BASEMAP_S3_ENDPOINT", default=""),
    # patrol tracks (grids.services.tracks): positions per ingest request and per uploaded file;
    # cleaning (Traccar-like: oldest and future times accepted, fastest plausible speed, worst
    # accuracy, seconds without a fix after which the speed check is skipped); patrols and stops
    # (a gap longer than TRACK_GAP_S ends a patrol; a stop is TRACK_STOP_MIN_S within
    # TRACK_STOP_RADIUS_M; shorter patrols than TRACK_TRIP_MIN_M / _S are dropped); online = a
    # fix within TRACK_ONLINE_MINUTES; daily targets per person and per grid (a week or month
    # multiplies them by its days); coverage distance (m on the ground);
    # monthly partitions created this many months ahead, and kept this many months (0: all)
    "TRACK_BATCH_MAX": env.int("CIVGRID_TRACK_BATCH_MAX", default=5_000),
    "TRACK_UPLOAD_MAX_POINTS": env.int("CIVGRID_TRACK_UPLOAD_MAX_POINTS", default=200_000),
    "TRACK_MAX_AGE_DAYS": env.float("CIVGRID_TRACK_MAX_AGE_DAYS", default=30.0),
    "TRACK_FUTURE_SKEW_S": env.float("CIVGRID_TRACK_FUTURE_SKEW_S", default=300.0),
    "TRACK_MAX_SPEED_KMH": env.float("CIVGRID_TRACK_MAX_SPEED_KMH", default=120.0),
    "TRACK_MAX_ACCURACY_M": env.float("CIVGRID_TRACK_MAX_ACCURACY_M", default=200.0),
    "TRACK_SPEED_SKIP_AFTER_S": env.float("CIVGRID_TRACK_SPEED_SKIP_AFTER_S", default=1_800.0),
    "TRACK_GAP_S": env.float("CIVGRID_TRACK_GAP_S", default=300.0),
    "TRACK_STOP_RADIUS_M": env.float("CIVGRID_TRACK_STOP_RADIUS_M", default=50.0),
    "TRACK_STOP_MIN_S": env.float("CIVGRID_TRACK_STOP_MIN_S", default=180.0),
    "TRACK_TRIP_MIN_M": env.float("CIVGRID_TRACK_TRIP_MIN_M", default=200.0),
    "TRACK_TRIP_MIN_S": env.float("CIVGRID_TRACK_TRIP_MIN_S", default=60.0),
    "TRACK_ONLINE_MINUTES": env.float("CIVGRID_TRACK_ONLINE_MINUTES", default=10.0),
    "TRACK_TARGET_DAILY_MILEAGE_M": env.float("CIVGRID_TRACK_TARGET_DAILY_MILEAGE_M", default=5_000.0),
    "TRACK_TARGET_DAILY_DURATION_S": env.float("CIVGRID_TRACK_TARGET_DAILY_DURATION_S", default=4 * 3600.0),
    "TRACK_TARGET_GRID_DAILY_MILEAGE_M": env.float("CIVGRID_TRACK_TARGET_GRID_MILEAGE_M", default=2_000.0),
    "TRACK_TARGET_GRID_DAILY_DURATION_S": env.float("CIVGRID_TRACK_TARGET_GRID_DURATION_S", default=3600.0),
    "TRACK_COVERAGE_DISTANCE_M": env.float("CIVGRID_TRACK_COVERAGE_DISTANCE_M", default=30.0),
    "TRACK_PARTITION_MONTHS_AHEAD": env.int("CIVGRID_TRACK_PARTITION_MONTHS_AHEAD", default=2),
    "TRACK_RETENTION_MONTHS": env.int("CIVGRID_TRACK_RETENTION_MONTHS", default=0),
    # cameras (grids.services.cameras): longest viewing range accepted (m); "cameras near this
    # event": default and largest search radius (m on the ground)
    "CAMERA_MAX_RANGE_M": env.float("CIVGRID_CAMERA_MAX_RANGE_M", default=1_000.0),
    "CAMERA_NEAR_RADIUS_M": env.float("CIVGRID_CAMERA_NEAR_RADIUS_M", default=200.0),
    "CAMERA_NEAR_MAX_RADIUS_M": env.float("CIVGRID_CAMERA_NEAR_MAX_RADIUS_M", default=2_000.0),
    "EXPORT_MAX_ROWS": env.int("CIVGRID_EXPORT_MAX_ROWS", default=200_000),
    # assessment-site draws: candidates in one sampling frame, and simple random draws per stratum
    # whose mean spatial balance is stored beside the draw's own
    "DRAW_MAX_FRAME": env.int("CIVGRID_DRAW_MAX_FRAME", default=200_000),
    "DRAW_SRS_REPLICATES": env.int("CIVGRID_DRAW_SRS_REPLICATES", default=100),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}

# Debian 12 ships GDAL 3.6, which cannot block file/network access from spatial
# references (gis.W001); we never pass user-supplied SRS strings to GDAL as paths.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]
