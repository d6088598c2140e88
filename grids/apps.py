from django.apps import AppConfig


class GridsConfig(AppConfig):
    name = "grids"
    verbose_name = "单元网格"

    def ready(self) -> None:
        from gis_core.imports.registry import register_layer

        from .io import GRID_LAYER

        register_layer(GRID_LAYER)

        from accounts.audit import AUDITED

        # staff, their grids and grid-bound departments: writes through the API or admin are audited
        AUDITED.update({"grids.gridstaff", "grids.staffassignment", "grids.griddepartment"})
