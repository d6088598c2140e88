from django.apps import AppConfig


class GeocodingConfig(AppConfig):
    name = "geocoding"
    verbose_name = "地名地址"

    def ready(self) -> None:
        from gis_core.imports.registry import register_layer
        from jobs.registry import register_kind

        from .io import GAZETTEER_LAYERS
        from .jobs import GEOCODE_KIND

        for layer in GAZETTEER_LAYERS:
            register_layer(layer)
        register_kind(GEOCODE_KIND)
