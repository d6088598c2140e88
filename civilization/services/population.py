"""Resident population by region and year (常住人口), the denominator of per-capita figures."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from gis_core.codes import InvalidCode, pad_code
from gis_core.errors import InvalidInput
from gis_core.models import Region
from gis_core.signals import model_values, rows_written
from jobs.tabular import open_table

from ..models import RegionPopulation

__all__ = ["PopulationInput", "populations_read", "populations_upsert"]


@dataclass(frozen=True)
class PopulationInput:
    region_code: str
    year: int
    population: int
    source: str = ""


def populations_upsert(*, items: Sequence[PopulationInput]) -> tuple[int, int]:
    """Create or update (region, year) rows — all of them or none; unknown regions are errors."""
    problems = []
    cleaned = []
    for i, item in enumerate(items):
        try:
            code = pad_code(item.region_code)
        except InvalidCode as exc:
            problems.append({"row": i + 1, "field": "code", "message": str(exc)})
            continue
        if not (isinstance(item.year, int) and 1949 <= item.year <= 2100):
            problems.append({"row": i + 1, "field": "year", "message": f"年份无效：{item.year}"})
        if not (isinstance(item.population, int) and item.population >= 0):
            problems.append(
                {"row": i + 1, "field": "population", "message": f"人口应为非负整数：{item.population}"}
            )
        cleaned.append((i, PopulationInput(code, item.year, item.population, item.source[:100])))
    known = set(
        Region.objects.filter(code__in={c.region_code for _, c in cleaned}).values_list("code", flat=True)
    )
    problems += [
        {"row": i + 1, "field": "code", "message": f"区划 {c.region_code} 不存在"}
        for i, c in cleaned
        if c.region_code not in known
    ]
    if problems:
        problems.sort(key=lambda p: p["row"])
        raise InvalidInput(
            f"第 {problems[0]['row']} 行：{problems[0]['message']}（共 {len(problems)} 处错误，未写入）",
            code="invalid_rows",
            details={"rows": problems},
        )
    with transaction.atomic():
        existing = {
            (p.region_code, p.year): p
            for p in RegionPopulation.objects.select_for_update().filter(
                region_code__in={c.region_code for _, c in cleaned}
            )
        }
        before = {p.pk: model_values(p) for p in existing.values()}
        rows = []
        for _, c in cleaned:
            row = existing.get((c.region_code, c.year)) or RegionPopulation(
                region_code=c.region_code, year=c.year
            )
            row.population, row.source = c.population, c.source
            rows.append(row)
        new = [r for r in rows if r.pk is None]
        old = [r for r in rows if r.pk is not None]
        RegionPopulation.objects.bulk_create(new, batch_size=2000)
        RegionPopulation.objects.bulk_update(old, ["population", "source"], batch_size=2000)
        rows_written.send(
            RegionPopulation, changes=[(r.pk, r.region_code, before.get(r.pk), model_values(r)) for r in rows]
        )
    return len(new), len(old)


def _column(columns: list[str], names: Iterable[str]) -> int | None:
    lower = {c.lower().strip(): i for i, c in enumerate(columns)}
    return next((lower[n] for n in names if n in lower), None)


def populations_read(path: Path, *, year: int | None = None, source: str = "") -> list[PopulationInput]:
    """Rows of a CSV/Excel table: 区划代码/code, 年份/year (or ``year``), 人口/常住人口/population."""
    table = open_table(path)
    code_col = _column(table.columns, ("code", "region_code", "区划代码", "代码"))
    pop_col = _column(table.columns, ("population", "人口", "常住人口"))
    year_col = _column(table.columns, ("year", "年份"))
    if code_col is None or pop_col is None or (year_col is None and year is None):
        raise InvalidInput("表格需要 区划代码(code)、人口(population) 列，以及 年份(year) 列或 --year 参数")

    def number(values: list[str], i: int | None) -> int:
        text = values[i] if i is not None and i < len(values) else ""
        try:
            return int(float(text.replace(",", "")))
        except ValueError:
            return -1

    items = []
    for row in table.rows:
        values = row.values
        items.append(
            PopulationInput(
                values[code_col] if code_col < len(values) else "",
                number(values, year_col) if year_col is not None else year,  # type: ignore[arg-type]
                number(values, pop_col),
                source,
            )
        )
    return items
