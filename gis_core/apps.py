from django.apps import AppConfig


class GisCoreConfig(AppConfig):
    name = "gis_core"
    verbose_name = "GIS 基础（行政区划、点位定位）"

    def ready(self) -> None:
        from .imports.registry import register_layer
        from .io import REGION_LAYER

        register_layer(REGION_LAYER)
