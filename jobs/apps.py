from django.apps import AppConfig


class JobsConfig(AppConfig):
    """Long-running work (bulk geocoding, later imports and tile seeding) as resumable jobs.

    Job kinds are registered by the apps that own them (geocoding registers ``geocode``).
    """

    name = "jobs"
    verbose_name = "批量任务"
