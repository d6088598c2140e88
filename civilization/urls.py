from django.urls import path

from .api.views import (
    DensityView,
    DrawConfirmView,
    DrawDetailView,
    DrawExportView,
    DrawListView,
    DrawReplaceView,
    DrawVerifyView,
    DrawVoidView,
    NearView,
    UnitClustersView,
    UnitDetailView,
    UnitExportView,
    UnitHeatmapView,
    UnitImportView,
    UnitListView,
    UnitStatsView,
)

urlpatterns = [
    path("civilization/units", UnitListView.as_view(), name="civ-units"),
    path("civilization/units/<int:pk>", UnitDetailView.as_view(), name="civ-unit"),
    path("civilization/units/heatmap", UnitHeatmapView.as_view(), name="civ-units-heatmap"),
    path("civilization/units/clusters", UnitClustersView.as_view(), name="civ-units-clusters"),
    path("civilization/units/stats", UnitStatsView.as_view(), name="civ-units-stats"),
    path("civilization/units/export", UnitExportView.as_view(), name="civ-units-export"),
    path("civilization/units/import", UnitImportView.as_view(), name="civ-units-import"),
    path("civilization/density", DensityView.as_view(), name="civ-density"),
    path("civilization/near", NearView.as_view(), name="civ-near"),
    path("civilization/draws", DrawListView.as_view(), name="civ-draws"),
    path("civilization/draws/<int:pk>", DrawDetailView.as_view(), name="civ-draw"),
    path("civilization/draws/<int:pk>/confirm", DrawConfirmView.as_view(), name="civ-draw-confirm"),
    path("civilization/draws/<int:pk>/void", DrawVoidView.as_view(), name="civ-draw-void"),
    path("civilization/draws/<int:pk>/replace", DrawReplaceView.as_view(), name="civ-draw-replace"),
    path("civilization/draws/<int:pk>/verify", DrawVerifyView.as_view(), name="civ-draw-verify"),
    path("civilization/draws/<int:pk>/export", DrawExportView.as_view(), name="civ-draw-export"),
]
