"""/api/v1/exports/maps…: map exports (folium HTML, PNG, PDF) as jobs."""

from django.urls import path

from .api import MapExportCancelView, MapExportDetailView, MapExportFileView, MapExportListView

urlpatterns = [
    path("exports/maps", MapExportListView.as_view(), name="map_export-job-list"),
    path("exports/maps/<uuid:job_id>", MapExportDetailView.as_view(), name="map_export-job-detail"),
    path("exports/maps/<uuid:job_id>/cancel", MapExportCancelView.as_view(), name="map_export-job-cancel"),
    path("exports/maps/<uuid:job_id>/file", MapExportFileView.as_view(), name="map_export-job-result"),
]
