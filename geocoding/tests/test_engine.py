"""The address parser and placement on a small hand-made gazetteer (pure Python, no database).

Each hard case of the issue has a test: short forms, omitted levels, shared district
names resolved by context, roads named after places, renamed districts, 市辖区, towns
directly under a prefecture city, full-width and traditional characters, Chinese
numerals, punctuation, direction phrases, typos, interpolation and fallbacks.
"""

from __future__ import annotations

import math

import pytest
from shapely.geometry import LineString

from geocoding.engine.gazetteer import Building, Door, Gazetteer
from geocoding.engine.normalize import chinese_to_int, normalize
from geocoding.engine.parser import parse
from geocoding.engine.placement import place

LUZHOU = (105.44, 28.87)


def _build() -> Gazetteer:
    g = Gazetteer()
    add = g.add_region
    add("510000000000", "四川省", 1, None, "四川")
    add("510500000000", "泸州市", 2, "510000000000", "泸州", point=LUZHOU)
    add("510502000000", "江阳区", 3, "510500000000", "江阳", aliases=["市中区"], point=(105.43, 28.88))
    add("510502001000", "南城街道", 4, "510502000000", "南城", point=(105.44, 28.875))
    add("510502002000", "北城街道", 4, "510502000000", "北城", point=(105.45, 28.885))
    add("510502001001", "白塔社区", 5, "510502001000", "白塔", point=(105.441, 28.876))
    add("510504000000", "龙马潭区", 3, "510500000000", "龙马潭", point=(105.44, 28.92))
    add("510504001000", "小市街道", 4, "510504000000", "小市")
    add("500000000000", "重庆市", 1, None, "重庆")
    add("500100000000", "市辖区", 2, "500000000000")
    add("500103000000", "渝中区", 3, "500100000000", "渝中")
    add("320000000000", "江苏省", 1, None, "江苏")
    add("320100000000", "南京市", 2, "320000000000", "南京")
    add("320106000000", "鼓楼区", 3, "320100000000", "鼓楼", aliases=["下关区"])
    add("320106001000", "宁海路街道", 4, "320106000000", "宁海路")
    add("350000000000", "福建省", 1, None, "福建")
    add("350100000000", "福州市", 2, "350000000000", "福州")
    add("350102000000", "鼓楼区", 3, "350100000000", "鼓楼")
    add("110000000000", "北京市", 1, None, "北京")
    add("110100000000", "市辖区", 2, "110000000000")
    add("110101000000", "东城区", 3, "110100000000", "东城", aliases=["崇文区"])
    add("110101001000", "东华门街道", 4, "110101000000", "东华门")
    add("440000000000", "广东省", 1, None, "广东")
    add("441900000000", "东莞市", 2, "440000000000", "东莞")
    add("441900003000", "南城街道", 4, "441900000000", "南城")  # a town directly under the city
    # roads in 江阳区: 大山坪路 runs east along latitude 28.87, 重庆路 north along longitude 105.44
    dashan = g.add_road(1, "大山坪路", "510502000000", LineString([(105.43, 28.87), (105.45, 28.87)]), "road")
    g.add_road(2, "重庆路", "510502000000", LineString([(105.44, 28.86), (105.44, 28.88)]), "road")
    g.add_road(3, "陕西路", "510504000000", LineString([(105.43, 28.92), (105.45, 28.92)]), "road")
    # doors on 大山坪路: odd north of the road, even south, every ~100 m; 7 and 6 are missing
    step = 0.001
    for i, n in enumerate((1, 3, 5, 9, 11)):
        x = 105.431 + step * (n // 2)
        g.add_door(Door(100 + i, 1, n, "", (x, 28.8701), f"510502001001{i:03d}", "510502001001"))
    for i, n in enumerate((2, 4, 8, 10)):
        x = 105.431 + step * (n // 2 - 1)
        g.add_door(Door(200 + i, 1, n, "", (x, 28.8699), f"510502001001{i:03d}", "510502001001"))
    g.add_door(Door(300, 1, 5, "-1", (105.4335, 28.8702), "510502001001001", "510502001001"))
    g.add_place(
        10, "阳光花园小区", "510502000000", (105.436, 28.872),
        grid_code="510502001001001", region_code="510502001001", door_id=102,
    )  # fmt: skip
    g.add_building(Building(1, 10, None, "3", (105.4362, 28.8722), "510502001001001", "510502001001"))
    g.add_poi(
        20, "泸州市人民医院", "510502000000", (105.442, 28.874), category="医院",
        grid_code="510502001001002", region_code="510502001001",
    )  # fmt: skip
    assert dashan.point is not None
    return g.finish()


GAZ = _build()


def geocode(text: str, context: str | None = None):
    ctx = GAZ.regions[context] if context else None
    parsed = parse(normalize(text), GAZ, context=ctx)
    return parsed, place(parsed, GAZ)


def _metres(a, b) -> float:
    dx = (a[0] - b[0]) * 111_320 * math.cos(math.radians(a[1]))
    return math.hypot(dx, (a[1] - b[1]) * 111_320)


# ------------------------------------------------------------------ normalization
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("四川省瀘州市江陽區", "四川省泸州市江阳区"),  # traditional
        ("大山坪路１２号", "大山坪路12号"),  # full-width digits
        ("大山坪路十二号", "大山坪路12号"),
        ("阳光花园三栋二单元五〇一室", "阳光花园3栋2单元501室"),
        ("四川省 泸州市，江阳区。", "四川省泸州市江阳区"),
        ("第三中学", "第3中学"),
        ("3#楼", "3号楼"),
        ("江阳区😀大山坪路", "江阳区大山坪路"),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("text", "value"), [("十二", 12), ("十", 10), ("二十", 20), ("一百零五", 105), ("五〇一", 501), ("两", 2)]
)
def test_chinese_numerals(text, value):
    assert chinese_to_int(text) == value


def test_normalize_leaves_numerals_in_names():
    assert normalize("二七区") == "二七区"
    assert normalize("九龙坡区") == "九龙坡区"


# ------------------------------------------------------------------ regions
def test_full_address_to_street():
    _, pl = geocode("四川省泸州市江阳区南城街道")
    assert pl.status == "ok"
    assert pl.match_level == "street"
    assert pl.region.code == "510502001000"
    assert pl.components == {
        "province": "四川省",
        "city": "泸州市",
        "district": "江阳区",
        "street": "南城街道",
    }


def test_short_forms_without_suffixes():
    _, pl = geocode("四川泸州江阳")
    assert pl.region.code == "510502000000"
    assert pl.match_level == "district"


def test_omitted_levels():
    _, pl = geocode("江阳区南城街道")
    assert pl.region.code == "510502001000"
    _, pl = geocode("泸州南城街道白塔社区")
    assert pl.region.code == "510502001001"
    assert pl.match_level == "community"


def test_shared_district_name_without_context_is_ambiguous_not_wrong():
    _, pl = geocode("鼓楼区")
    assert pl.status == "ambiguous"
    assert pl.point is None and pl.confidence == 0
    assert len(pl.candidates) == 2


@pytest.mark.parametrize(("text", "code"), [("南京市鼓楼区", "320106000000"), ("福州鼓楼区", "350102000000")])
def test_shared_district_name_resolved_by_city_in_text(text, code):
    _, pl = geocode(text)
    assert pl.status == "ok"
    assert pl.region.code == code


def test_shared_district_name_resolved_by_context_parameter():
    _, pl = geocode("鼓楼区", context="350100000000")
    assert pl.region.code == "350102000000"


def test_shared_district_resolved_by_a_street_only_one_of_them_has():
    _, pl = geocode("鼓楼区宁海路街道")
    assert pl.status == "ok"
    assert pl.region.code == "320106001000"


def test_renamed_district_by_its_former_name():
    _, pl = geocode("北京市崇文区")
    assert pl.region.code == "110101000000"
    assert pl.confidence < geocode("北京市东城区")[1].confidence  # an alias is a little less sure


def test_municipality_with_and_without_shixiaqu():
    for text in ("北京市东城区东华门街道", "北京市市辖区东城区东华门街道", "北京东城东华门"):
        _, pl = geocode(text)
        assert pl.region.code == "110101001000", text


def test_town_directly_under_prefecture_city():
    _, pl = geocode("广东省东莞市南城街道")
    assert pl.region.code == "441900003000"
    # the same town name elsewhere is not confused with it
    _, pl = geocode("泸州市江阳区南城街道")
    assert pl.region.code == "510502001000"


def test_road_named_after_a_place_is_not_a_region():
    _, pl = geocode("泸州市江阳区重庆路")
    assert pl.match_level == "road"
    assert pl.road.name == "重庆路"
    assert pl.region.code == "510502000000"  # not 重庆市


def test_unknown_road_named_after_a_province_stays_a_road():
    _, pl = geocode("泸州市江阳区陕西南路5号")
    assert pl.components["road"] == "陕西南路"
    assert pl.region.code == "510502000000"  # not 陕西
    assert pl.match_level == "district"
    assert "不在地名库" in pl.message


def test_district_and_street_must_nest():
    # 小市街道 is in 龙马潭区, not 江阳区: the parser does not accept it under 江阳区
    _, pl = geocode("江阳区小市街道")
    assert pl.region.code == "510502000000"
    assert pl.components.get("rest") == "小市街道"
    assert pl.confidence < 0.45
    assert "不在江阳区内" in pl.message


# ------------------------------------------------------------------ typos
@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("四川省泸州市江杨区", "510502000000"),  # wrong character
        ("四川省泸州市江阳区南城街到", "510502001000"),  # wrong character in the street
        ("泸州市江阳区南街道", "510502001000"),  # missing character
        ("泸州市江阳区南城城街道", "510502001000"),  # extra character
        ("四川省泸州市龙马谭区", "510504000000"),
    ],
)
def test_one_typo_still_matches_with_lower_confidence(text, code):
    _, pl = geocode(text)
    assert pl.status == "ok"
    assert pl.region.code == code
    clean = geocode("四川省泸州市江阳区")[1]
    assert pl.confidence < clean.confidence


