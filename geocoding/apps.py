from django.apps import AppConfig


class GeocodingConfig(AppConfig):
    name = "geocoding"
    verbose_name = "地名地址"

    def ready(self) -> None:
        from gis_core.imports.registry import register_layer

        from .io import GAZETTEER_LAYERS

        for layer in GAZETTEER_LAYERS:
            register_layer(layer)
