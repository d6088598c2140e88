"""Administrative division codes (行政区划代码), national statistics form.

The statistics tables code a region in 12 digits, 2+2+2+3+3:
province, prefecture city, county/district, street/town (乡级), community/village
(村级). GB/T 2260 codes (6 digits) and the shorter forms used in the source
tables (2, 4, 9 digits) are padded with zeros. The parent of a region is its code
with the last non-zero segment zeroed, so the whole chain can be derived from a
code without a query. Pure Python: no Django.
"""

from __future__ import annotations

import re

__all__ = [
    "LEVEL_WIDTHS",
    "InvalidCode",
    "ancestor_codes",
    "level_of",
    "pad_code",
    "parent_code",
    "prefix_of",
]

# cumulative digits that identify a region of each level (1 province … 5 community)
LEVEL_WIDTHS = {1: 2, 2: 4, 3: 6, 4: 9, 5: 12}
_DIGITS = re.compile(r"^[0-9]+$")  # ASCII only: \d would accept full-width “５１”


class InvalidCode(ValueError):
    """The string is not an administrative division code."""


def pad_code(code: str | int) -> str:
    """Return the 12-digit form of a 2/4/6/9/12-digit division code."""
    text = str(code).strip()
    if not _DIGITS.match(text) or len(text) not in LEVEL_WIDTHS.values():
        raise InvalidCode(f"“{code}” 不是行政区划代码（应为 2、4、6、9 或 12 位数字）")
    return text.ljust(12, "0")


def level_of(code: str) -> int:
    """Level of a 12-digit code: the deepest segment that is not all zeros."""
    code = pad_code(code)
    for level in (5, 4, 3, 2):
        start = LEVEL_WIDTHS[level - 1]
        if int(code[start : LEVEL_WIDTHS[level]]):
            return level
    if not int(code[:2]):
        raise InvalidCode(f"“{code}” 的省级代码为 00")
    return 1


def prefix_of(code: str, level: int | None = None) -> str:
    """The significant digits of a code (``510502`` for 江阳区), or of its ancestor at ``level``."""
    code = pad_code(code)
    return code[: LEVEL_WIDTHS[level or level_of(code)]]


def parent_code(code: str) -> str | None:
    """12-digit code of the parent region, or None for a province."""
    level = level_of(code)
    if level == 1:
        return None
    return prefix_of(code, level - 1).ljust(12, "0")


def ancestor_codes(code: str) -> list[str]:
    """Codes from the province down to the region itself (inclusive).

    A level with no code of its own (东莞's towns sit directly under the city:
    441900003000) pads to its parent's code, which is listed once.
    """
    level = level_of(code)
    return list(dict.fromkeys(prefix_of(code, lv).ljust(12, "0") for lv in range(1, level + 1)))
