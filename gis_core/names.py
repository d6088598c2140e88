"""Short forms of region names (“四川省” → “四川”, “江阳区” → “江阳”).

Used for display and, later, by the address parser that meets short forms in
free text. Pure Python. The rules follow the naming conventions of GB/T 2260:
a suffix is dropped only when at least two characters remain (“泸县” stays).
"""

from __future__ import annotations

import re

__all__ = ["short_name"]

_ETHNIC = (
    "壮族|回族|维吾尔|藏族|蒙古族|彝族|苗族|土家族|侗族|布依族|白族|哈尼族|傣族|傈僳族|景颇族|"
    "羌族|朝鲜族|哈萨克|柯尔克孜|黎族|瑶族|仡佬族|水族|纳西族|普米族|怒族|独龙族|拉祜族|佤族|"
    "布朗族|德昂族|阿昌族|畲族|土族|撒拉族|保安族|东乡族|裕固族|达斡尔族|鄂温克族|鄂伦春族|"
    "锡伯族|塔吉克|满族|毛南族|仫佬族|京族|各族"
)
_SUFFIXES = {
    1: r"(?:(?:{e})+自治区|自治区|特别行政区|省|市)$",
    2: r"(?:(?:{e})+自治州|自治州|地区|盟|市)$",
    3: r"(?:(?:{e})+自治县|(?:{e})+自治旗|自治县|自治旗|新区|区|县|市|旗)$",
    4: r"(?:街道办事处|街道|(?:{e})+乡|(?:{e})+镇|镇|乡|苏木)$",
    5: r"(?:社区居委会|居委会|村委会|社区|村)$",
}
_PATTERNS = {level: re.compile(p.format(e=_ETHNIC)) for level, p in _SUFFIXES.items()}


def short_name(name: str, level: int) -> str:
    """The name without its administrative suffix, or the name itself if too short."""
    pattern = _PATTERNS.get(level)
    if not pattern or name == "市辖区":
        return name
    stripped = pattern.sub("", name)
    return stripped if len(stripped) >= 2 else name
