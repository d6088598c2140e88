from rest_framework_gis.pagination import GeoJsonPagination

__all__ = ["FeaturePagination"]


class FeaturePagination(GeoJsonPagination):
    """GeoJSON FeatureCollection pages; ``page_size`` up to 1000."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
