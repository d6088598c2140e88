"""Text that a spreadsheet would run as a formula, made inert (CSV/Excel injection).

Excel, LibreOffice and WPS evaluate a CSV cell that starts with ``=``, ``+``, ``-`` or ``@``
(and some read a leading tab or carriage return the same way), so a report downloaded as CSV
could run ``=HYPERLINK(…)`` or ``=cmd|…`` typed into an address by anyone. Such text gets a
leading apostrophe, the convention spreadsheets show as text (OWASP "CSV Injection").
Plain numbers (``-12.5``, ``+86``) are left alone: they are data, not formulas.
"""

from __future__ import annotations

import re

__all__ = ["inert"]

_FORMULA_START = re.compile(r"^[=+\-@\t\r]")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def inert(value: str) -> str:
    """``value`` as a spreadsheet will show it, never run it."""
    if _FORMULA_START.match(value) and not _NUMBER.match(value):
        return "'" + value
    return value
