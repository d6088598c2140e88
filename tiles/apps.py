from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TilesConfig(AppConfig):
    name = "tiles"
    verbose_name = "矢量切片与底图"

    def ready(self) -> None:
        from jobs.registry import register_kind

        from . import layers, layers_field  # noqa: F401  (the built-in layer declarations)
        from .basemap.seed import SEED_KIND
        from .basemap.service import basemap_cache_check
        from .triggers import install_after_migrate

        # a bad CIVGRID_BASEMAP_CACHE stops every process (web, worker, manage.py) as it starts,
        # not at the first base-map tile
        basemap_cache_check()
        register_kind(SEED_KIND)
        post_migrate.connect(install_after_migrate, sender=self, dispatch_uid="tiles-triggers")
