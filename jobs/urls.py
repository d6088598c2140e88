"""Job routes, one set per kind; each kind is guarded by its own scope."""

from django.urls import path

from .views import JobCancelView, JobDetailView, JobListView, JobResultView

# bulk geocoding reads the gazetteer only: the same scope as the geocode endpoints
GEOCODE = {"kind": "geocode", "required_scopes": dict.fromkeys(("GET", "POST", "DELETE"), "geocode:read")}

urlpatterns = [
    path("geocode/jobs", JobListView.as_view(**GEOCODE), name="geocode-job-list"),
    path("geocode/jobs/<uuid:job_id>", JobDetailView.as_view(**GEOCODE), name="geocode-job-detail"),
    path("geocode/jobs/<uuid:job_id>/cancel", JobCancelView.as_view(**GEOCODE), name="geocode-job-cancel"),
    path("geocode/jobs/<uuid:job_id>/result", JobResultView.as_view(**GEOCODE), name="geocode-job-result"),
]
