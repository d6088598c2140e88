from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import TopologyView, UnitGridViewSet
from .api_staff import GridDepartmentsView, GridTeamView, StaffDetailView, StaffGridsView, StaffListView
from .api_tracks import PositionsView, TrackPlaybackView, TrackStatsView, TrackUploadView

router = SimpleRouter()
router.trailing_slash = "/?"  # accept both /regions/5105 and /regions/5105/
router.register("grids", UnitGridViewSet, basename="grid")

urlpatterns = [
    path("grids/topology", TopologyView.as_view(), name="grid-topology"),
    # grid staff and patrol tracks
    path("grids/<str:code>/team", GridTeamView.as_view(), name="grid-team"),
    path("grids/<str:code>/departments", GridDepartmentsView.as_view(), name="grid-departments"),
    path("grid-staff", StaffListView.as_view(), name="grid-staff-list"),
    path("grid-staff/<int:pk>", StaffDetailView.as_view(), name="grid-staff-detail"),
    path("staff/<int:pk>/grids", StaffGridsView.as_view(), name="staff-grids"),
    path("staff/<int:pk>/track", TrackPlaybackView.as_view(), name="staff-track"),
    path("positions", PositionsView.as_view(), name="positions"),
    path("positions/upload", TrackUploadView.as_view(), name="positions-upload"),
    path("track-stats", TrackStatsView.as_view(), name="track-stats"),
    *router.urls,
]
