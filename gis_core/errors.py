"""The one application error type; the API turns it into the JSON error shape.

``{"error": {"code": ..., "message": ..., "details": ...}}`` with a 4xx status.
Services raise these; views never build error responses by hand.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ApplicationError", "Conflict", "InvalidInput", "NotFound", "TooLarge"]


class ApplicationError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code


class InvalidInput(ApplicationError):
    status = 400
    code = "invalid"


class NotFound(ApplicationError):
    status = 404
    code = "not_found"


class Conflict(ApplicationError):
    status = 409
    code = "conflict"


class TooLarge(ApplicationError):
    status = 413
    code = "too_large"
