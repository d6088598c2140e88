"""pytest: the same real PostGIS and Redis, a fast password hasher."""

from .base import *  # noqa: F403
from .base import CACHES

DEBUG = False
SECRET_KEY = "civgrid-test-key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES["default"]["KEY_PREFIX"] = "civgrid-test"
CELERY_TASK_ALWAYS_EAGER = False
# static files come from the app directories (no collectstatic in tests)
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
# parallel test runs (several checkouts or helpers on one server) each name their own database
DATABASES["default"]["TEST"] = {"NAME": env("CIVGRID_TEST_DB", default="test_civgrid")}  # noqa: F405
# ... and their own Celery queue, so a worker started by a test (jobs/tests) takes only its tasks,
# never the demo worker's or another run's
CELERY_TASK_DEFAULT_QUEUE = f"civgrid-{DATABASES['default']['TEST']['NAME']}"  # noqa: F405
