"""Inputs of the gazetteer services, and the per-row problems they report."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from shapely.geometry.base import BaseGeometry

from gis_core.errors import InvalidInput

from ...models import PlaceKind

__all__ = [
    "BuildingInput",
    "DoorInput",
    "DoorRef",
    "PlaceInput",
    "PoiInput",
    "PointWhere",
    "RowProblem",
    "clean_aliases",
    "door_suffix",
    "raise_problems",
]


@dataclass(frozen=True)
class DoorRef:
    """A door plate named by its street, number and suffix (大山坪路 12-1 号: "大山坪路", 12, "-1")."""

    street: str
    number: int
    suffix: str = ""

    @property
    def label(self) -> str:
        return f"{self.street}{self.number}{door_suffix(self.suffix)}号"


@dataclass(frozen=True)
class DoorInput:
    street: str  # name or alias of a street in the district containing the point
    number: int
    point: BaseGeometry  # WGS84
    suffix: str = ""


@dataclass(frozen=True)
class PlaceInput:
    name: str
    point: BaseGeometry  # main gate or centre, WGS84
    kind: str = PlaceKind.COMPOUND
    aliases: tuple[str, ...] = field(default=())
    outline: BaseGeometry | None = None
    door: DoorRef | None = None  # the gate's door plate


@dataclass(frozen=True)
class BuildingInput:
    number: str  # 楼号 without 栋/幢
    point: BaseGeometry
    place: str = ""  # compound name (or alias)
    door: DoorRef | None = None


@dataclass(frozen=True)
class PoiInput:
    name: str
    category: str
    point: BaseGeometry
    aliases: tuple[str, ...] = field(default=())
    door: DoorRef | None = None


@dataclass(frozen=True)
class RowProblem:
    index: int  # position in the items (0-based)
    field: str
    message: str


@dataclass(frozen=True)
class PointWhere:
    """The unit grid ("" outside every grid), deepest region and district containing a point."""

    grid_code: str
    region_code: str
    district_code: str

    @property
    def code(self) -> str:
        """The most precise code: the grid's, else the region's (what jurisdiction checks test)."""
        return self.grid_code or self.region_code


def raise_problems(problems: Sequence[RowProblem]) -> None:
    """InvalidInput naming the first bad row, with every problem in ``details["rows"]``."""
    if not problems:
        return
    problems = sorted(problems, key=lambda p: p.index)
    first = problems[0]
    more = f"（共 {len(problems)} 处错误，未写入任何数据）" if len(problems) > 1 else "（未写入任何数据）"
    raise InvalidInput(
        f"第 {first.index + 1} 行：{first.message}{more}",
        details={"rows": [{"row": p.index + 1, "field": p.field, "message": p.message} for p in problems]},
    )


def clean_aliases(aliases: Iterable[str], name: str) -> list[str]:
    """Stripped, distinct aliases in their order, without the name itself."""
    return [a for a in dict.fromkeys(a.strip() for a in aliases) if a and a != name]


def door_suffix(text: str) -> str:
    """Normalized door-plate suffix: "" or "-1" ("1", "之1", "附1", "－1" all become "-1")."""
    text = (text or "").strip().replace("－", "-").replace("—", "-")
    for mark in ("之", "附", "-"):
        text = text.removeprefix(mark)
    return f"-{text}" if text else ""
