"""Tests for gis_core.names.short_name (pure function: no database)."""

import pytest

from gis_core.names import short_name


@pytest.mark.parametrize(
    ("name", "level", "short"),
    [
        # 省级
        ("四川省", 1, "四川"),
        ("北京市", 1, "北京"),
        ("内蒙古自治区", 1, "内蒙古"),
        ("西藏自治区", 1, "西藏"),
        ("广西壮族自治区", 1, "广西"),
        ("宁夏回族自治区", 1, "宁夏"),
        ("新疆维吾尔自治区", 1, "新疆"),
        ("香港特别行政区", 1, "香港"),
        # 地级
        ("泸州市", 2, "泸州"),
        ("凉山彝族自治州", 2, "凉山"),
        ("延边朝鲜族自治州", 2, "延边"),
        ("黔东南苗族侗族自治州", 2, "黔东南"),
        ("大兴安岭地区", 2, "大兴安岭"),
        ("阿拉善盟", 2, "阿拉善"),
        ("市辖区", 2, "市辖区"),
        # 县级
        ("江阳区", 3, "江阳"),
        ("叙永县", 3, "叙永"),
        ("泸县", 3, "泸县"),  # one character left: kept whole
        ("赵县", 3, "赵县"),
        ("城区", 3, "城区"),
        ("峨边彝族自治县", 3, "峨边"),
        ("滨海新区", 3, "滨海"),
        ("北戴河新区", 3, "北戴河"),
        ("市中区", 3, "市中"),
        ("市辖区", 3, "市辖区"),
        # 乡级
        ("南城街道", 4, "南城"),
        ("东街道", 4, "东街道"),
        ("玉蝉街道办事处", 4, "玉蝉"),
        ("福集镇", 4, "福集"),
        ("张镇", 4, "张镇"),
        ("雪乡", 4, "雪乡"),
        ("于家务回族乡", 4, "于家务"),
        ("长哨营满族乡", 4, "长哨营"),
        ("吉忽伦图苏木", 4, "吉忽伦图"),
        # 村级
        ("白湖社区", 5, "白湖"),
        ("白湖社区居委会", 5, "白湖"),
        ("石桥村委会", 5, "石桥"),
        ("石桥村", 5, "石桥"),
    ],
)
def test_short_name(name, level, short):
    assert short_name(name, level) == short


def test_suffix_only_stripped_at_the_end():
    assert short_name("市中区", 3) == "市中"  # the leading 市 stays
    assert short_name("镇江市", 2) == "镇江"


def test_unknown_level_returns_name():
    assert short_name("测试网格", 6) == "测试网格"
    assert short_name("四川省", 0) == "四川省"