def test_nonsense_is_not_found():
    _, pl = geocode("XYZ随便写写")
    assert pl.status == "not_found"
    assert pl.point is None


# ------------------------------------------------------------------ door level
def test_door_plate_exact():
    _, pl = geocode("四川省泸州市江阳区大山坪路9号")
    assert pl.match_level == "door"
    assert pl.door.number == 9
    assert pl.confidence > 0.9


@pytest.mark.parametrize("text", ["江阳区大山坪路5-1号", "江阳区大山坪路5号附1号", "江阳区大山坪路五号之一"])
def test_door_suffix_forms(text):
    _, pl = geocode(text)
    assert pl.match_level == "door"
    assert (pl.door.number, pl.door.suffix) == (5, "-1")


def test_missing_door_is_interpolated_on_its_side():
    _, pl = geocode("江阳区大山坪路7号")
    assert pl.match_level == "interpolated"
    five = next(d for d in GAZ.doors[1] if d.number == 5 and not d.suffix)
    nine = next(d for d in GAZ.doors[1] if d.number == 9)
    # halfway between 5 and 9, on the odd (north) side
    assert _metres(pl.point, ((five.point[0] + nine.point[0]) / 2, five.point[1])) < 5
    assert pl.point[1] > 28.87
    _, even = geocode("江阳区大山坪路6号")
    assert even.match_level == "interpolated"
    assert even.point[1] < 28.87
    assert pl.confidence < geocode("江阳区大山坪路9号")[1].confidence


