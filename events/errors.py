"""The one error of this app that gis_core.errors does not have: an action the caller's
scopes do not allow on an event they can see (403, in the API's error shape)."""

from __future__ import annotations

from gis_core.errors import ApplicationError

__all__ = ["Forbidden"]


class Forbidden(ApplicationError):
    status = 403
    code = "missing_scope"
