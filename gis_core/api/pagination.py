from django.core.paginator import Paginator
from rest_framework_gis.pagination import GeoJsonPagination

__all__ = ["FeaturePagination"]


class FeaturePagination(GeoJsonPagination):
    """GeoJSON FeatureCollection pages; ``page_size`` up to 1000.

    ``paginate_queryset(..., count=n)`` takes a count already known (a range count summed from
    pre-aggregated cells: :meth:`gis_core.selectors.ranges.RangeFilter.count`) instead of
    counting the queryset again.
    """

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    known_count: int | None = None

    def paginate_queryset(self, queryset, request, view=None, *, count: int | None = None):
        self.known_count = count
        return super().paginate_queryset(queryset, request, view)

    def django_paginator_class(self, object_list, per_page) -> Paginator:  # called as DRF calls the class
        paginator = Paginator(object_list, per_page)
        if self.known_count is not None:
            paginator.__dict__["count"] = self.known_count  # Paginator.count is a cached_property
        return paginator
