"""The Celery app a test starts workers with: the project's app plus the test job kinds.

``celery -A jobs.tests.worker_app worker …`` (see ``test_restart``). Kinds are
registered before the pool forks, so every worker process knows them.
"""

from config.celery import app
from jobs.tests.kinds import register_test_kinds

register_test_kinds()

__all__ = ["app"]
