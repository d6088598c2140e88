from django.urls import path
from rest_framework.routers import SimpleRouter

from .api.views import ExportView, ImportView, LocateView, RegionViewSet

router = SimpleRouter()
router.trailing_slash = "/?"  # accept both /regions/5105 and /regions/5105/
router.register("regions", RegionViewSet, basename="region")

urlpatterns = [
    path("locate", LocateView.as_view(), name="locate"),
    path("import/<str:layer>", ImportView.as_view(), name="import"),
    path("export/<str:layer>", ExportView.as_view(), name="export"),
    *router.urls,
]
