"""Text normalization for Chinese addresses. Pure Python.

* full-width letters, digits and punctuation → half-width (Unicode NFKC);
* traditional characters → simplified, character by character, with the
  OpenCC character table (``TSCharacters``; one-to-one mappings only — an
  address has no phrases that need OpenCC's phrase tables);
* Chinese numerals before a numbering suffix (十二号, 三栋, 二单元, 五〇一室) → digits;
* spaces, punctuation, emoji and control characters dropped.
"""

from __future__ import annotations

import os
import re
import unicodedata
from functools import lru_cache

__all__ = ["chinese_to_int", "normalize"]

_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "○": 0, "两": 2}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUMERAL = "零〇○一二两三四五六七八九十百千"
# a run of numerals counts as a number only before a numbering suffix
_NUMBERED = re.compile(rf"[{_NUMERAL}]+(?=号|號|栋|幢|座|单元|楼|层|室|户|组|巷|弄|排|期|米|公里)")
# the numerals may also follow 第 or 附 (第三, 附二号)
_ORDINAL = re.compile(rf"(?<=[第附之])[{_NUMERAL}]+")
_DROP = re.compile(r"[\s\u3000,，。.、;；:：!！?？'\"“”‘’`~·・()（）\[\]【】{}<>《》|/\\*&^%$@_=+]+")
_DASH = re.compile(r"[‐‑‒–—―─~～]+")


@lru_cache(maxsize=1)
def _t2s_table() -> dict[int, str]:
    import opencc

    path = os.path.join(os.path.dirname(opencc.__file__), "dictionary", "TSCharacters.txt")
    table: dict[int, str] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            trad, _, simp = line.rstrip("\n").partition("\t")
            if len(trad) == 1 and simp:
                table[ord(trad)] = simp.split()[0]
    return table


def chinese_to_int(text: str) -> int | None:
    """“十二” → 12, “一百零五” → 105, “五〇一” → 501 (digit by digit when there is no unit)."""
    if not text or any(c not in _NUMERAL for c in text):
        return None
    if not any(c in _UNITS for c in text):
        return int("".join(str(_DIGITS[c]) for c in text))
    total, digit = 0, None
    for c in text:
        if c in _UNITS:
            total += (1 if digit is None else digit) * _UNITS[c]
            digit = None
        elif _DIGITS[c] == 0:
            digit = None
        else:
            digit = _DIGITS[c]
    return total + (digit or 0)


def _numerals(match: re.Match) -> str:
    value = chinese_to_int(match.group(0))
    return match.group(0) if value is None else str(value)


def normalize(text: str) -> str:
    """The canonical form addresses are parsed in."""
    text = unicodedata.normalize("NFKC", text).translate(_t2s_table())
    text = "".join(c for c in text if unicodedata.category(c)[0] not in "CS")
    text = _DASH.sub("-", _DROP.sub("", text)).replace("#", "号")
    text = _ORDINAL.sub(_numerals, _NUMBERED.sub(_numerals, text))
    return text.upper().strip("-")
