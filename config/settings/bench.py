"""`make bench`: its own database (civgrid_bench) so the large city does not
replace the demo; DEBUG off so timings are production-like."""

from urllib.parse import quote, unquote

from .base import *  # noqa: F403
from .base import DATABASES, RUN_DIR, env

DEBUG = False
SECRET_KEY = "civgrid-bench-key"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
_bench_db = "postgis://postgres@{}/civgrid_bench".format(quote(str(RUN_DIR / "pg" / "sock"), safe=""))
DATABASES["default"] = {**DATABASES["default"], **env.db_url("BENCH_DATABASE_URL", default=_bench_db)}
DATABASES["default"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
DATABASES["default"]["HOST"] = unquote(DATABASES["default"]["HOST"] or "")
# its own Celery queue: a worker started for the bench database (make loadtest) never takes the
# demo's tasks, and the demo worker never takes its
CELERY_TASK_DEFAULT_QUEUE = env("CIVGRID_CELERY_QUEUE", default="civgrid-bench")
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
