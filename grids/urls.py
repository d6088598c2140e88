from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import TopologyView, UnitGridViewSet

router = SimpleRouter()
router.trailing_slash = "/?"  # accept both /regions/5105 and /regions/5105/
router.register("grids", UnitGridViewSet, basename="grid")

urlpatterns = [
    path("grids/topology", TopologyView.as_view(), name="grid-topology"),
    *router.urls,
]
