"""The geocoding evaluation set (bench/geocode_eval.py): deterministic, large and
broad enough, and labelled with codes that exist in the national division tables.
No database: the generator reads the CSVs."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from bench.geocode_eval import (
    DIVISIONS_DIR,
    build_evalset,
    chinese_number,
    demo_items,
    fullwidth,
    load_divisions,
)
from gis_core.codes import ancestor_codes, level_of, pad_code

LEVELS = {"province": 1, "city": 2, "district": 3, "street": 4}


@pytest.fixture(scope="module")
def items():
    return build_evalset()


def _table_codes() -> set[str]:
    codes = set()
    for name in ("provinces", "cities", "areas", "streets"):
        with (DIVISIONS_DIR / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
            codes |= {pad_code(row["code"]) for row in csv.DictReader(fh)}
    return codes


def test_deterministic(items):
    again = build_evalset()
    assert [i.as_dict() for i in again] == [i.as_dict() for i in items]
    other = build_evalset(seed=7, n=200, hard=False)
    assert [i.text for i in other] != [i.text for i in items[:200]]


def test_size_and_coverage(items):
    assert len(items) >= 2000
    assert len({i.expected["province"] for i in items}) >= 30
    assert len({i.expected["city"] for i in items}) >= 250
    assert sum("street" in i.expected for i in items) >= 1000
    assert len({i.text for i in items}) >= 0.97 * len(items)
    tags = {t for i in items for t in i.tags}
    for tag in (
        "full", "omit_province", "omit_city", "omit_province_city", "short", "typo_sub", "typo_ins",
        "typo_del", "fullwidth", "cn_numeral", "nearby", "crossing", "separators", "traditional",
        "hard_shared_district", "hard_shared_town", "hard_municipality", "hard_direct_town",
        "hard_province_direct_county", "clean",
    ):  # fmt: skip
        assert tag in tags, tag


def test_labels_are_codes_of_the_tables(items):
    codes = _table_codes()
    for item in items:
        assert item.text.strip()
        deepest = max(item.expected.values(), key=level_of)
        # the labels are exactly the chain of the deepest one, each at its own level
        assert sorted(item.expected.values()) == sorted(ancestor_codes(deepest)), item
        for level, code in item.expected.items():
            assert len(code) == 12 and code in codes, item
            assert level_of(code) == LEVELS[level], item


def test_hard_cases_are_labelled_as_the_region_table_has_them(items):
    by_text = {i.text: i for i in items}
    dongguan = [i for i in items if i.expected.get("city") == "441900000000" and "street" in i.expected]
    assert dongguan and all("district" not in i.expected for i in dongguan)
    jiayuguan = [i for i in items if i.expected.get("city") == "620200000000" and "street" in i.expected]
    assert jiayuguan and all(i.expected["district"] == "620201000000" for i in jiayuguan)
    beijing = [i for i in items if i.expected["province"] == "110000000000" and "district" in i.expected]
    assert beijing and all(i.expected["city"] == "110100000000" for i in beijing)
    assert all("市辖区" not in t for t in by_text)
    shared = [i for i in items if "hard_shared_district" in i.tags]
    div = load_divisions()
    for item in shared:  # the city (a municipality's own name) is always given, in one form or another
        city = div[item.expected["city"]]
        forms = city.forms if city.name != "市辖区" else div[item.expected["province"]].forms
        assert any(form in item.text for form in forms) or "traditional" in item.tags, item


def test_text_helpers():
    assert [chinese_number(n) for n in (1, 10, 12, 20, 105, 110, 1050, 1203)] == [
        "一", "十", "十二", "二十", "一百零五", "一百一十", "一千零五十", "一千二百零三",
    ]  # fmt: skip
    assert fullwidth("12号B座") == "１２号Ｂ座"


@dataclass
class _Door:
    road: str
    number: int
    suffix: str
    lon: float
    lat: float
    grid_code: str = "510502001001001"


def test_demo_items_from_a_plan():
    import shapely

    from demo.citygen import CityPlan, RegionSpec

    square = shapely.MultiPolygon([shapely.box(105.0, 28.0, 105.1, 28.1)])
    city = RegionSpec("510500000000", "泸州市", 2, None, square)
    district = RegionSpec("510502000000", "江阳区", 3, city.code, square)
    street = RegionSpec("510502001000", "南城街道", 4, district.code, square)
    plan = CityPlan(city=city, regions=[district, street], grids=[], roads=[])
    old = SimpleNamespace(city=city, regions=plan.regions, grids=[], roads=[])
    assert demo_items(old) is None  # a plan from before door plates: skipped
    plan.doors = [_Door("江阳中路", n, "", 105.05, 28.05) for n in range(1, 40)]
    plan.door_gaps = [_Door("江阳中路", 41, "", 105.06, 28.06)]
    items = demo_items(plan, doors=20, gaps=5)
    assert demo_items(plan, doors=20, gaps=5) == items
    kinds = Counter(i.meta["kind"] for i in items)
    assert kinds == {"door": 20, "door_gap": 1}
    for item in items:
        assert item.point in ((105.05, 28.05), (105.06, 28.06))
        assert item.expected["city"] == "510500000000"
        assert item.expected.get("district", "510502000000") == "510502000000"
        assert item.expected.get("street", "510502001000") == "510502001000"
        assert item.meta["grid_code"] == "510502001001001"
        assert item.meta["kind"] in item.tags
