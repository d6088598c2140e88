from django.apps import AppConfig


class CivilizationConfig(AppConfig):
    name = "civilization"
    verbose_name = "文明创建"

    def ready(self) -> None:
        from accounts.audit import AUDITED
        from gis_core.imports.registry import register_layer

        from .io import UNIT_LAYER

        register_layer(UNIT_LAYER)
        # writes through the API or the admin are recorded in the audit trail
        AUDITED.update(
            {
                "civilization.civilizationunit",
                "civilization.publiccivilizationunit",
                "civilization.regionpopulation",
                "civilization.assessmentdraw",
                "civilization.drawsite",
            }
        )
