"""`make loadtest`: the large demo city (civgrid_bench) served by gunicorn with several
workers and a Celery worker, driven by locust on loopback (see README "## Production")."""
