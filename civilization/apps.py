from django.apps import AppConfig


class CivilizationConfig(AppConfig):
    name = "civilization"
    verbose_name = "文明创建"

    def ready(self) -> None:
        from accounts.audit import AUDITED, personal_fields
        from gis_core.imports.registry import register_layer
        from gis_core.signals import boundaries_changed

        from .io import UNIT_LAYER

        register_layer(UNIT_LAYER)
        # a family is shown at its community's point: a redrawn community moves that point
        boundaries_changed.connect(_boundaries_changed, dispatch_uid="civilization.families_replace")
        # writes through the API or the admin are recorded in the audit trail
        AUDITED.update(
            {
                "civilization.civilizationunit",
                "civilization.publiccivilizationunit",
                "civilization.regionpopulation",
                "civilization.assessmentdraw",
                "civilization.drawsite",
                "civilization.drawreplacement",
            }
        )
        # a family's exact place and contact are personal data, in the audit trail too
        for label in ("civilization.civilizationunit", "civilization.publiccivilizationunit"):
            personal_fields(label, ("geom", "address", "contact", "grid_code"), when=_is_family)


def _boundaries_changed(sender, codes, **kwargs) -> None:
    from .services.units import families_replace

    families_replace(region_codes=codes)


def _is_family(values: dict) -> bool:
    return values.get("unit_type") == "family"
