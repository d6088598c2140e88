"""Failures of what the web processes depend on, answered in the API's one error shape.

* **The database is gone** (restarting, failed over, out of connections): the
  request answers ``503`` with ``Retry-After`` and ``{"error": {"code":
  "database_unavailable", …}}`` instead of a 500 page. Nothing is half-written:
  every write runs in a transaction, which PostgreSQL rolls back when the
  connection drops. The broken connection is discarded by Django at the end of
  the request (``close_if_unusable_or_obsolete``) and, with
  ``CONN_HEALTH_CHECKS``, checked before the next one reuses it, so the
  process recovers by itself once the server is back.
* **The upload disk is full** (ENOSPC, a quota, a file too large for the file
  system): ``507`` with the code ``insufficient_storage``; the storage
  (:mod:`config.storage`) leaves no partial file and the transaction no row.
* **A CSRF check fails** (``CSRF_FAILURE_VIEW``): a JSON ``403`` with the code
  ``csrf_failed`` instead of Django's HTML page, for the API (the login view is
  the one API view Django's CSRF middleware guards itself) and every other
  path the web pages call with ``fetch``; the admin keeps Django's page.

Errors raised by a view reach :class:`DependencyFailureMiddleware`; errors
raised by another middleware (a session saved after the view, say) are turned
into a response by Django before any middleware sees them, so the project's
``handler500`` (:func:`server_error`) makes the same decision.
"""

from __future__ import annotations

import errno
import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse

from gis_core.api.errors import error_body, json_500

__all__ = [
    "DependencyFailureMiddleware", "csrf_failure", "database_unavailable", "server_error", "storage_full",
]  # fmt: skip

logger = logging.getLogger(__name__)

# seconds a client should wait before retrying: a PostgreSQL restart or a replica promotion
RETRY_AFTER_S = 5

# psycopg's and Django's wrappers of a lost or refused connection (and out of connections); a
# deadlock or a statement timeout is an OperationalError too, and the same answer fits: retry
DB_DOWN = (OperationalError, InterfaceError)
# the upload disk is full, a quota is reached, or a file is larger than the file system allows
DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _is_db_down(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what it wraps) says the database cannot be reached."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, DB_DOWN):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _is_disk_full(exc: BaseException | None) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def storage_full() -> JsonResponse:
    return JsonResponse(
        error_body("insufficient_storage", "服务器存储空间不足，文件未保存，请联系管理员"), status=507
    )


def database_unavailable() -> JsonResponse:
    response = JsonResponse(
        error_body("database_unavailable", "数据库暂时不可用，请稍后重试", {"retry_after": RETRY_AFTER_S}),
        status=503,
    )
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response


class DependencyFailureMiddleware:
    """An exception of a view that means "the database is unreachable" → JSON 503."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if _is_db_down(exception):
            logger.warning("database unavailable on %s %s: %s", request.method, request.path, exception)
            return database_unavailable()
        if _is_disk_full(exception):
            logger.error("upload storage full on %s %s: %s", request.method, request.path, exception)
            return storage_full()
        return None


def server_error(request: HttpRequest):
    """``handler500``: the database being down is a 503, a full disk a 507, else the JSON 500."""
    exc = sys.exc_info()[1]
    if _is_db_down(exc):
        return database_unavailable()
    if _is_disk_full(exc):
        return storage_full()
    return json_500(request)


def csrf_failure(request: HttpRequest, reason: str = ""):
    """``CSRF_FAILURE_VIEW``: the API's error shape, except for the admin's own forms."""
    if request.path.startswith("/admin/"):
        from django.views.csrf import csrf_failure as django_csrf_failure

        return django_csrf_failure(request, reason)
    return JsonResponse(
        error_body(
            "csrf_failed",
            "CSRF 校验失败：请刷新页面后重试（需带 X-CSRFToken 请求头与 csrftoken Cookie）",
            {"reason": reason},
        ),
        status=403,
    )