def test_door_beyond_the_numbered_range_falls_back_to_the_road():
    _, pl = geocode("江阳区大山坪路99号")
    assert pl.match_level == "road"
    assert pl.road.name == "大山坪路"
    assert pl.confidence < 0.8


def test_chinese_numeral_door_and_fullwidth():
    for text in ("江阳区大山坪路九号", "江阳区大山坪路９号", "江阳区 大山坪路 9 号"):
        _, pl = geocode(text)
        assert pl.match_level == "door" and pl.door.number == 9, text


def test_compound_building_unit_room():
    _, pl = geocode("泸州市江阳区大山坪路5号阳光花园小区3栋2单元501室")
    assert pl.match_level == "building"
    assert pl.building == "3"
    assert (pl.unit, pl.room) == ("2", "501")
    assert pl.components["compound"] == "阳光花园小区"


def test_compound_short_name_and_unknown_building():
    _, pl = geocode("江阳区阳光花园8栋")
    assert pl.match_level == "poi"
    assert pl.match_kind == "compound"
    assert pl.entity.name == "阳光花园小区"


def test_poi():
    _, pl = geocode("泸州市人民医院")
    assert pl.match_level == "poi"
    assert pl.entity.category == "医院"


def test_direction_phrase_offsets_the_point():
    _, cross = geocode("江阳区大山坪路与重庆路交叉口")
    assert cross.match_kind == "intersection"
    assert _metres(cross.point, (105.44, 28.87)) < 1
    _, east = geocode("江阳区大山坪路重庆路路口东50米")
    assert _metres(east.point, (105.44, 28.87)) == pytest.approx(50, abs=1)
    assert east.point[0] > 105.44
    assert east.components["offset"] == "路口东50米"


def test_road_from_another_district_is_not_taken():
    _, pl = geocode("江阳区陕西路")  # 陕西路 is in 龙马潭区
    assert pl.road is None


def test_region_without_point_falls_back_to_its_ancestor():
    _, pl = geocode("龙马潭区小市街道")
    assert pl.match_level == "district"  # 小市街道 has no point: 龙马潭区's
    assert pl.point == (105.44, 28.92)
