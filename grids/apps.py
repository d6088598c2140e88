from django.apps import AppConfig


class GridsConfig(AppConfig):
    name = "grids"
    verbose_name = "单元网格"

    def ready(self) -> None:
        from gis_core.imports.registry import register_layer

        from .io import GRID_LAYER

        register_layer(GRID_LAYER)

        from .io_assets import CAMERA_LAYER, COMPONENT_LAYER

        register_layer(COMPONENT_LAYER)  # city components (城市部件)
        register_layer(CAMERA_LAYER)  # camera points (视频点位)

        from accounts.audit import AUDITED

        # staff, their grids and grid-bound departments: writes through the API or admin are audited
        AUDITED.update({"grids.gridstaff", "grids.staffassignment", "grids.griddepartment"})
        # city components and cameras (a photo added comes with its component's audited change)
        AUDITED.update({"grids.citycomponent", "grids.camera"})
